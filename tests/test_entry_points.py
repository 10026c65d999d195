"""Every entry point keeps one contract: `aebench SUBCOMMAND`, `python -m aebench [SUBCOMMAND]` and
`python -m aebench.X` (the same code path): `--help` exits 0 with a usage line and examples; a
bad argument exits 2 with exactly one line on stderr, `aebench: error: ...`; Ctrl-C exits 130.

In-process through each `main(argv)` (conftest.run_main); one subprocess checks that the fast
paths import neither torch nor Hydra, one runs the bash completion script.
"""
from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_main

from aebench import cli

SUBCOMMANDS = ["restore", "evaluate", "export", "report", "eda", "analyze", "dashboard"]
#: a bad argument for each entry point (all refused before anything runs)
BAD = {"train": ["--no-such-flag"], "restore": ["RUN"], "evaluate": ["RUN", "notanoverride"],
       "export": ["RUN", "--format", "gif"], "report": ["--pivot"], "eda": ["data"],
       "analyze": [], "dashboard": ["my-team/aebench", "--nope"], "completion": ["fish"]}


def _one_error_line(res) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("aebench: error: "), res.stderr[-2000:]
    assert "Traceback" not in res.stderr and not res.stdout.strip()
    return lines[0]


def test_top_level_help_lists_every_subcommand_and_what_make_run_runs(tmp_path):
    res = run_main(cli.main, ["--help"], tmp_path)
    assert res.returncode == 0 and res.stdout.startswith("usage: aebench")
    for name in [*SUBCOMMANDS, "train", "completion"]:  # one line each
        assert re.search(rf"^  {name} +\S", res.stdout, re.M), name
    # `make run` is `aebench -m experiment=benchmark_shapes`, whose models the help names
    assert "-m aebench -m experiment=benchmark_shapes" in (ROOT / "Makefile").read_text()
    import yaml

    preset = yaml.safe_load((ROOT / "conf/experiment/benchmark_shapes.yaml").read_text())
    models = preset["hydra"]["sweeper"]["params"]["model"].split(",")
    line = next(ln for ln in res.stdout.splitlines() if "experiment=benchmark_shapes" in ln)
    assert "make run" in line and all(m in line for m in models), line
    assert "_loader" not in res.stdout  # a shared file of conf/data/, not an option
    assert "data           cifar10, folder, mnist, shapes" in res.stdout


def test_version_is_the_package_version(tmp_path):
    from importlib.metadata import version

    for argv in (["--version"], ["-V"], ["train", "--version"]):
        res = run_main(cli.main, argv, tmp_path)
        assert res.returncode == 0 and res.stdout.strip() == f"aebench {version('aebench')}"


@pytest.mark.parametrize("name", [*SUBCOMMANDS, "train", "completion"])
def test_every_subcommand_help_shows_usage_and_an_example(tmp_path, name):
    res = run_main(cli.main, [name, "--help"], tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("usage: aebench"), res.stdout[:300]
    assert "examples:" in res.stdout and f"aebench {name if name != 'train' else ''}" in res.stdout
    if name in SUBCOMMANDS:  # python -m aebench.X: the same parser, the same page
        same = run_main(importlib.import_module(f"aebench.{name}").main, ["--help"], tmp_path)
        assert same.returncode == 0 and same.stdout == res.stdout


@pytest.mark.parametrize("name", [*SUBCOMMANDS, "train", "completion"])
def test_a_bad_argument_is_one_line_and_exit_2_at_every_entry_point(tmp_path, name):
    line = _one_error_line(run_main(cli.main, [name, *BAD[name]], tmp_path))
    assert name in line or name == "train"
    if name in SUBCOMMANDS:
        assert _one_error_line(run_main(importlib.import_module(f"aebench.{name}").main,
                                        BAD[name], tmp_path)) == line
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("argv,says", [
    (["restor", "RUN"], "did you mean restore?"),  # a mistyped subcommand
    (["lattent=3"], "lattent is not a key of this config; did you mean latent?"),
    (["train", "-m", "blurr=1,2"], "did you mean blur?"),
    (["eda", "data=shapes", "blurr=2"], "did you mean blur?"),
    (["--cfg", "jobs"], "choose one of job, hydra, all"),
    (["eda", "-m", "data=mnist,cifar10"], "eda runs one job"),
])
def test_typos_at_every_level_get_one_line_before_anything_runs(tmp_path, argv, says):
    assert says in _one_error_line(run_main(cli.main, argv, tmp_path))
    assert not list(tmp_path.iterdir())  # no outputs/, no multirun/ (no leaderboard, report)


def test_interrupt_exits_130_and_a_refused_folder_is_one_line(tmp_path, monkeypatch):
    import aebench.report

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(aebench.report, "command", interrupted)
    res = run_main(cli.main, ["report", str(tmp_path)], tmp_path)
    assert res.returncode == 130 and res.stderr.strip() == "aebench: interrupted"
    monkeypatch.undo()
    line = _one_error_line(run_main(aebench.report.main, [str(tmp_path / "none")], tmp_path))
    assert "no metrics.json" in line  # was exit 1 with its own prefix


def test_train_help_and_cfg_job_keep_hydras_syntax(tmp_path):
    res = run_main(cli.main, ["model=cnn", "latent=64", "--help"], tmp_path)
    assert res.returncode == 0 and "aebench.core.models.cnn.ConvAutoencoder" in res.stdout
    assert "_loader" not in res.stdout
    res = run_main(cli.main, ["train", "model=cnn", "latent=64", "--cfg", "job"], tmp_path)
    assert res.returncode == 0 and "latent: 64" in res.stdout
    assert not list(tmp_path.iterdir())


def test_fast_paths_import_neither_torch_nor_hydra(tmp_path):
    """--help, --version and the argparse subcommands' --help and errors (eda and analyze
    excepted: their modules import torch) in one real process."""
    code = ("import sys, contextlib, io\nfrom aebench.cli import main\n"
            f"for argv in {[['--help'], ['--version'], ['completion', 'bash'], ['restor']] + [[n, '--help'] for n in ('restore', 'evaluate', 'export', 'report', 'dashboard', 'completion')] + [['export', 'RUN', '--format', 'gif']]!r}:\n"
            "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            "        try:\n            main(argv)\n        except SystemExit:\n            pass\n"
            "print(sorted(m for m in ('torch', 'hydra', 'pytorch_lightning') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr


def test_bash_completion_completes_subcommands_groups_options_and_keys(tmp_path):
    """The script `aebench completion bash` prints, run by bash as it runs on <TAB> (bash splits
    words at '=': COMP_WORDS holds `model`, `=`, `c` for `model=c`)."""
    res = run_main(cli.main, ["completion", "bash"], tmp_path)
    assert res.returncode == 0 and "complete -o default -o nospace -F" in res.stdout
    script = tmp_path / "aebench.bash"
    script.write_text(res.stdout)
    bin_dir = Path(sys.executable).parent  # the installed `aebench` command
    assert (bin_dir / "aebench").exists()
    cases = [("aebench re", "aebench re"), ("aebench model=c", "aebench model = c"),
             ("aebench -m model=cnn,u", "aebench -m model = cnn,u"),
             ("aebench data=mnist data.ba", "aebench data = mnist data.ba"),
             ("aebench restore RUN --ou", "aebench restore RUN --ou")]
    lines = [f"source {script}"]
    for line, words in cases:
        lines.append(f'COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}; COMP_WORDS=({words}); '
                     'COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _aebench_complete; '
                     'echo "${COMPREPLY[*]}"')
    out = subprocess.run(["bash", "-c", "\n".join(lines)], capture_output=True, text=True,
                         timeout=60, env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)},
                         cwd=tmp_path).stdout.splitlines()
    assert out[0].split() == ["report", "restore", "resume="]
    assert {"cnn", "cnn_small", "convlstm"} <= set(out[1].split()) and "lstm" not in out[1].split()
    assert set(out[2].split()) == {"cnn,unet", "cnn,unet_attn", "cnn,unet_small", "cnn,unsharp"}
    assert out[3].split() == ["data.batch_size="]
    assert out[4].split() == ["--out"]

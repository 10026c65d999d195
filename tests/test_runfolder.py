"""A run folder is input, not code: a crafted `.hydra/overrides.yaml` (or metrics.json
`overrides`) that names a Python callable is refused, with one line, by every command that reads
a run folder (restore, evaluate, export, analyze, resume=), and nothing it names is called."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from trained_runs import exit_code

CALLS: list = []


def probe(path: str = "", **kwargs):
    """What a crafted folder names as its `_target_`: leaves a mark if it is ever called."""
    CALLS.append(path)
    if path:
        Path(path).write_text("called")
    return None


#: the identity row on shapes: no checkpoint, no data set needed to rebuild it
OWN = ["data=shapes", "model=identity", "callbacks=none", "logger=none"]


def crafted(tmp_path: Path, evil: list[str], where: str = "overrides.yaml") -> Path:
    """A finished-looking run folder whose overrides hold `evil` lines."""
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    metrics = {"status": "ok", "item_shape": [3, 32, 32], "test_mse": 0.01, "test_psnr": 20.0,
               "model": "identity", "data": "shapes", "degradation": "blur"}
    if where == "overrides.yaml":
        (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([*OWN, *evil]))
    else:  # a run started in-process keeps its overrides in metrics.json
        (run / ".hydra").rmdir()
        metrics["overrides"] = [*OWN, *evil]
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def evil_lines(mark: Path) -> list[str]:
    return ["++degradation._target_=test_runfolder.probe", f"++degradation.path={mark}"]


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_the_crafted_line_would_run_without_the_check(tmp_path, monkeypatch):
    """The attack the other tests stop is real: with the check switched off, rebuilding the run's
    network (what restore and export do) calls the probe."""
    import aebench.running.runfolder as runfolder
    from aebench.running.trained import load_net

    mark = tmp_path / "called"
    run = crafted(tmp_path, evil_lines(mark))
    monkeypatch.setattr(runfolder, "check_run_overrides", lambda overrides, source: overrides)
    CALLS.clear()
    load_net(run)
    assert mark.exists() and CALLS


@pytest.mark.parametrize("command", ["restore", "evaluate", "export", "analyze", "resume"])
def test_a_run_folder_that_names_code_is_refused_by_every_reader(tmp_path, capsys, command,
                                                                 run_cli):
    mark = tmp_path / "called"
    run = crafted(tmp_path, evil_lines(mark))
    CALLS.clear()
    from PIL import Image

    Image.new("RGB", (32, 32)).save(tmp_path / "in.png")
    if command == "resume":
        res = run_cli(*OWN, f"resume={run}")
        code, err = res.returncode, res.stderr
    else:
        argv = {"restore": [run, tmp_path / "in.png", "--out", tmp_path / "out"],
                "evaluate": [run], "export": [run, "--format", "torchscript"],
                "analyze": [run]}[command]
        code = exit_code(f"aebench.{command}", *argv)
        err = capsys.readouterr().err
    assert code == 2
    line = one_error_line(err)
    assert str(run / ".hydra" / "overrides.yaml") in line
    assert "++degradation._target_=test_runfolder.probe" in line
    assert not mark.exists() and not CALLS
    assert not (tmp_path / "out").exists() and not (run / "export").exists()
    assert sorted(p.name for p in run.iterdir()) == [".hydra", "metrics.json"]  # nothing written


def test_overrides_kept_in_metrics_json_are_checked_the_same_way(tmp_path, capsys):
    mark = tmp_path / "called"
    run = crafted(tmp_path, evil_lines(mark), where="metrics.json")
    assert exit_code("aebench.export", run, "--format", "torchscript") == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(run / "metrics.json") in line and "_target_" in line
    assert not mark.exists()


@pytest.mark.parametrize("line, why", [
    ("model.net={_target_: test_runfolder.probe}", "_target_"),
    ("++model._partial_=true", "_partial_"),
    ("++degradation._args_=[1]", "_args_"),
    ("++model._recursive_=false", "_recursive_"),
    ("++data._convert_=all", "_convert_"),
    ("hydra.run.dir=/tmp/elsewhere", "hydra's own settings"),
    ("hydra/launcher=ray", "hydra's own settings"),
    ("model@degradation=cnn", "@package"),
    ("model=evil", "not an option of model"),
    ("latent=4,8", "one value per key"),
    ("data.root=${oc.env:HOME}", "interpolations"),
    ("+data.extra=1", "adds data.extra"),
    ("+trainer.no_such_argument=1", "adds trainer.no_such_argument"),
    ("model.net={evil: 1}", "adds model.net.evil"),
])
def test_only_config_options_and_values_are_taken_from_a_run_folder(line, why):
    from aebench.core.errors import ConfigError
    from aebench.running.runfolder import check_run_overrides

    with pytest.raises(ConfigError) as err:
        check_run_overrides([*OWN, line], "RUN/.hydra/overrides.yaml")
    message = str(err.value)
    assert "\n" not in message and message.startswith("RUN/.hydra/overrides.yaml: override ")
    assert repr(line) in message and why in message


def test_what_real_runs_record_is_accepted():
    from aebench.running.runfolder import check_run_overrides

    real = [*OWN, "model=cnn", "latent=8", "depth=2", "blur=[0.5,2.0]", "lr=0.001",
            "data.num_train=64", "trainer.max_epochs=1", "++degradation.sigma=2.0", "~logger",
            "experiment=benchmark_shapes", "data.root='/data/my images'", "+extra_note=abc",
            "resume=true", "overwrite=false", "seed=3", "+trainer.max_steps=1"]
    assert check_run_overrides(real, "X") == real


@pytest.mark.parametrize("command", ["restore", "evaluate", "export", "analyze"])
def test_a_truncated_checkpoint_is_one_line_naming_it(tmp_path, capsys, command):
    import shutil

    from PIL import Image

    from trained_runs import trained_run

    run = tmp_path / "run"
    shutil.copytree(trained_run("cnn"), run)  # a copied folder reads its own checkpoint
    best = run / "checkpoints" / Path(json.loads((run / "metrics.json").read_text())
                                      ["best_checkpoint"]).name
    best.write_bytes(best.read_bytes()[:1000])  # truncated on disk
    Image.new("RGB", (32, 32)).save(tmp_path / "in.png")
    argv = {"restore": [run, tmp_path / "in.png", "--out", tmp_path / "out"], "evaluate": [run],
            "export": [run, "--format", "torchscript"], "analyze": [run]}[command]
    assert exit_code(f"aebench.{command}", *argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(best) in line and "not a readable aebench checkpoint" in line

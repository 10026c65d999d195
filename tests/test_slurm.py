"""SLURM sweeps on a real (one-node) cluster, the launcher's job-state polling, and plain runs
without the `sweeps` extra.

The cluster test needs SLURM running: `bash scripts/slurm-local.sh start` (as root; `--install`
installs Debian's slurm-wlm first). `.ci/run` does that; elsewhere the test is skipped with the
reason.
"""
from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import conftest
from conftest import FAST_SHAPES, ROOT

TINY = ["callbacks=none", "+trainer.max_steps=2", "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1", "trainer.enable_model_summary=false", "logger=none",
        *FAST_SHAPES]
ACCOUNTING_OFF = "SLURM accounting is off; job states are read from squeue"


def _idle_partition() -> tuple[str | None, str]:
    """(partition with an idle node, None) or (None, why the test cannot run)."""
    if shutil.which("sbatch") is None:
        return None, ("sbatch not found: SLURM is not installed here "
                      "(as root: bash scripts/slurm-local.sh start --install)")
    try:
        res = subprocess.run(["sinfo", "--noheader", "--format=%P %t"], capture_output=True,
                             text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"sinfo failed ({err}): is SLURM up? bash scripts/slurm-local.sh start"
    if res.returncode != 0:
        return None, (f"SLURM is not up ({res.stderr.strip()[:200]}): "
                      "bash scripts/slurm-local.sh start")
    wanted = os.environ.get("AEBENCH_SLURM_PARTITION")
    rows = [line.split() for line in res.stdout.splitlines() if len(line.split()) == 2]
    for name, state in sorted(rows, key=lambda r: not r[0].endswith("*")):  # default first
        name = name.rstrip("*")
        if (wanted in (None, name)) and state in ("idle", "mix"):
            return name, ""
    return None, f"no idle SLURM node (sinfo: {res.stdout.strip()[:200]!r})"


@pytest.mark.slow
def test_slurm_sweep_runs_both_trials_on_a_real_cluster(run_cli, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher",
                        reason="the sweeps extra is not installed: pip install -e '.[sweeps]'")
    partition, why = _idle_partition()
    if partition is None:
        pytest.skip(why)
    res = run_cli("-m", "hydra/launcher=slurm", f"hydra.launcher.partition={partition}",
                  "hydra.launcher.gpus_per_node=0", "hydra.launcher.cpus_per_task=1",
                  "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=10", "latent=8,16",
                  *TINY, timeout=400)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    sweeps = list((tmp_path / "multirun").glob("*/*"))
    assert len(sweeps) == 1, sweeps
    sweep = sweeps[0]
    trials = [json.loads((sweep / str(i) / "metrics.json").read_text()) for i in (0, 1)]
    assert [(t["status"], t["latent"]) for t in trials] == [("ok", 8), ("ok", 16)]
    assert all(t["trial"]["threads"] == 1 for t in trials)  # SLURM_CPUS_PER_TASK reached it
    assert (sweep / "leaderboard.md").is_file()
    with open(sweep / "leaderboard.csv", newline="") as f:
        assert {r["status"] for r in csv.DictReader(f)} == {"ok"}
    # the jobs ran this venv's python (submitit writes sys.executable into the sbatch script)
    script = next(sweep.glob(".submitit/*/*_submission.sh")).read_text()
    assert f" {sys.executable} -u -m submitit.core._submit " in script
    # without accounting storage: one line, not sacct's stderr and a warning at every poll
    assert "accounting storage is disabled" not in out and "Bypassing sacct" not in out
    assert out.count(ACCOUNTING_OFF) <= 1


# -- job states without accounting, with stand-ins for sacct and squeue -------------------------
def _fake_slurm(bin_dir: Path, squeue_out: str, sacct_err="Slurm accounting storage is disabled"):
    bin_dir.mkdir(exist_ok=True)
    calls = bin_dir / "calls.txt"
    for name, body in (("sacct", f"echo '{sacct_err}' >&2; exit 1"),
                       ("squeue", f"printf '{squeue_out}'")):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\necho {name} \"$@\" >> {calls}\n{body}\n")
        script.chmod(0o755)
    return calls


def test_watcher_says_once_that_accounting_is_off_and_reads_squeue(tmp_path, monkeypatch,
                                                                   caplog):
    pytest.importorskip("submitit", reason="the sweeps extra is not installed")
    from hydra_plugins.aebench_launchers._slurm_state import GONE, SacctOrSqueueWatcher

    calls = _fake_slurm(tmp_path / "bin", "41_0|RUNNING|vm\\n41_1|PENDING|\\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    watcher = SacctOrSqueueWatcher(delay_s=600)
    for job in ("41_0", "41_1", "42"):
        watcher.register_job(job)
    with caplog.at_level(logging.INFO, logger="aebench"):
        for _ in range(3):
            watcher.update()
    assert [r.getMessage() for r in caplog.records] == [f"aebench: {ACCOUNTING_OFF}"]
    assert watcher.get_state("41_0", mode="cache") == "RUNNING"
    assert watcher.get_state("41_1", mode="cache") == "PENDING"
    assert watcher.get_state("42", mode="cache") == GONE  # left the queue: done, not UNKNOWN
    assert watcher.is_done("42", mode="cache") and not watcher.is_done("41_1", mode="cache")
    lines = calls.read_text().splitlines()
    assert sum(line.startswith("sacct") for line in lines) == 1  # not asked again
    squeue = [line for line in lines if line.startswith("squeue")]
    assert len(squeue) == 3 and "--states=all" in squeue[0] and "--array" in squeue[0]
    assert squeue[0].endswith("--jobs 41,42") and squeue[-1].endswith("--jobs 41")  # 42: done


def test_watcher_reports_another_sacct_error_once_and_falls_back(tmp_path, monkeypatch, caplog):
    pytest.importorskip("submitit", reason="the sweeps extra is not installed")
    from hydra_plugins.aebench_launchers._slurm_state import SacctOrSqueueWatcher

    _fake_slurm(tmp_path / "bin", "7|COMPLETED|vm\\n", sacct_err="slurmdbd: connection refused")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    watcher = SacctOrSqueueWatcher(delay_s=600)
    watcher.register_job("7")
    with caplog.at_level(logging.INFO, logger="aebench"):
        watcher.update()
        watcher.register_job("8")
        watcher.update()
    assert len(caplog.records) == 1 and "connection refused" in caplog.records[0].getMessage()
    assert watcher.accounting is None  # tried again next time: the database may come back
    assert watcher.get_state("7", mode="cache") == "COMPLETED"


# -- the core install: a plain run without the sweeps extra --------------------------------------
SWEEPS = {"ray", "submitit", "optuna", "sqlalchemy", "alembic", "hydra_ray_launcher",
          "hydra_submitit_launcher", "hydra_optuna_sweeper", "onnx", "onnxscript", "onnxruntime"}


def _site_without_sweeps(dest: Path) -> Path:
    """A copy of this venv's site-packages, as symlinks, without the sweeps/export extras."""
    site = Path(sysconfig.get_paths()["purelib"])
    dest.mkdir()
    (dest / "hydra_plugins").mkdir()
    for entry in site.iterdir():
        name = entry.name.removesuffix(".py").split("-")[0].lower()
        if entry.name == "hydra_plugins":
            for plugin in entry.iterdir():
                if plugin.name not in SWEEPS:
                    (dest / "hydra_plugins" / plugin.name).symlink_to(plugin)
        elif name not in SWEEPS and not entry.name.endswith(".pth"):
            (dest / entry.name).symlink_to(entry)
    return dest


@pytest.mark.slow
def test_a_plain_run_needs_no_sweeps_extra(tmp_path):
    site = _site_without_sweeps(tmp_path / "site")
    code = (
        "import importlib.util, runpy, sys\n"
        "for m in ('ray', 'submitit', 'optuna', 'hydra_plugins.hydra_ray_launcher'):\n"
        "    assert importlib.util.find_spec(m) is None, m\n"
        "import aebench.core.module, aebench.running.train\n"
        "sys.argv = ['aebench', *sys.argv[1:]]\n"
        "runpy.run_module('aebench', run_name='__main__')\n")
    env = conftest.test_env(PYTHONPATH=os.pathsep.join([str(site), str(ROOT / "src")]), PYTHONWARNINGS="")
    # -S: no site-packages of the venv (and no .pth files): only the symlinked copy
    res = subprocess.run([sys.executable, "-S", "-c", code, "latent=8", "trainer.max_epochs=1",
                          *TINY], cwd=tmp_path, capture_output=True, text=True, timeout=240,
                         env=env)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "Error importing" not in out and "aebench_launchers" not in out, out[-3000:]
    runs = list((tmp_path / "outputs").glob("*/*/metrics.json"))
    assert len(runs) == 1 and json.loads(runs[0].read_text())["status"] == "ok"

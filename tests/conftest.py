"""Shared test fixtures: compose the real config in-process, or run the real entry point."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
sys.path.insert(0, str(Path(__file__).parent))  # tests/fakedata.py

if os.environ.get("PYTEST_XDIST_WORKER"):  # make test: two workers on two cores, one thread each
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)

# Small and fast everywhere: a few dozen items, one epoch, tiny networks, no progress bar.
FAST = ["trainer.max_epochs=1", "callbacks=none", "latent=8"]
FAST_SHAPES = ["data.num_train=64", "data.num_test=32", "data.batch_size=16"]


def test_env(**extra) -> dict:
    env = dict(os.environ)
    env.update(CI="true", WANDB_MODE="offline", WANDB_SILENT="true", HYDRA_FULL_ERROR="0",
               PYTHONWARNINGS="ignore")
    env.pop("WANDB_API_KEY", None)
    env.update(extra)
    return env


def sweep_dir(tmp_path: Path) -> Path:
    """The one sweep folder a test's `-m` run made under tmp_path/multirun/<date>/<time>."""
    dirs = list((tmp_path / "multirun").glob("*/*"))
    assert len(dirs) == 1, dirs
    return dirs[0]


def run_main(main, args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Call a command's `main(argv)` in this process, in `cwd`, with the environment a user's
    shell would give it (test_env); returns what a subprocess run would: exit status, stdout,
    stderr. In-process because a torch import costs ~6 s per subprocess here."""
    import contextlib
    import io
    import logging

    saved_env, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), list(sys.argv)
    out, err = io.StringIO(), io.StringIO()
    code = 0
    os.environ.clear()
    os.environ.update(test_env(**(env or {})))
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
                if isinstance(stop.code, str):
                    print(stop.code, file=sys.stderr)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv[:] = saved_argv
        for handler in logging.getLogger().handlers[:]:  # Hydra's job log handlers
            logging.getLogger().removeHandler(handler)
        from hydra.core.global_hydra import GlobalHydra

        GlobalHydra.instance().clear()
    return subprocess.CompletedProcess(["aebench", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture
def run_cli(tmp_path):
    """Run `python -m aebench ARGS` in tmp_path as a user would (in-process: see run_main;
    `subprocess=True` starts a real `python -m aebench`); returns a CompletedProcess."""
    from aebench.cli import main

    def _run(*args, timeout=240, env=None, subprocess_run=False):
        if subprocess_run:
            return subprocess.run([sys.executable, "-m", "aebench", *args], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=timeout,
                                  env=test_env(**(env or {})))
        return run_main(main, args, tmp_path, env)

    return _run


@pytest.fixture
def compose_cfg(tmp_path):
    """The real config with overrides (aebench.core.config.compose), writing to tmp_path/<out>."""
    from aebench.core.config import compose

    def _compose(*overrides, out="run"):
        return compose(list(overrides), tmp_path / out).cfg

    os.environ.setdefault("WANDB_MODE", "disabled")
    return _compose


@pytest.fixture
def train_run(tmp_path):
    """Compose and run in-process as `python -m aebench OVERRIDES` would; returns metrics."""
    from aebench.core.config import compose
    from aebench.running.train import run

    def _run(*overrides, out="run"):
        composed = compose(list(overrides), tmp_path / out)
        return run(composed.cfg, composed.choices, composed.overrides)

    os.environ.setdefault("WANDB_MODE", "disabled")
    return _run

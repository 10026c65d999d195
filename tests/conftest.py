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


@pytest.fixture
def run_cli(tmp_path):
    """Run `python -m aebench ARGS` in tmp_path as a user would; returns CompletedProcess."""

    def _run(*args, timeout=240, env=None):
        return subprocess.run([sys.executable, "-m", "aebench", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=timeout,
                              env=test_env(**(env or {})))

    return _run


@pytest.fixture
def compose_cfg(tmp_path):
    """Compose the real config with overrides, as a Hydra job in tmp_path would see it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    def _compose(*overrides, out="run"):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(config_name="config", overrides=list(overrides),
                          return_hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(tmp_path / out)
            cfg.hydra.job.num = 0
        HydraConfig.instance().set_config(cfg)
        return cfg

    os.environ.setdefault("WANDB_MODE", "disabled")
    yield _compose
    GlobalHydra.instance().clear()

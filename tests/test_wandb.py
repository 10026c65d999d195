"""What a user finds in W&B, read back from the offline run files record by record (no network):
summary = best-epoch validation scores + every number of metrics.json; flat model/data/degradation
config keys; the fixed validation items every epoch; the test-items table; checkpoints as
artifacts with logger.log_model=true; a sweep's leaderboard run; wandb's own key lookup."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import test_env as env_for_tests
from wandb_records import offline_runs

TINY = ["data.num_train=48", "data.num_test=16", "data.batch_size=16", "latent=8",
        "callbacks.wandb_media.num_test_items=5", "callbacks.wandb_media.num_val_items=3"]


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """W&B offline, every file it writes below tmp_path, no key anywhere."""
    for key, value in env_for_tests().items():
        if key.startswith(("WANDB", "CI")):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    for var in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR",
                "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "wandb-home"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    return tmp_path


def _run(overrides, out: Path) -> dict:
    from aebench.config import compose
    from aebench.train import run

    c = compose(overrides, out)
    return run(c.cfg, c.choices, c.overrides)


def _table(run_file: Path, key: str) -> dict:
    """A logged wandb.Table as saved in the run's files (media/table/...)."""
    files = run_file.parent / "files"
    path = next(files.glob(f"media/table/{key}_*.table.json"))
    return json.loads(path.read_text())


def test_image_run_summary_config_items_and_table(offline):
    out = offline / "run"
    metrics = _run(["model=cnn_small", "trainer.max_epochs=2", *TINY], out)
    (run,) = offline_runs(out)

    # config: flat names for the runs table / parallel coordinates; knobs and sub-configs stay
    assert (run.value("model_name"), run.value("data_name"), run.value("degradation_name")) == (
        "cnn_small", "shapes", "blur")
    assert (run.value("latent"), run.value("blur")) == (8, 1.0)
    assert run.value("model")["net"]["latent"] == 8  # the resolved sub-config, nested
    assert run.run.job_type == "cnn_small" and "shapes" in run.run.tags

    # summary: validation scores by their best epoch, every number of metrics.json
    s = run.summary
    assert set(s["val/psnr"]) == {"max"} and set(s["val/loss"]) == {"min"}
    assert set(s["val/ssim"]) == {"max"} and set(s["val/mse"]) == {"min"}
    psnrs = [h["val/psnr"] for h in run.history if "val/psnr" in h]
    assert len(psnrs) == 2 and s["val/psnr"]["max"] == pytest.approx(max(psnrs))
    for key, value in metrics.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert s[key] == pytest.approx(value), key
    for key in ("params", "code_size", "compression_ratio", "train_seconds",
                "train_images_per_second", "test_psnr", "psnr_gain", "val_psnr"):
        assert key in s, key
    assert s["val_ssim"] > 0 and s["val_best_epoch"] in (0, 1)  # the tested epoch's
    assert (s["optimized_metric"], s["objective_goal"]) == ("val_psnr", "maximize")
    assert s["objective"] == pytest.approx(metrics["val_psnr"])

    # the same 3 validation items every validation epoch, clean | degraded | output
    shots = [h for h in run.history if "val/examples/_type" in h]
    assert len(shots) == 2 and all(h["val/examples/count"] == 3 for h in shots)
    assert shots[0]["val/examples/captions"][0].startswith("item 0: clean | degraded | output")
    assert shots[0]["val/examples/width"] > 3 * shots[0]["val/examples/height"] - 10
    assert shots[0]["trainer/global_step"] < shots[1]["trainer/global_step"]

    # the test table: N items, pictures, per-item scores and the gain over the baseline
    table = _table(run.path, "test/items")
    assert table["columns"] == ["item", "clean", "degraded", "output", "psnr", "ssim",
                                "baseline_psnr", "baseline_ssim", "psnr_gain"]
    assert len(table["data"]) == 5
    row = table["data"][0]
    assert row[8] == pytest.approx(row[4] - row[6], abs=1e-4)
    assert any("reconstructions/_type" in h for h in run.history)
    assert (out / "report.html").is_file()  # and the same offline, as one page


def test_sequence_run_gets_line_plots_and_log_model_stores_checkpoints(offline):
    out = offline / "sine"
    _run(["data=sine", "data.num_sequences=80", "trainer.max_epochs=1", "logger.log_model=true",
          "callbacks.wandb_media.num_test_items=4", "callbacks.wandb_media.num_val_items=2"], out)
    (run,) = offline_runs(out)
    shots = [h for h in run.history if "val/examples/_type" in h]
    assert shots and shots[0]["val/examples/count"] == 2
    assert shots[0]["val/examples/captions"][0] == "item 0: clean, degraded, output"
    table = _table(run.path, "test/items")
    assert table["columns"] == ["item", "plot", "mse", "mae", "baseline_mse", "baseline_mae",
                                "gain_db"]
    assert len(table["data"]) == 4
    models = [a for a in run.artifacts if a.type == "model"]
    assert models and all(a.name.startswith("model-") for a in models)
    assert "val/psnr" not in run.summary and set(run.summary["val/mse"]) == {"min"}


def test_without_log_model_no_checkpoint_artifact(offline):
    out = offline / "plain"
    _run(["model=identity", *TINY[:3]], out)  # a classical row: tested, never trained
    (run,) = offline_runs(out)
    assert not [a for a in run.artifacts if a.type == "model"]
    assert run.summary["params"] == 0 and "test_psnr" in run.summary


@pytest.mark.slow
def test_sweep_trials_grouped_and_leaderboard_run(tmp_path):
    env = env_for_tests(WANDB_DIR=str(tmp_path / "wandb-home"), NETRC=str(tmp_path / "no-netrc"),
                   WANDB_CONFIG_DIR=str(tmp_path / "wandb-home"))
    sweep = tmp_path / "sweep"
    res = subprocess.run(
        [sys.executable, "-m", "aebench", "-m", "model=identity,unsharp", f"hydra.sweep.dir={sweep}",
         "data.num_train=48", "data.num_test=16"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "gain" in res.stdout and "input as is" in res.stdout  # the printed leaderboard
    assert (sweep / "report.html").is_file()
    runs = offline_runs(sweep)
    trials = [r for r in runs if r.run.job_type != "leaderboard"]
    (board,) = [r for r in runs if r.run.job_type == "leaderboard"]
    assert sorted(r.run.job_type for r in trials) == ["identity", "unsharp"]
    assert {r.run.run_group for r in trials} == {board.run.run_group}
    assert board.run.run_group.startswith("sweep-")
    table = _table(board.path, "leaderboard")
    cols = table["columns"]
    assert "gain (dB)" in cols and "model" in cols
    assert sorted(row[cols.index("model")] for row in table["data"]) == ["identity", "unsharp"]
    assert (board.summary["trials"], board.summary["ok"], board.summary["failed"]) == (2, 2, 0)


# -- is there a key? wandb's own lookup, without starting wandb's session ---------------------
def test_key_found_where_wandb_looks(tmp_path, monkeypatch):
    from wandb.sdk import wandb_setup

    from aebench.loggers import _base_url, _has_wandb_key, wandb_mode

    if wandb_setup._singleton is not None:  # an earlier test's session holds its settings
        wandb_setup.teardown()
    for var in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    assert not _has_wandb_key()
    assert wandb_mode() == "offline"  # no key: offline, no prompt, no wait

    host = _base_url().split("://")[-1].split("/")[0]
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {host}\n  login user\n  password {'a' * 40}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))  # a netrc where NETRC says
    assert _has_wandb_key()

    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    settings = tmp_path / "cfg"
    settings.mkdir()
    (settings / "settings").write_text(f"[default]\napi_key = {'b' * 40}\n")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(settings))  # wandb's settings file
    assert _has_wandb_key()
    assert wandb_setup._singleton is None  # looking did not start wandb's session

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
    from aebench.core.config import compose
    from aebench.running.train import run

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


def _sweep_env(tmp_path) -> dict:
    """A sweep subprocess's environment: W&B offline in tmp_path, no key anywhere."""
    return env_for_tests(WANDB_DIR=str(tmp_path / "wandb-home"), NETRC=str(tmp_path / "no-netrc"),
                         WANDB_CONFIG_DIR=str(tmp_path / "wandb-home"))


@pytest.mark.slow
def test_sweep_trials_grouped_and_leaderboard_run(tmp_path):
    env = _sweep_env(tmp_path)
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


@pytest.mark.slow
def test_sweep_with_a_failed_trial_sends_its_leaderboard_and_one_sync_line(tmp_path):
    env = _sweep_env(tmp_path)
    sweep = tmp_path / "sweep"
    # cnn needs images: on sine sequences that trial fails at build time, identity runs
    res = subprocess.run(
        [sys.executable, "-m", "aebench", "-m", "model=identity,cnn", "data=sine",
         "data.num_sequences=64", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, env=env)
    assert res.returncode == 1, res.stderr[-2000:]  # one failed trial
    assert "could not be sent" not in res.stdout + res.stderr
    (board,) = [r for r in offline_runs(sweep) if r.run.job_type == "leaderboard"]
    assert (board.summary["trials"], board.summary["ok"], board.summary["failed"]) == (2, 1, 1)
    last = res.stdout.strip().splitlines()[-1]
    assert last.endswith(f"upload them all with: wandb sync {sweep / 'wandb'} {sweep}/*/wandb")


# -- online or offline: wandb's public API decides, no network ------------------------------
@pytest.fixture
def no_key(tmp_path, monkeypatch):
    """No key anywhere wandb looks, no mode set; the server check answers what the test says."""
    import aebench.running.loggers as loggers

    for var in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_DISABLED", "WANDB_IDENTITY_TOKEN_FILE",
                "WANDB_BASE_URL", "CI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    reached = []
    monkeypatch.setattr(loggers, "_reachable", lambda timeout=2.0: reached.append(1) or True)
    return reached


def test_no_key_is_offline_at_once(no_key):
    from aebench.running.loggers import _has_wandb_key, wandb_mode

    assert not _has_wandb_key()
    assert wandb_mode() == "offline" and not no_key  # the server was not even asked


def test_key_in_env_is_online_where_the_server_answers(no_key, monkeypatch):
    import aebench.running.loggers as loggers

    monkeypatch.setenv("WANDB_API_KEY", "a" * 40)
    assert loggers._has_wandb_key()
    assert loggers.wandb_mode() == "online"
    monkeypatch.setattr(loggers, "_reachable", lambda timeout=2.0: False)
    assert loggers.wandb_mode() == "offline"  # a key but no network: offline, no wait
    monkeypatch.setenv("WANDB_API_KEY", "short")  # wandb refuses it: as good as none
    assert not loggers._has_wandb_key()


def test_key_in_netrc_or_settings_file(no_key, tmp_path, monkeypatch):
    from aebench.running.loggers import _base_url, _has_wandb_key, wandb_mode

    host = _base_url().split("://")[-1].split("/")[0]
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {host}\n  login user\n  password {'a' * 40}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))  # a netrc where NETRC says
    assert _has_wandb_key() and wandb_mode() == "online"

    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    settings = tmp_path / "cfg"
    settings.mkdir()
    (settings / "settings").write_text(f"[default]\napi_key = {'b' * 40}\n")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(settings))  # wandb's settings file
    assert _has_wandb_key()
    assert not (tmp_path / "empty").exists()  # looking wrote nothing


def test_wandb_mode_is_honoured(no_key, monkeypatch):
    from aebench.running.loggers import wandb_mode

    monkeypatch.setenv("WANDB_API_KEY", "a" * 40)
    for set_to, mode in [("offline", "offline"), ("dryrun", "offline"), ("disabled", "disabled"),
                         ("online", "online")]:
        monkeypatch.setenv("WANDB_MODE", set_to)
        assert wandb_mode() == mode
    monkeypatch.delenv("WANDB_API_KEY")
    monkeypatch.setenv("WANDB_MODE", "online")  # the user's word, even without a key here
    assert wandb_mode() == "online" and not no_key
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_DISABLED", "true")
    assert wandb_mode() == "disabled"
    monkeypatch.delenv("WANDB_DISABLED")
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("WANDB_API_KEY", "a" * 40)
    assert wandb_mode() == "offline"  # CI never uploads unless WANDB_MODE says so


def test_asking_leaves_no_session_behind(no_key, tmp_path, monkeypatch):
    """The run started after the question reads the WANDB_* variables of its own time (wandb's
    session reads them once), and its end line names the offline folder and the sync command."""
    import wandb

    from aebench.running.loggers import _has_wandb_key, run_note

    monkeypatch.setenv("WANDB_API_KEY", "a" * 40)
    monkeypatch.setenv("WANDB_SILENT", "true")
    assert _has_wandb_key()
    monkeypatch.setenv("WANDB_MODE", "offline")  # decided after asking
    run = wandb.init(project="aebench-test", dir=str(tmp_path), reinit="create_new")
    try:
        assert run.offline
        note = run_note(run)
    finally:
        run.finish()
    folder = Path(run.dir).parent
    assert folder.name.startswith("offline-run-") and folder.is_dir()
    assert note == f"W&B: offline run in {folder}; upload it with: wandb sync {folder}"


# -- a sweep's runs: the leaderboard run whatever the trials hold, one sync command ----------
def _fake_trial(folder: Path, metrics: dict) -> None:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(
        "".join(f"- {o}\n" for o in metrics.get("overrides", [])))
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_leaderboard_run_sent_with_a_failed_trial(offline):
    from aebench.running.loggers import log_leaderboard, sweep_sync_command, table_rows

    sweep = offline / "sweep"
    _fake_trial(sweep / "0", {"status": "ok", "model": "unet", "latent": 32, "blur": 1.0,
                              "test_psnr": 30.5, "baseline_psnr": 26.0, "psnr_gain": 4.5,
                              "params": 1000, "overrides": ["model=unet", "latent=32"]})
    # what a failed trial can hold: a knob the user mistyped, as text, where others have numbers
    _fake_trial(sweep / "1", {"status": "failed", "model": "unet", "latent": "abc",
                              "blur": [0.5, 2.0], "error": "ValueError: latent=abc",
                              "overrides": ["model=unet", "latent=abc"]})
    (sweep / "2" / ".hydra").mkdir(parents=True)  # unfinished: overrides only
    (sweep / "2" / ".hydra" / "overrides.yaml").write_text("- model=unet\n- latent=64\n")
    note = log_leaderboard({"_target_": "pytorch_lightning.loggers.WandbLogger",
                            "project": "aebench-test"}, sweep, "sweep-test")
    (board,) = offline_runs(sweep)
    table = _table(board.path, "leaderboard")
    cols = table["columns"]
    assert sorted(map(str, (r[cols.index("latent")] for r in table["data"]))) == ["32", "64", "abc"]
    assert (board.summary["trials"], board.summary["ok"], board.summary["failed"],
            board.summary["unfinished"]) == (3, 1, 1, 1)
    assert str(sweep / "wandb") in note and "wandb sync" in note
    assert table_rows([[1.0, "", True], [2, "x", None]]) == [[1.0, None, "True"], [2, "x", None]]

    # trials' offline runs one level down (Hydra's layout): one pattern for them all
    (sweep / "0" / "wandb" / "offline-run-1-a").mkdir(parents=True)
    (sweep / "0" / "wandb" / "offline-run-1-a" / "run-a.wandb").write_bytes(b"")
    assert sweep_sync_command(sweep) == f"wandb sync {sweep / 'wandb'} {sweep}/*/wandb"
    deeper = sweep / "0" / "eval-1" / "wandb" / "offline-run-2-b"
    deeper.mkdir(parents=True)
    (deeper / "run-b.wandb").write_bytes(b"")
    assert sweep_sync_command(sweep) == (f"wandb sync {sweep / 'wandb'} "
                                         f"{sweep / '0' / 'eval-1' / 'wandb'} {sweep / '0' / 'wandb'}")

"""Faults a long run meets: SIGKILL, SIGTERM, a NaN loss, a kill during a checkpoint save, a
sweep stopped half-way; and results that must never be overwritten."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import conftest
import pytest
import torch

# long enough (12 epochs of 20 steps) to be killed after the first checkpoint, small enough to
# finish in a few seconds
RUN = ["trainer.max_epochs=12", "callbacks=none", "latent=8", "data.num_train=400",
       "data.num_test=32", "data.batch_size=16", "logger=none", "trainer.limit_val_batches=1"]


def _start(cwd: Path, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "aebench", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=conftest.test_env())


def _wait_for(path_glob, cwd: Path, timeout=120) -> Path:
    end = time.time() + timeout
    while time.time() < end:
        found = list(cwd.glob(path_glob))
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"{path_glob} never appeared")


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


@pytest.mark.slow
def test_a_killed_run_resumes_and_ends_as_if_never_killed(run_cli, tmp_path):
    proc = _start(tmp_path, *RUN)
    last = _wait_for("outputs/*/*/checkpoints/last.ckpt", tmp_path)
    proc.kill()  # SIGKILL: no chance to clean up
    proc.communicate()
    run = last.parents[1]
    assert not (run / "metrics.json").exists()
    killed_at = torch.load(last, map_location="cpu", weights_only=True)["epoch"]
    assert killed_at < 11

    res = run_cli(*RUN, "resume=true")  # the same command plus resume=true
    assert res.returncode == 0, res.stderr[-3000:]
    assert len(list(tmp_path.glob("outputs/*/*/.hydra"))) == 1  # continued in the same folder
    resumed = _metrics(run)
    assert resumed["epochs"] == 12
    # the epoch history (loss_curve.png's data) holds every epoch once: the ones before the kill
    # came back from the checkpoint, the rest were appended after it
    history = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu",
                         weights_only=True)["aebench"]["history"]
    assert [row["epoch"] for row in history] == list(range(12))

    other = tmp_path / "uninterrupted"
    other.mkdir()
    ref = run_cli(*RUN, "hydra.run.dir=uninterrupted/run")
    assert ref.returncode == 0, ref.stderr[-3000:]
    expected = _metrics(other / "run")
    for key in ("test_mse", "test_psnr", "test_ssim", "val_psnr", "best_val_loss"):
        assert resumed[key] == pytest.approx(expected[key], rel=1e-6, abs=1e-9), key


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(run_cli, tmp_path, sig):
    proc = _start(tmp_path, *RUN)
    last = _wait_for("outputs/*/*/checkpoints/last.ckpt", tmp_path)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err[-3000:]
    lines = [ln for ln in err.splitlines() if ln.startswith("aebench:")]
    assert len(lines) == 1 and f"stopped by {sig.name}" in lines[0] and "resume=" in lines[0]
    assert "Traceback" not in err
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    assert "aebench" in ckpt and ckpt["global_step"] > 0
    res = run_cli(*RUN, f"resume={last.parents[1]}")
    assert res.returncode == 0, res.stderr[-3000:]
    assert _metrics(last.parents[1])["epochs"] == 12


def test_a_kill_during_a_checkpoint_save_leaves_the_previous_one(tmp_path, monkeypatch):
    from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

    from aebench.running.checkpoints import AtomicCheckpointIO

    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)

    def dies_half_way(self, checkpoint, path, storage_options=None):
        Path(path).write_bytes(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # as if killed while writing the file

    monkeypatch.setattr(TorchCheckpointIO, "save_checkpoint", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}}, path)
    monkeypatch.undo()
    kept = torch.load(path, weights_only=True)["state_dict"]["w"]
    assert torch.equal(kept, torch.ones(3)) and list(tmp_path.iterdir()) == [path]


def test_nan_loss_stops_with_the_step_the_lr_and_the_last_good_checkpoint(run_cli, tmp_path):
    res = run_cli("model=cnn", "lr=1e12", *RUN[1:])
    assert res.returncode == 1, res.stderr[-3000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("aebench: error: training loss became")
    assert "at step" in lines[0] and "lr=" in lines[0] and "checkpoint" in lines[0]


def test_a_finished_run_is_never_trained_over(run_cli, tmp_path):
    args = ["hydra.run.dir=myrun", "trainer.max_epochs=1", *RUN[1:]]
    assert run_cli(*args).returncode == 0
    before = (tmp_path / "myrun" / "metrics.json").read_bytes()
    again = run_cli(*args)
    assert again.returncode == 2 and "already holds a finished run" in again.stderr
    assert "overwrite=true" in again.stderr
    assert (tmp_path / "myrun" / "metrics.json").read_bytes() == before
    kept = run_cli(*args, "resume=true")  # nothing to do: the results stay as they are
    assert kept.returncode == 0 and (tmp_path / "myrun" / "metrics.json").read_bytes() == before


@pytest.mark.parametrize("corrupt", ["garbage", "other_model"])
def test_resuming_from_a_bad_checkpoint_is_refused_before_training(run_cli, tmp_path, corrupt):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / ".hydra").mkdir()
    (run / ".hydra" / "overrides.yaml").write_text("[]\n")
    last = run / "checkpoints" / "last.ckpt"
    if corrupt == "garbage":
        last.write_bytes(b"not a checkpoint at all")
    else:
        torch.save({"state_dict": {"net.encoder.weight_ih_l0": torch.zeros(4, 4)}}, last)
    res = run_cli(*RUN, f"resume={run}")
    assert res.returncode == 2, res.stderr[-3000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(last) in lines[0]
    assert ("cannot be read" if corrupt == "garbage" else "different model config") in lines[0]


@pytest.mark.slow
def test_a_resumed_sweep_keeps_finished_trials_and_reruns_the_rest(run_cli, tmp_path):
    sweep_args = ["-m", "latent=4,8,16", "trainer.max_epochs=1", *RUN[1:2], *RUN[3:]]
    assert run_cli(*sweep_args).returncode == 0
    sweep = next((tmp_path / "multirun").glob("*/*"))
    kept = {i: (sweep / str(i) / "metrics.json").stat().st_mtime_ns for i in (0, 2)}
    (sweep / "1" / "metrics.json").unlink()  # trial 1 "was killed"
    res = run_cli(*sweep_args, "resume=true")
    assert res.returncode == 0, res.stderr[-3000:]
    assert len(list((tmp_path / "multirun").glob("*/*"))) == 1  # the same sweep folder
    assert {i: (sweep / str(i) / "metrics.json").stat().st_mtime_ns for i in (0, 2)} == kept
    assert _metrics(sweep / "1")["status"] == "ok"
    assert "3 ok" in (sweep / "leaderboard.md").read_text()


def test_a_checkpoint_carries_the_random_state_training_noise_continues_from(compose_cfg):
    """module.on_save_checkpoint / on_load_checkpoint: after a resume the training noise (drawn
    from torch's global generator each step) continues exactly where the checkpoint left it."""
    from aebench.core.config import build_parts

    cfg = compose_cfg("data=shapes", "model=cnn", "degradation=noise", "data.num_train=32",
                      "data.num_test=16", *conftest.FAST)
    _, degradation, _, module = build_parts(cfg)
    x, idx = torch.rand(4, 3, 32, 32), torch.arange(4)
    torch.manual_seed(7)
    torch.rand(3)  # some steps before the checkpoint
    checkpoint: dict = {}
    module.on_save_checkpoint(checkpoint)
    expected = degradation(x, idx, "train")  # the next step's noise in the uninterrupted run
    torch.manual_seed(8)  # a new process: another state
    _, _, _, resumed = build_parts(cfg)
    resumed.on_load_checkpoint(checkpoint)
    assert torch.equal(degradation(x, idx, "train"), expected)


def test_a_run_stopped_inside_an_epoch_resumes_to_the_same_metrics(tmp_path, monkeypatch,
                                                                    recwarn):
    """SIGTERM at a step inside an epoch, then resume=true: the resumed run trains on the rest
    of that epoch's shuffled batches (the loader's position is in the checkpoint), ends with
    every metric of the uninterrupted run, and its train_seconds adds the time before the stop."""
    from aebench.core.config import compose
    from aebench.core.errors import RunStopped
    from aebench.core.module import AutoencoderModule
    from aebench.running.train import run

    args = ["data=shapes", "model=cnn", "data.num_train=80", "data.num_test=16",
            "data.batch_size=16", "trainer.max_epochs=3", *RUN[1:3], "logger=none"]
    done = compose(args, tmp_path / "uninterrupted")
    expected = run(done.cfg, done.choices, done.overrides)

    start = AutoencoderModule.on_train_batch_start

    def sigterm_at_step_6(self, batch, batch_idx):  # epoch 1 of 4 batches: its second batch
        if self.global_step == 6:
            signal.raise_signal(signal.SIGTERM)
        return start(self, batch, batch_idx)
    monkeypatch.setattr(AutoencoderModule, "on_train_batch_start", sigterm_at_step_6)
    stopped = compose(args, tmp_path / "run")
    with pytest.raises(RunStopped):
        run(stopped.cfg, stopped.choices, stopped.overrides)
    monkeypatch.undo()
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu",
                      weights_only=True)
    assert (last["epoch"], last["global_step"]) == (1, 7)  # inside epoch 1
    before = last["aebench"]["fit_seconds"]

    again = compose([*args, "resume=true"], tmp_path / "run")
    resumed = run(again.cfg, again.choices, again.overrides)
    assert not [w for w in recwarn if "not resumable" in str(w.message)]
    numbers = [k for k, v in expected.items() if isinstance(v, (int, float))
               and not isinstance(v, bool) and "seconds" not in k and "per_second" not in k]
    assert {"test_psnr", "test_ssim", "val_psnr", "best_val_loss", "global_steps"} <= set(numbers)
    for key in numbers:
        assert resumed[key] == pytest.approx(expected[key], rel=1e-6, abs=1e-9), key
    assert resumed["train_seconds"] > before > 0


def test_an_unreadable_last_checkpoint_falls_back_to_the_newest_readable_one(compose_cfg,
                                                                             tmp_path, caplog):
    """resume=true with last.ckpt truncated on disk: the readable checkpoint of this model with
    the most steps is used, and one warning line names both files."""
    from aebench.running.checkpoints import resumable
    from aebench.core.config import build_parts

    cfg = compose_cfg("data=shapes", "model=cnn", "data.num_train=32", "data.num_test=16",
                      *conftest.FAST)
    module = build_parts(cfg)[3]
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name, step in (("epoch000.ckpt", 4), ("epoch001.ckpt", 8)):
        torch.save({"state_dict": module.state_dict(), "global_step": step}, folder / name)
    other = {"state_dict": {"net.encoder.weight_ih_l0": torch.zeros(4, 4)}, "global_step": 99}
    torch.save(other, folder / "another_model.ckpt")  # more steps, but not this model's
    last = folder / "last.ckpt"
    last.write_bytes((folder / "epoch001.ckpt").read_bytes()[:300])  # truncated
    with caplog.at_level("WARNING", logger="aebench"):
        assert resumable(last, module) == folder / "epoch001.ckpt"
    lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(lines) == 1 and str(last) in lines[0] and "epoch001.ckpt" in lines[0]


def test_a_full_disk_during_a_checkpoint_write_stops_with_one_line_and_keeps_the_previous(
        tmp_path, monkeypatch):
    import errno

    from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

    from aebench.running.checkpoints import AtomicCheckpointIO
    from aebench.core.errors import RunStopped

    io = AtomicCheckpointIO("python -m aebench resume=RUN")
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)

    def disk_full(self, checkpoint, path, storage_options=None):
        Path(path).write_bytes(b"PK\x03\x04 the first blocks")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(TorchCheckpointIO, "save_checkpoint", disk_full)
    with pytest.raises(RunStopped) as stop:
        io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}}, path)
    monkeypatch.undo()
    message = str(stop.value)
    assert stop.value.exit_code == 1 and "\n" not in message
    assert message == (f"cannot write checkpoint {path} (No space left on device); the "
                       "checkpoints written before are intact (last.ckpt); free space, then "
                       "resume with: python -m aebench resume=RUN")
    kept = torch.load(path, weights_only=True)["state_dict"]["w"]
    assert torch.equal(kept, torch.ones(3)) and list(tmp_path.iterdir()) == [path]

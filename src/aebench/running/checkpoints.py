"""Checkpoints that survive kills: atomic writes, a clean stop on SIGTERM/SIGINT, safe resume.

- `AtomicCheckpointIO` writes every checkpoint to a temporary file in the same folder and
  renames it over the old one (os.replace), so a kill during a save leaves the previous file;
  a failed write (disk full) stops the run with one line, the previous file intact.
- `StopOnSignal` turns SIGTERM (pre-emption) or SIGINT (Ctrl-C) into: finish the current step,
  save checkpoints/last.ckpt, stop with a message that says how to resume.
- `check_resumable` opens a checkpoint with `torch.load(weights_only=True)` (no code runs) and
  checks it was written by the same model config, before training starts; `resumable` falls
  back to the newest readable checkpoint of the folder when last.ckpt cannot be read.
"""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from aebench.core.errors import ConfigError, RunStopped


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written whole or not at all. A write that fails (the disk full, a quota, an
    I/O error) stops the run with one line (RunStopped, exit status 1): the partial file is
    removed, the previous checkpoint is left as it was, and the line says how to resume."""

    def __init__(self, resume_hint: str | None = None):
        super().__init__()
        self.resume_hint = resume_hint

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            try:
                super().save_checkpoint(checkpoint, tmp, storage_options)
                os.replace(tmp, path)
            except (OSError, RuntimeError) as err:  # torch's zip writer raises RuntimeError
                why = (err.strerror if isinstance(err, OSError) and err.strerror
                       else " ".join(str(err).split())[:160] or type(err).__name__)
                done = sorted(p.name for p in path.parent.glob("*.ckpt"))
                kept = (f"the checkpoints written before are intact ({', '.join(done)})"
                        if done else "no checkpoint was written before it")
                resume = (f"; free space, then resume with: {self.resume_hint}"
                          if self.resume_hint else "")
                raise RunStopped(f"cannot write checkpoint {path} ({why}); {kept}{resume}",
                                 exit_code=1) from None
        finally:
            if tmp.exists():
                tmp.unlink()


class StopOnSignal(pl.Callback):
    """On SIGTERM/SIGINT: save last.ckpt after the current step and stop (main thread only)."""

    def __init__(self, ckpt_path: Path, resume_hint: str):
        self.ckpt_path, self.resume_hint = Path(ckpt_path), resume_hint
        self.signum: int | None = None
        self._old = {}

    def _handler(self, signum, frame):
        self.signum = signum

    def on_fit_start(self, trainer, pl_module):
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGTERM, signal.SIGINT):
                self._old[s] = signal.signal(s, self._handler)

    def on_fit_end(self, trainer, pl_module):
        self._restore()

    def on_exception(self, trainer, pl_module, exception):
        self._restore()

    def _restore(self):
        for s, old in self._old.items():
            signal.signal(s, old)
        self._old = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.signum is None:
            return
        trainer.save_checkpoint(self.ckpt_path)
        name = signal.Signals(self.signum).name
        raise RunStopped(
            f"stopped by {name} at epoch {trainer.current_epoch}, step {trainer.global_step}; "
            f"checkpoint saved to {self.ckpt_path}. Resume with: {self.resume_hint}",
            exit_code=128 + self.signum)


class UnreadableCheckpoint(ConfigError):
    """A checkpoint file that cannot be read (truncated, corrupted, not a checkpoint)."""


def resumable(last: Path, module: torch.nn.Module) -> Path:
    """The checkpoint to resume from: `last` when it is a readable checkpoint of this model; when
    it cannot be read (truncated, corrupted on disk), the readable checkpoint of this model with
    the most steps in the same folder, named with `last` in one warning line; the ConfigError of
    `last` when there is none."""
    import logging

    try:
        check_resumable(last, module)
        return last
    except UnreadableCheckpoint as err:
        found = []
        for other in Path(last).parent.glob("*.ckpt"):
            if other == Path(last):
                continue
            try:
                step = check_resumable(other, module)
            except ConfigError:
                continue
            found.append((step, other.stat().st_mtime, other))
        if not found:
            raise
        other = max(found)[2]
        logging.getLogger("aebench").warning(
            "resume: %s cannot be read (%s); resuming from %s, the readable checkpoint with "
            "the most steps", last, err.reason, other)
        return other


def check_resumable(path: Path, module: torch.nn.Module) -> int:
    """The global step of `path`; ConfigError unless it is a readable checkpoint of this very
    model (UnreadableCheckpoint when it cannot be read at all)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        state = ckpt["state_dict"]
    except Exception as err:  # truncated, not a checkpoint, or holding objects (not loaded)
        reason = f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}"
        error = UnreadableCheckpoint(
            f"resume: {path} cannot be read as a checkpoint ({reason}); delete it to start "
            "over, or resume from another run folder")
        error.reason = reason
        raise error from None
    # the network's weights decide; the baseline (PCA fitted in setup) and metric states follow
    own = {k: v for k, v in module.state_dict().items() if k.startswith("net.")}
    for key, value in own.items():
        if key not in state or tuple(state[key].shape) != tuple(value.shape):
            found = tuple(state[key].shape) if key in state else "missing"
            raise ConfigError(
                f"resume: {path} was saved by a different model config ({key}: checkpoint "
                f"{found}, this config {tuple(value.shape)}); resume with the run's own "
                "overrides (model, latent, depth), or start a new run without resume")
    extra = [k for k in state if k.startswith("net.") and k not in own]
    if extra:
        raise ConfigError(f"resume: {path} was saved by a different model config (it has "
                          f"{extra[0]}, this model has not); resume with the run's own overrides")
    return int(ckpt.get("global_step", 0))

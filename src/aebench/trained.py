"""A finished run read back: its config (recomposed from its own overrides), metrics and checkpoint.

What every command that uses a trained model starts from (`aebench.analyze` today).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aebench.config import Composed, compose
from aebench.errors import ConfigError


@dataclass
class TrainedRun:
    run_dir: Path
    overrides: list[str]     # what the run was started with (.hydra/overrides.yaml)
    metrics: dict            # its metrics.json ({} if it never finished)
    checkpoint: Path | None  # the tested (best) checkpoint, else last.ckpt; None for filters

    def compose(self, extra: list[str] | tuple = (), output_dir: str | Path | None = None,
                drop: tuple[str, ...] = ()) -> Composed:
        """The run's config with `extra` overrides on top (overrides of the run whose key starts
        with one of `drop` are left out first), writing to `output_dir`."""
        own = [o for o in self.overrides if not o.lstrip("+~").startswith(drop)] if drop else \
            list(self.overrides)
        return compose([*own, *extra], output_dir or self.run_dir)


def read_run(run_dir: str | Path, need_checkpoint: bool = True) -> TrainedRun:
    """The run in `run_dir` (a single run's or a sweep trial's folder); ConfigError if it is not
    one, or (with `need_checkpoint`) if it has no checkpoint to load."""
    import yaml

    run_dir = Path(run_dir).resolve()
    overrides_file = run_dir / ".hydra" / "overrides.yaml"
    if not overrides_file.is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no .hydra/overrides.yaml); give the "
                          "folder `python -m aebench` printed at the end of the run")
    overrides = [str(o) for o in yaml.safe_load(overrides_file.read_text()) or []]
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        metrics = {}
    ckpt = None
    best = metrics.get("best_checkpoint")
    if best and Path(best).is_file():
        ckpt = Path(best)
    elif (run_dir / "checkpoints" / "last.ckpt").is_file():
        ckpt = run_dir / "checkpoints" / "last.ckpt"
    if need_checkpoint and ckpt is None:
        raise ConfigError(f"{run_dir}: no checkpoint (neither metrics.json's best_checkpoint nor "
                          "checkpoints/last.ckpt); use a run of a learned model that finished "
                          "training")
    return TrainedRun(run_dir, overrides, metrics, ckpt)


def load_weights(module, checkpoint: Path) -> None:
    """The checkpoint's weights into `module` (a LightningModule built from the run's config),
    read with weights_only=True; ConfigError when they belong to another network."""
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise ConfigError(f"{checkpoint} does not hold weights of this run's model "
                          f"({type(module.net).__name__}): {first}") from None

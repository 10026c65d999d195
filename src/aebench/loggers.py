"""Experiment loggers: W&B (default, offline whenever it cannot go online without asking), CSV, none."""
from __future__ import annotations

import netrc
import os
from pathlib import Path


def _has_wandb_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("://")[-1]
        return netrc.netrc().authenticators(host.split("/")[0]) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def _reachable(timeout: float = 2.0) -> bool:
    """Whether the W&B server (WANDB_BASE_URL, default api.wandb.ai) answers HTTP within
    `timeout` (a TCP connect alone is not enough: proxies accept connections they never serve)."""
    import urllib.error
    import urllib.request

    base = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").rstrip("/")
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=timeout):
            return True
    except urllib.error.HTTPError:  # it answered, if not with 200
        return True
    except (OSError, ValueError):
        return False


def wandb_mode() -> str:
    """WANDB_MODE if the user set it; otherwise offline under CI, without a key or network."""
    mode = os.environ.get("WANDB_MODE")
    if mode:
        return mode
    if os.environ.get("CI") or not _has_wandb_key() or not _reachable():
        return "offline"
    return "online"


def build_logger(logger_cfg, config: dict, name: str, group: str | None, tags: list[str],
                 job_type: str = "train", run_id: str | None = None):
    """Instantiate the configured logger (None for logger=none).

    W&B: `config` is wandb.init's (the whole run config as a plain dict), `group` gathers a
    sweep's trials, `job_type` (unless the config sets one) and `tags` tell them apart by model
    and data; the mode (online/offline) is decided here, before the run starts."""
    from aebench.train import build

    if not logger_cfg:
        return None
    if not str(logger_cfg.get("_target_", "")).endswith("WandbLogger"):
        return build(logger_cfg)
    mode = wandb_mode()
    os.environ["WANDB_MODE"] = mode
    os.environ.setdefault("WANDB_SILENT", "true")
    if mode == "disabled":
        return None
    resumed = {"id": run_id, "resume": "allow"} if run_id else {}  # a resumed run continues its W&B run
    # built in two steps so that `config` (which holds _target_ keys) is passed, not instantiated
    factory = build(logger_cfg, _partial_=True)
    return factory(name=name, group=group, config=config,
                   tags=list(tags) + list(logger_cfg.get("tags") or []),
                   job_type=logger_cfg.get("job_type") or job_type,
                   offline=mode == "offline", **resumed)


def finish_wandb(logger, failed: bool) -> str | None:
    """Close the job's W&B run (so the next job of a multirun gets its own); return a note for offline runs."""
    if logger is None or type(logger).__name__ != "WandbLogger":
        return None
    note = None
    run = logger._experiment  # None when the run never started
    if run is not None:
        if os.environ.get("WANDB_MODE") in ("offline", "dryrun"):  # Lightning sets "dryrun"
            run_dir = Path(run.dir).parent
            note = f"W&B offline run saved in {run_dir}; upload it with: wandb sync {run_dir}"
        run.finish(exit_code=1 if failed else 0)
    return note

"""Multirun sweeps: resources per trial, failed trials recorded, the leaderboard at the end.

Every trial runs through `run_trial`: an exception is written to the trial's folder
(metrics.json with status "failed", error.txt) instead of stopping the sweep, and
`LeaderboardCallback` writes leaderboard.md/.csv and plots when the sweep ends; the entry point
then exits with the number of trials that did not finish.
"""
from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from aebench.core.config import plain, sweep_device_error

log = logging.getLogger("aebench")

def trial_threads() -> int | None:
    """The CPU cores the launcher gave this trial (Ray task resources or SLURM), if any."""
    try:
        import ray

        if ray.is_initialized() and ray.get_runtime_context().worker.mode == ray.WORKER_MODE:
            cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
            if cpus:
                return max(1, int(cpus))
    except ImportError:
        pass
    if os.environ.get("SLURM_CPUS_PER_TASK"):
        return int(os.environ["SLURM_CPUS_PER_TASK"])
    return None


# -- one trial --------------------------------------------------------------------------------
def check_trainer_for_sweep(cfg: DictConfig) -> None:
    """A trial gets one device: DDP inside a sweep launcher hangs or duplicates trials."""
    strategy = str(cfg.trainer.get("strategy", "auto"))
    devices = cfg.trainer.get("devices", 1)
    many = (isinstance(devices, int) and devices > 1) or (
        not isinstance(devices, (int, str)) and len(devices) > 1) or devices == -1
    if "ddp" in strategy or many:
        raise sweep_device_error(f"trainer strategy={strategy} devices={devices}")


def failure_record(cfg: DictConfig, choices: dict, overrides: list, out_dir: Path, error: str,
                   **extra) -> dict:
    """metrics.json of a failed trial: its one-line error and what the trial was."""
    return {
        "status": "failed", "error": error,
        **{k: choices.get(k) for k in ("model", "data", "degradation")},
        **{k: plain(cfg.get(k)) for k in ("latent", "depth", "blur", "seed")},
        "overrides": list(overrides), "output_dir": str(out_dir), **extra}


def run_trial(cfg: DictConfig, choices: dict, overrides: list, group: str | None) -> float | None:
    """Run one trial of a multirun through `train.run`; never raises. Returns
    `optimized_metric`, None on failure (Optuna then marks the trial failed and goes on; a NaN
    would stop its sweeper). A failure is written to the trial's folder (metrics.json with
    status failed, error.txt with the traceback)."""
    from aebench.running.outputs import write_json
    from aebench.running.train import finished_metrics, run

    launch_dir = os.environ.get("AEBENCH_LAUNCH_DIR")  # set by hydra/launcher=ray_cluster
    if launch_dir and Path(launch_dir).is_dir():
        os.chdir(launch_dir)  # relative paths (data.root) mean what they meant at the launch
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = finished_metrics(out_dir) if cfg.get("resume") else None
    if done is not None:  # a resumed sweep keeps what already finished
        log.info("trial in %s already finished: kept", out_dir)
        return objective(cfg, done)
    threads = trial_threads()
    if threads:
        import torch

        torch.set_num_threads(threads)
    trial = {"host": socket.gethostname(), "pid": os.getpid(),
             "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
             "threads": threads, "started": time.time()}
    try:
        check_trainer_for_sweep(cfg)
        metrics = run(cfg, choices, overrides, group=group, trial=trial)
    except Exception as err:  # recorded; the other trials go on
        log.error("trial in %s failed: %s: %s", out_dir, type(err).__name__, err)
        (out_dir / "error.txt").write_text("".join(
            traceback.format_exception(type(err), err, err.__traceback__)))
        first = (str(err).strip().splitlines() or [""])[0]
        write_json(failure_record(cfg, choices, overrides, out_dir,
                                  f"{type(err).__name__}: {first}",
                                  error_file=str(out_dir / "error.txt"),
                                  trial={**trial, "finished": time.time()}),
                   out_dir / "metrics.json")
        return None
    return objective(cfg, metrics)


def objective(cfg: DictConfig, metrics: dict) -> float | None:
    """The value a sweeper optimises: `optimized_metric` of metrics.json (None if absent)."""
    key = cfg.get("optimized_metric") or "test_psnr"
    value = metrics.get(key)
    if value is None:
        if not optuna_sweep():  # only a sweeper that optimises reads it; a filter has no val_*
            return None
        log.warning("optimized_metric=%s is not in this run's metrics (it has: %s)", key,
                    ", ".join(k for k, v in metrics.items() if isinstance(v, float)))
        return None
    return float(value)


def optuna_sweep() -> bool:
    """Whether this job is a trial of an Optuna sweep (hparams_search=...): the one sweeper that
    reads `optimized_metric`, so the one place a missing value is worth a warning."""
    try:
        from hydra.core.hydra_config import HydraConfig

        sweeper = HydraConfig.get().sweeper
    except (ImportError, ValueError):  # not under Hydra (config.compose, the Python API)
        return False
    return "optuna" in str(sweeper.get("_target_", "")).lower()


# -- the end of a sweep -----------------------------------------------------------------------
def sweep_group(sweep_dir) -> str:
    """The W&B group of a sweep's trials (and of its leaderboard run): named after its folder."""
    return "sweep-" + Path(str(sweep_dir)).as_posix().replace("/", "_").strip("_")


class LeaderboardCallback(Callback):
    """At the end of a multirun (also a partial one): leaderboard.md/.csv, plots and report.html
    in the sweep folder, the leaderboard printed with each trial's gain over its baseline, the
    leaderboard as a table in one more W&B run of the sweep's group (job_type `leaderboard`)
    when the runs log to W&B, and the count of failed trials for the exit status."""

    def on_multirun_end(self, config: DictConfig | None = None, sweep_dir=None, **kwargs) -> None:
        from aebench.running.leaderboard import write_leaderboard

        sweep_dir = Path(str(sweep_dir or config.hydra.sweep.dir))
        info = write_leaderboard(sweep_dir)
        print(info["table"])
        print(f"aebench: {info['trials']} trials: {info['ok']} ok, {info['failed']} failed, "
              f"{info['unfinished']} unfinished; report: {info['html']} "
              f"(leaderboard.md/.csv beside it)")
        logger_cfg = config.get("logger") if config is not None else None
        if logger_cfg:
            from aebench.running.loggers import log_leaderboard, sweep_sync_command

            try:
                note = log_leaderboard(logger_cfg, sweep_dir, sweep_group(sweep_dir))
            except Exception as err:  # noqa: BLE001 - the files above are the sweep's record
                log.error("the leaderboard could not be sent to W&B: %s: %s",
                          type(err).__name__, err)
                sync = sweep_sync_command(sweep_dir)
                if sync:
                    print(f"W&B: the trials' offline runs upload with: {sync}")
            else:
                if note:
                    print(note)


def leaderboard_written(sweep_dir: Path, since: float) -> bool:
    """Whether `LeaderboardCallback` ended this sweep: its leaderboard is newer than `since` (the
    time the sweep started; a resumed sweep folder holds the earlier one)."""
    board = Path(sweep_dir) / "leaderboard.md"
    return board.is_file() and board.stat().st_mtime >= since


def failed_trials(sweep_dir: Path) -> int:
    """Trials of the sweep in `sweep_dir` that did not finish with results (the entry point's
    exit status), read from the folder as the leaderboard reads it."""
    from aebench.running.trials import collect_trials, counts

    n = counts(collect_trials([sweep_dir]))
    return n["failed"] + n["unfinished"]


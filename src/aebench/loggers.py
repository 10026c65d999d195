"""Experiment loggers: W&B (default, offline whenever it cannot go online without asking), CSV, none."""
from __future__ import annotations

import netrc
import os
from pathlib import Path


def _base_url() -> str:
    """The W&B server runs go to: WANDB_BASE_URL, else wandb's own settings (its default host)."""
    url = os.environ.get("WANDB_BASE_URL")
    if url:
        return url
    try:
        import wandb

        return wandb.Settings().base_url  # wandb's default (no session is started)
    except Exception:  # noqa: BLE001 - an older/newer wandb: its public default
        return "https://api.wandb.ai"


def _has_wandb_key() -> bool:
    """Whether wandb would find credentials for its server, looked up as wandb itself does:
    WANDB_API_KEY / WANDB_IDENTITY_TOKEN_FILE, the netrc file (NETRC or ~/.netrc), then the
    api_key of its settings files (WANDB_CONFIG_DIR/settings, ./wandb/settings)."""
    try:
        from wandb.sdk.lib.wbauth import authenticate, host_url
    except ImportError:  # a wandb without that lookup: the two places every version reads
        if os.environ.get("WANDB_API_KEY"):
            return True
        try:
            host = _base_url().split("://")[-1].split("/")[0]
            return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
        except (FileNotFoundError, netrc.NetrcParseError, OSError):
            return False
    from wandb.sdk import wandb_setup

    # Looking must not start wandb's session: its settings read the WANDB_* variables once, and
    # the mode (decided from this answer) is set after. A session made here is dropped again.
    fresh = wandb_setup._singleton is None
    try:
        found = authenticate._use_system_auth(host=host_url.HostUrl(_base_url()),
                                              source="aebench", update_session=False)
    except Exception:  # noqa: BLE001 - a malformed key: wandb would refuse it too
        found = None
    finally:
        if fresh:
            with wandb_setup._singleton_lock:
                wandb_setup._singleton = None
    return found is not None


def _reachable(timeout: float = 2.0) -> bool:
    """Whether the W&B server (WANDB_BASE_URL, default api.wandb.ai) answers HTTP within
    `timeout` (a TCP connect alone is not enough: proxies accept connections they never serve)."""
    import urllib.error
    import urllib.request

    base = _base_url().rstrip("/")
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
                 job_type: str = "train", run_id: str | None = None, names: dict | None = None):
    """Instantiate the configured logger (None for logger=none).

    W&B: `config` is wandb.init's (the whole run config as a plain dict), `group` gathers a
    sweep's trials, `job_type` (unless the config sets one) and `tags` tell them apart by model
    and data; `names` (the chosen model, data and degradation) become flat config keys
    `model_name`, `data_name`, `degradation_name`, which the runs table and parallel
    coordinates can use (the nested `model`, `data`, ... sub-configs stay). The mode
    (online/offline) is decided here, before the run starts."""
    from aebench.config import build

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
    flat = {f"{k}_name": v for k, v in (names or {}).items()}
    # WandbLogger refuses offline=True with log_model; WANDB_MODE (set above) keeps it offline
    offline = mode == "offline" and not logger_cfg.get("log_model")
    # built in two steps so that `config` (which holds _target_ keys) is passed, not instantiated
    factory = build(logger_cfg, _partial_=True)
    return factory(name=name, group=group, config={**flat, **config},
                   tags=list(tags) + list(logger_cfg.get("tags") or []),
                   job_type=logger_cfg.get("job_type") or job_type, offline=offline, **resumed)


def wandb_run(logger):
    """The live W&B run behind `logger` (a WandbLogger), or None for any other logger."""
    if logger is None or type(logger).__name__ != "WandbLogger":
        return None
    run = logger.experiment
    return run if hasattr(run, "summary") and hasattr(run, "define_metric") else None


#: how W&B summarises each validation/test score: best over the epochs, not the last epoch's
SUMMARY_GOALS = {"psnr": "max", "ssim": "max", "psnr_gain": "max", "loss": "min", "mse": "min",
                 "mae": "min"}


def define_metrics(run) -> None:
    """W&B summarises each validation score by its best epoch (PSNR/SSIM/gain max, loss/MSE/MAE
    min) instead of the last epoch's value; the epoch loss of training likewise (min)."""
    for name, summary in SUMMARY_GOALS.items():
        run.define_metric(f"val/{name}", step_metric="trainer/global_step", summary=summary)
    run.define_metric("train/loss_epoch", step_metric="trainer/global_step", summary="min")


def objective_goal(name: str) -> str:
    """"maximize" or "minimize" for a metrics.json score name (val_psnr, test_mse, ...)."""
    return {"max": "maximize", "min": "minimize"}[
        SUMMARY_GOALS.get(name.split("_", 1)[-1], "max")]


def _summary_value(value):
    """metrics.json value -> W&B summary value (numbers and text; dicts of those; else None)."""
    if isinstance(value, bool) or isinstance(value, (int, float, str)):
        return value
    if isinstance(value, dict):
        inner = {k: _summary_value(v) for k, v in value.items()}
        inner = {k: v for k, v in inner.items() if v is not None}
        return inner or None
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float, str)) for v in value):
        return " ".join(map(str, value))
    return None


#: pictures a run leaves in its folder that go to W&B as images (when they were made)
RUN_IMAGES = ("reconstructions", "loss_curve", "latent_pca", "latent_tsne", "confusion_matrix",
              "anomaly_scores")


def log_results(logger, metrics: dict, out_dir: Path, best_val: dict | None = None,
                objective: str | None = None) -> None:
    """A finished run's results into the experiment logger.

    W&B: every entry of metrics.json goes to the summary under its metrics.json name (numbers,
    text; lists joined), the best epoch's validation scores as `val_<name>` (what metrics.json's
    val_psnr / val_mse and an Optuna objective hold), the objective as `objective` with its name
    in `optimized_metric`, and the run's PNGs as images. Other loggers: their images if they can
    take them."""
    out_dir = Path(out_dir)
    run = wandb_run(logger)
    if run is None:
        if logger is not None and hasattr(logger, "log_image"):
            for name in RUN_IMAGES:
                if (out_dir / f"{name}.png").is_file():
                    logger.log_image(key=name, images=[str(out_dir / f"{name}.png")])
        return
    import wandb

    summary = {}
    for key, value in (best_val or {}).items():  # val/psnr -> val_psnr, as in metrics.json
        summary[key.replace("/", "_")] = value
    for key, value in metrics.items():
        value = _summary_value(value)
        if value is not None:
            summary[key] = value
    objective = objective or run.config.get("optimized_metric")
    if objective and objective in summary:
        summary["optimized_metric"] = objective
        summary["objective"] = summary[objective]
        summary["objective_goal"] = objective_goal(objective)
    run.summary.update(summary)
    images = {name: wandb.Image(str(out_dir / f"{name}.png")) for name in RUN_IMAGES
              if (out_dir / f"{name}.png").is_file()}
    if images:
        run.log(images)


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


def log_leaderboard(logger_cfg, sweep_dir: Path, group: str) -> str | None:
    """The sweep's leaderboard as a `wandb.Table` (key `leaderboard`) in one extra run of the
    sweep's W&B group (job_type `leaderboard`, saved in the sweep folder), with the counts of
    ok / failed / unfinished trials in its summary. Nothing for other loggers or with
    WANDB_MODE=disabled; returns the offline note (like a trial's) or None."""
    if not logger_cfg or not str(logger_cfg.get("_target_", "")).endswith("WandbLogger"):
        return None
    mode = wandb_mode()
    if mode == "disabled":
        return None
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    from aebench.trials import COLUMNS, collect_trials, counts, raw_value

    trials = collect_trials([sweep_dir])
    cols = [h for h, _, _ in COLUMNS]
    rows = [[_table_cell(raw_value(t, k)) for _, k, _ in COLUMNS] for t in trials]
    run = wandb.init(project=logger_cfg.get("project"), entity=logger_cfg.get("entity"),
                     group=group, job_type="leaderboard", name=f"leaderboard {group}",
                     dir=str(sweep_dir), mode="offline" if mode == "dryrun" else mode,
                     tags=list(logger_cfg.get("tags") or []) + ["leaderboard"],
                     config={"sweep_dir": str(sweep_dir)}, reinit="create_new")
    failed = True
    try:
        run.log({"leaderboard": wandb.Table(columns=cols, data=rows)})
        run.summary.update(counts(trials))
        failed = False
    finally:
        run.finish(exit_code=1 if failed else 0)
    if mode in ("offline", "dryrun"):
        run_dir = Path(run.dir).parent
        return f"W&B offline leaderboard run saved in {run_dir}; upload it with: wandb sync {run_dir}"
    return None


def _table_cell(value):
    """One leaderboard cell for a wandb.Table column (a column holds one type: text or number)."""
    if value == "" or value is None:
        return None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)

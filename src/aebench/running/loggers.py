"""Experiment loggers: W&B (default, offline whenever it cannot go online without asking), CSV, none."""
from __future__ import annotations

import os
from pathlib import Path


def _base_url() -> str:
    """The W&B server runs go to: WANDB_BASE_URL, else wandb's default host (`wandb.Settings`)."""
    url = os.environ.get("WANDB_BASE_URL")
    if url:
        return url
    import wandb

    return wandb.Settings().base_url  # a settings object only: no session is started


def _has_wandb_key() -> bool:
    """Whether wandb finds credentials, asked through its public API: `wandb.login(prompt=False,
    verify=False)` looks where wandb looks (WANDB_API_KEY or an identity token file, its settings
    files, the netrc file: NETRC or ~/.netrc), never prompts and does not use the network.

    Asking starts wandb's session, whose settings read the WANDB_* variables once; it is ended
    again (`wandb.teardown`) so that the run started next reads the mode decided from this
    answer. A key wandb refuses (too short) counts as none: wandb would not go online with it."""
    import wandb

    if wandb.run is not None:  # a live run in this process: its session has decided already
        return not (wandb.run.offline or wandb.run.disabled)
    silent = os.environ.get("WANDB_SILENT")
    os.environ["WANDB_SILENT"] = "true"  # no "logged in as" line (it would ask the server who)
    wandb.teardown()  # a session of an earlier run holds the variables of its time
    try:
        return bool(wandb.login(prompt=False, verify=False))
    except wandb.errors.Error:  # a malformed key (AuthenticationError, UsageError)
        return False
    finally:
        wandb.teardown()
        if silent is None:
            os.environ.pop("WANDB_SILENT", None)
        else:
            os.environ["WANDB_SILENT"] = silent


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
    """online, offline or disabled: WANDB_MODE if the user set it (wandb's "dryrun" is offline;
    WANDB_DISABLED=true is disabled); otherwise offline under CI, without a key (`_has_wandb_key`)
    or when the server does not answer within 2 s, else online."""
    mode = os.environ.get("WANDB_MODE")
    if mode:
        return "offline" if mode == "dryrun" else mode
    if os.environ.get("WANDB_DISABLED", "").lower() in ("true", "1", "yes"):
        return "disabled"
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
    from aebench.core.config import build

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


def run_note(run) -> str | None:
    """The line printed at the end of a run about its W&B run: the URL (online), or the offline
    folder and the command that uploads it; None when W&B is disabled. Read from the run's
    public properties (`offline`, `disabled`, `url`, `dir`)."""
    if run is None or run.disabled:
        return None
    if run.offline:
        folder = Path(run.dir).parent  # .../wandb/offline-run-<time>-<id>
        return f"W&B: offline run in {folder}; upload it with: wandb sync {folder}"
    return f"W&B: {run.url}"


def finish_wandb(logger, failed: bool) -> str | None:
    """Close the job's W&B run (so the next job of a multirun gets its own); return its
    `run_note` (URL, or offline folder and `wandb sync` command) to print at the end."""
    if logger is None or type(logger).__name__ != "WandbLogger":
        return None
    note = None
    run = logger._experiment  # None when the run never started
    if run is not None:
        note = run_note(run)
        run.finish(exit_code=1 if failed else 0)
    return note


def sweep_sync_command(sweep_dir: Path) -> str | None:
    """One `wandb sync` command that uploads every offline W&B run of a sweep folder: each
    trial's (TRIAL/wandb/) and the leaderboard run's (SWEEP/wandb/). wandb sync takes "wandb
    directories containing run directories", so the command names those folders: as the shell
    pattern SWEEP/*/wandb when every trial sits one level down (Hydra's sweeps), else one by
    one. None when the sweep holds no offline run."""
    sweep_dir = Path(sweep_dir)
    folders = sorted({p.parent.parent for p in sweep_dir.glob("**/wandb/offline-run-*/*.wandb")})
    if not folders:
        return None
    names = [str(sweep_dir / "wandb")] if sweep_dir / "wandb" in folders else []
    trials = [f for f in folders if f != sweep_dir / "wandb"]
    if trials and all(f.parent.parent == sweep_dir for f in trials):
        names.append(f"{sweep_dir}/*/wandb")
    else:
        names += [str(f) for f in trials]
    return "wandb sync " + " ".join(names)


def log_leaderboard(logger_cfg, sweep_dir: Path, group: str) -> str | None:
    """The sweep's leaderboard as a `wandb.Table` (key `leaderboard`) in one extra run of the
    sweep's W&B group (job_type `leaderboard`, saved in the sweep folder), with the counts of
    ok / failed / unfinished trials in its summary. Failed and unfinished trials are rows too,
    whatever they hold (`table_rows`). Nothing for other loggers or with WANDB_MODE=disabled;
    returns the lines to print: the run's URL (online: and the project's, where the group's
    trials are), or where the sweep's offline runs are and the one command that uploads them
    all."""
    if not logger_cfg or not str(logger_cfg.get("_target_", "")).endswith("WandbLogger"):
        return None
    mode = wandb_mode()
    if mode == "disabled":
        return None
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    from aebench.running.trials import COLUMNS, collect_trials, counts, raw_value

    trials = collect_trials([sweep_dir])
    cols = [h for h, _, _ in COLUMNS]
    rows = table_rows([[raw_value(t, k) for _, k, _ in COLUMNS] for t in trials])
    run = wandb.init(project=logger_cfg.get("project"), entity=logger_cfg.get("entity"),
                     group=group, job_type="leaderboard", name=f"leaderboard {group}",
                     dir=str(sweep_dir), mode=mode,
                     tags=list(logger_cfg.get("tags") or []) + ["leaderboard"],
                     config={"sweep_dir": str(sweep_dir)}, reinit="create_new")
    failed = True
    try:
        run.log({"leaderboard": wandb.Table(columns=cols, data=rows)})
        run.summary.update(counts(trials))
        failed = False
    finally:
        offline, url, project_url = run.offline, run.url, run.project_url
        run.finish(exit_code=1 if failed else 0)
    if offline:
        sync = sweep_sync_command(sweep_dir)
        return (f"W&B: the sweep's runs are offline (one per trial, and the leaderboard's in "
                f"{Path(sweep_dir) / 'wandb'}); upload them all with: {sync}")
    return f"W&B: leaderboard {url}; the trials: group {group} in {project_url}"


def table_rows(rows: list[list]) -> list[list]:
    """Leaderboard rows for a `wandb.Table`, whose every column holds one type: empty cells
    become None, and a column where any cell is text (a failed trial's "???", a range of blurs
    "0.5-2") is text in every row; other columns stay numbers (booleans become text)."""
    def empty(v):
        return v is None or v == ""

    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    text = {j for row in rows for j, v in enumerate(row) if not empty(v) and not number(v)}
    return [[None if empty(v) else (str(v) if j in text else v) for j, v in enumerate(row)]
            for row in rows]

"""Command line: `python -m aebench [overrides]` / `python -m aebench -m key=a,b,c`.

Hydra parses the command line. Before it does, the few checks that must print one line instead
of Hydra's error block run here (group options and keys that do not exist, DDP inside a sweep,
an unusable Optuna storage), and two arguments are given a meaning Hydra cannot give: the sweep
folder (one absolute, unique path for trials on any launcher) and `resume=` (the folder to
continue). Then `job` turns Hydra's runtime into arguments: a run is `train.run(cfg, choices,
overrides)`, a sweep trial the same call through `sweep.run_trial`.
"""
from __future__ import annotations

import sys
from pathlib import Path

from aebench.config import CONF_DIR, check_group_choices, check_keys
from aebench.errors import ConfigError, fail


def is_multirun(args: list[str]) -> bool:
    return bool({"-m", "--multirun"} & set(args)) or any(
        a.startswith("hparams_search=") for a in args)


def check_sweep_args(args: list[str]) -> tuple[list[str], Path | None]:
    """Multirun only: refuse DDP, and pin the sweep folder to one absolute, unique path.

    The folder is decided here, once, so that trials on Ray workers, SLURM nodes or submitit
    processes all write below the same absolute path, and two sweeps started in the same
    second (even the same millisecond) never share a folder.
    """
    if not is_multirun(args):
        if any(a.startswith("hydra.run.dir=") for a in args):
            return args, None  # resume= then means that folder
        resumed = find_resume_dir(args, multirun=False)
        if resumed is not None:
            args = _with_override(args, f"hydra.run.dir={resumed}")
        return args, None
    for arg in args:
        key, _, value = arg.partition("=")
        key = key.lstrip("+~")
        if (key == "trainer" and "ddp" in value.split(",")) or (
                key == "trainer.strategy" and "ddp" in value):
            raise ConfigError(
                f"{arg} cannot run inside a multirun (-m): DDP starts a process per GPU, which "
                "hangs or duplicates trials under a sweep launcher. Run DDP as a single job "
                "(python -m aebench trainer=ddp), or sweep with hydra/launcher=parallel to put "
                "one trial on each GPU")
    check_optuna_storage(args)
    for arg in args:
        if arg.lstrip("+~").startswith("hydra.sweep.dir="):
            return args, Path(arg.split("=", 1)[1]).absolute()
    resumed = find_resume_dir(args, multirun=True)
    if resumed is not None:  # the same sweep folder: finished trials are kept, the rest rerun
        return _with_override(args, f"hydra.sweep.dir={resumed}"), resumed
    import datetime
    import os

    stamp = datetime.datetime.now().strftime("%Y-%m-%d/%H-%M-%S-%f")
    sweep_dir = Path.cwd() / "multirun" / stamp
    while sweep_dir.exists():  # a second sweep in the same microsecond
        sweep_dir = sweep_dir.with_name(sweep_dir.name + f"-{os.getpid()}")
    return _with_override(args, f"hydra.sweep.dir={sweep_dir}"), sweep_dir


def check_optuna_storage(args: list[str]) -> None:
    """An Optuna study's SQLite file gets its folder (the presets' multirun/optuna.db is relative
    to the working directory, whatever the sweep folder); a folder that cannot be made is one line."""
    if not any(a.startswith("hparams_search=") for a in args):
        return
    url = next((a.split("=", 1)[1] for a in args
                if a.lstrip("+~").startswith("hydra.sweeper.storage=")), "sqlite:///multirun/optuna.db")
    if not url.startswith("sqlite:///"):
        return  # a database server: Optuna reports what it cannot reach
    folder = Path(url[len("sqlite:///"):]).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"hydra.sweeper.storage={url}: cannot create {folder} ({err.strerror}); "
                          "give a writable sqlite:///PATH or a database URL") from None


def _with_override(args: list[str], override: str) -> list[str]:
    """`args` plus `override`, next to the other overrides (argparse takes them as one run of
    positional arguments, so one placed after `--cfg job` would be refused)."""
    at = next((i for i, a in enumerate(args) if "=" in a and not a.startswith("-")), len(args))
    return [*args[:at], override, *args[at:]]


def _task_overrides(args: list[str]) -> list[str]:
    """The overrides that define a run (what `resume=true` matches on)."""
    return [a for a in args if "=" in a and not a.startswith("-")
            and not a.lstrip("+~").startswith(("resume=", "hydra.", "hydra/", "overwrite="))]


def find_resume_dir(args: list[str], multirun: bool) -> Path | None:
    """The folder `resume=` points at: a given run/sweep folder, or with `resume=true` the latest
    one under outputs/ (multirun/) started with the same overrides."""
    value = next((a.split("=", 1)[1] for a in args if a.startswith("resume=")), None)
    if value is None or value.lower() in ("false", "null", "none", "0"):
        return None
    if value.lower() not in ("true", "1", "yes"):
        folder = Path(value).absolute()
        marker = "multirun.yaml" if multirun else ".hydra/overrides.yaml"
        if not (folder / marker).is_file():
            raise ConfigError(f"resume={value}: {folder} is not a "
                              f"{'sweep' if multirun else 'run'} folder (no {marker}); give the "
                              "folder printed by the run, or resume=true")
        return _checked(folder, multirun)
    import yaml

    wanted = _task_overrides(args)
    if multirun:
        found = [(f.parent, (yaml.safe_load(f.read_text()) or {}).get("hydra", {})
                  .get("overrides", {}).get("task", []))
                 for f in Path("multirun").glob("*/*/multirun.yaml")]
    else:
        found = [(f.parent.parent, yaml.safe_load(f.read_text()) or [])
                 for f in Path("outputs").glob("*/*/.hydra/overrides.yaml")]
    same = sorted(d for d, o in found if _task_overrides([str(x) for x in o]) == wanted)
    if not same:
        where = "multirun/" if multirun else "outputs/"
        raise ConfigError(f"resume=true: no earlier {'sweep' if multirun else 'run'} with the "
                          f"overrides {' '.join(wanted) or '(none)'} under {where}; give its "
                          "folder: resume=FOLDER")
    return _checked(same[-1].absolute(), multirun)


def _checked(folder: Path, multirun: bool) -> Path:
    """A run folder to resume, its overrides checked as input (aebench.runfolder): only config
    options and values. (A sweep folder's trials run with this command's own overrides.)"""
    if not multirun:
        from aebench.runfolder import read_overrides

        read_overrides(folder / ".hydra" / "overrides.yaml")
    return folder


def job(cfg):
    """Hydra's task function (module level, so that Ray and submitit can ship it to workers).

    The only place that reads Hydra's runtime: it becomes the arguments of the run. A single
    run raises (user errors: one line, exit 2); a sweep trial records its failure in its folder
    and returns None, so the other trials go on.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from aebench.errors import RunStopped
    from aebench.sweep import objective, run_trial, sweep_group
    from aebench.train import run

    hc = HydraConfig.get()
    choices = {k: v for k, v in hc.runtime.choices.items() if not k.startswith("hydra")}
    overrides = list(hc.overrides.task)
    if hc.mode == RunMode.MULTIRUN:
        return run_trial(cfg, choices, overrides, sweep_group(hc.sweep.dir))
    try:
        metrics = run(cfg, choices, overrides)
    except ConfigError as err:
        fail(str(err))
    except RunStopped as err:
        fail(str(err), err.exit_code)
    return objective(cfg, metrics)


def main(argv: list[str] | None = None) -> None:
    """`python -m aebench ARGS`; exits with 2 on bad input, and after a sweep with the number of
    trials that did not finish."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        check_group_choices(args)
        args, sweep_dir = check_sweep_args(args)
        if "--help" not in args and "-h" not in args:
            check_keys(args)
    except ConfigError as err:
        fail(str(err))
    import os

    # Ray, when a sweep uses it: no usage reporting, no token for a local cluster
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")  # optuna 2.10 on SQLAlchemy 1.4
    import hydra

    from aebench import sweep

    sweep.LAST_SWEEP.clear()
    sys.argv[1:] = args
    try:
        hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")(job)()
    except SystemExit:
        # The sweep itself stopped (a Ray worker killed, an Optuna study without one finished
        # trial): Hydra has printed why; the leaderboard still shows what the trials left.
        if sweep_dir is not None and sweep_dir.is_dir() and not sweep.LAST_SWEEP:
            sweep.LeaderboardCallback().on_multirun_end(sweep_dir=sweep_dir)
            sys.exit(min(max(sweep.failed_trials(), 1), 255))
        raise
    if sweep.LAST_SWEEP:  # a multirun ended: exit status = trials without results
        sys.exit(min(sweep.failed_trials(), 255))

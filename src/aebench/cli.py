"""The `aebench` command: `aebench [SUBCOMMAND] ARGS`, training when no subcommand is named.

    aebench [train] [OVERRIDES] [-m] [--cfg job]   Hydra's override syntax (key=value, group=option)
    aebench restore|evaluate|export|report|eda|analyze|dashboard ARGS   argparse, --help on each
    aebench completion bash                        a bash completion script

Every entry point comes through `main` (`aebench X`, `python -m aebench X` and `python -m
aebench.X` are one code path) with one contract: exit status 0 done, 2 bad input (one line on
stderr, `aebench: error: ...`), 1 a run that failed (a sweep: the number of failed trials), 130
interrupted. The subcommands' parsers live here, so `--help` and a bad argument cost no torch
import; each command module's `command(args)` does the work.

Training: Hydra parses the command line. Before it does, the few checks that must print one line
instead of Hydra's error block run here (group options and keys that do not exist, top-level ones
included, DDP inside a sweep, an unusable Optuna storage), and two arguments are given a meaning
Hydra cannot give: the sweep folder (one absolute, unique path for trials on any launcher) and
`resume=` (the folder to continue). Then `job` turns Hydra's runtime into arguments: a run is
`train.run(cfg, choices, overrides)`, a sweep trial the same call through `sweep.run_trial`.
"""
from __future__ import annotations

import argparse
import difflib
import sys
import time
from pathlib import Path

from aebench.core.config import CONF_DIR, check_group_choices, check_keys, options, sweep_device_error
from aebench.core.errors import ConfigError, Parser, fail, remove_new_folder, run_main


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
            raise sweep_device_error(arg)
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
    """A run folder to resume, its overrides checked as input (aebench.running.runfolder): only config
    options and values. (A sweep folder's trials run with this command's own overrides.)"""
    if not multirun:
        from aebench.running.runfolder import read_overrides

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

    from aebench.core import noise
    from aebench.core.errors import RunStopped
    from aebench.running.sweep import objective, run_trial, sweep_group
    from aebench.running.train import run

    noise.install()  # again in a launcher's worker process (Ray, submitit)
    hc = HydraConfig.get()
    choices = {k: v for k, v in hc.runtime.choices.items() if not k.startswith("hydra")}
    overrides = list(hc.overrides.task)
    if hc.mode == RunMode.MULTIRUN:
        return run_trial(cfg, choices, overrides, sweep_group(hc.sweep.dir))
    try:
        metrics = run(cfg, choices, overrides)
    except ConfigError as err:
        if _FRESH_RUN_DIR[0]:
            remove_new_folder(Path(hc.runtime.output_dir))
        fail(str(err))
    except RunStopped as err:
        fail(str(err), err.exit_code)
    return objective(cfg, metrics)


#: set by `train` for a single run: True when this command creates the run's folder (Hydra's
#: default folder, or a hydra.run.dir= that did not exist), so that a run that fails its checks
#: leaves nothing behind; False for a folder that was there before (resume=, a given folder)
_FRESH_RUN_DIR = [False]


# -- train: Hydra's command line ------------------------------------------------------------------
#: Hydra's own flags (hydra._internal.utils.get_args_parser), and those followed by a value
HYDRA_FLAGS = {"-h", "--help", "--hydra-help", "--version", "-c", "--cfg", "--resolve", "-p",
               "--package", "-r", "--run", "-m", "--multirun", "-sc", "--shell-completion",
               "-cp", "--config-path", "-cn", "--config-name", "-cd", "--config-dir", "-i",
               "--info", "--experimental-rerun"}
_VALUE_FLAGS = {"-c", "--cfg", "-p", "--package", "-cp", "--config-path", "-cn", "--config-name",
                "-cd", "--config-dir", "--experimental-rerun"}
_INFO = ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath")


def check_train_args(args: list[str]) -> None:
    """ConfigError for what Hydra's parser would refuse with its usage block: an unknown flag, a
    `--cfg` that is not job/hydra/all, a word that is neither a flag nor KEY=VALUE."""
    i = 0
    while i < len(args):
        arg = args[i]
        flag, eq, value = arg.partition("=")
        if arg.startswith("-"):
            if flag not in HYDRA_FLAGS:
                near = difflib.get_close_matches(flag, sorted(HYDRA_FLAGS), n=1)
                raise ConfigError(f"train: {flag} is not an option"
                                  + (f"; did you mean {near[0]}?" if near else "")
                                  + " (see aebench train --help)")
            if flag in _VALUE_FLAGS and not eq:
                if i + 1 >= len(args):
                    raise ConfigError(f"train: {flag} needs a value (see aebench train --help)")
                value, i = args[i + 1], i + 1
            if flag in ("-c", "--cfg") and value not in ("job", "hydra", "all"):
                raise ConfigError(f"train: {flag} {value}: choose one of job, hydra, all")
            if flag in ("-i", "--info") and i + 1 < len(args) and args[i + 1] in _INFO:
                i += 1
        elif "=" not in arg:
            near = difflib.get_close_matches(arg, list(COMMANDS), n=1)
            raise ConfigError(
                f"{arg!r} is not " + ("a subcommand or " if i == 0 else "")
                + "an override KEY=VALUE" + (f"; did you mean {near[0]}?" if near and i == 0 else "")
                + " (see aebench --help)")
        i += 1


TRAIN_HELP = """\
usage: aebench [train] [KEY=VALUE | GROUP=OPTION ...] [-m] [--cfg job] [--help]

Train one model into outputs/DATE/TIME (metrics.json, report.html, checkpoints, W&B), or with
-m one run per combination of comma-separated values into multirun/DATE/TIME (plus a
leaderboard and report.html). Hydra's override syntax: key=value, group=option, +new.key=value.

examples:
  aebench                                          # lstm on procedural shapes, blur 1.0
  aebench model=lstm data=cifar10 data.root=DIR
  aebench data=mnist model=cnn degradation=none latent=8 depth=2
  aebench data=folder data.root=DIR data.size=64 data.channels=1   # your own images
  aebench -m latent=32,128,256                     # a sweep: one run per value
  aebench -m depth=1,2 blur=0.5,1.0,2.0
  aebench -m experiment=benchmark_shapes           # what `make run` runs
  aebench model=cnn latent=64 --cfg job            # print the composed config, train nothing
  aebench resume=true ...                          # continue the last run of these overrides

options:
  -m, --multirun   sweep: one run per combination of the comma-separated values
  --cfg job        print the composed config and exit
  --hydra-help     Hydra's own flags (launchers, sweepers, --info)
  -h, --help       this help (with overrides: the config they compose)
"""


def train_help(args: list[str]) -> str:
    """`aebench train --help`: usage, examples, the config groups and the composed config (the
    overrides given shape it), without importing torch."""
    from omegaconf import OmegaConf

    from aebench.core.config import compose_plain

    overrides = [a for a in args if "=" in a and not a.startswith("-")]
    try:
        cfg = compose_plain(overrides)
    except Exception as err:  # noqa: BLE001 - Hydra's composition errors, shown as one line
        text = str(err).strip()
        raise ConfigError(text.splitlines()[0] if text else type(err).__name__) from None
    return (f"{TRAIN_HELP}\nconfig groups (choose one option with group=option):\n"
            f"{group_lines()}\n\nconfig (set any key with key=value"
            f"{'; as composed with ' + ' '.join(overrides) if overrides else ''}):\n\n"
            f"{OmegaConf.to_yaml(cfg)}")


def train(argv: list[str]) -> int:
    """`aebench [train] ARGS`; returns 2 on bad input (after printing one line) and after a sweep
    the number of trials that did not finish."""
    args = list(argv)
    if "--version" in args:
        print(f"aebench {version()}")
        return 0
    check_train_args(args)
    if {"-h", "--help"} & set(args):
        check_group_choices(args)
        print(train_help(args))
        return 0
    check_group_choices(args)
    args, sweep_dir = check_sweep_args(args)
    check_keys(args)
    given = next((a.split("=", 1)[1] for a in args if a.startswith("hydra.run.dir=")), None)
    _FRESH_RUN_DIR[0] = given is None or not Path(given).exists()
    fresh_sweep = sweep_dir is not None and not sweep_dir.exists()
    import os

    # Ray, when a sweep uses it: no usage reporting, no token for a local cluster
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")  # optuna 2.10 on SQLAlchemy 1.4
    from aebench.core import noise

    noise.install()  # library lines known to be harmless (aebench/core/noise.py)
    import hydra

    from aebench.running import sweep

    started = time.time() - 1  # file times may be rounded down to the second
    saved_argv = list(sys.argv)
    sys.argv[1:] = args
    try:
        hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")(job)()
    except SystemExit:
        if (sweep_dir is None or not sweep_dir.is_dir()
                or sweep.leaderboard_written(sweep_dir, started)):
            raise
        if fresh_sweep and not any(sweep_dir.glob("*/.hydra")):
            # no trial started (Hydra refused the sweep): no folder, leaderboard or report
            import shutil

            shutil.rmtree(sweep_dir, ignore_errors=True)
            raise
        # The sweep itself stopped (a Ray worker killed, an Optuna study without one finished
        # trial): Hydra has printed why; the leaderboard still shows what the trials left.
        sweep.LeaderboardCallback().on_multirun_end(sweep_dir=sweep_dir)
        return min(max(sweep.failed_trials(sweep_dir), 1), 255)
    finally:
        sys.argv[:] = saved_argv
    if sweep_dir is not None and sweep.leaderboard_written(sweep_dir, started):
        return min(sweep.failed_trials(sweep_dir), 255)  # a multirun ended: trials without results
    return 0


# -- the subcommands -------------------------------------------------------------------------------
















#: subcommand -> (its module: `main(argv)` runs it, `parser()` holds its arguments; its line in
#: `aebench --help`)
COMMANDS = {
    "train": ("aebench.cli", "train a model, or a sweep with -m (the default subcommand)"),
    "restore": ("aebench.restore", "restore your own images (or sequences) with a trained run"),
    "evaluate": ("aebench.evaluate", "score a trained run under another degradation or data "
                 "set, without training"),
    "export": ("aebench.export", "export a run's network (ONNX, torch.export, TorchScript) "
               "with a JSON sidecar, checked against PyTorch"),
    "report": ("aebench.report", "leaderboard, plots and report.html of sweep or run folders"),
    "eda": ("aebench.eda", "explore a data set: statistics and figures"),
    "analyze": ("aebench.analyze", "a trained run's codes (PCA, t-SNE, linear probe) or "
                "anomaly detection"),
    "dashboard": ("aebench.dashboard", "save a W&B workspace view for aebench sweeps"),
    "completion": ("aebench.cli", "print a bash completion script"),
}


def version() -> str:
    from aebench import __version__

    return __version__


def group_lines(width: int = 96) -> str:
    """The config groups and their options (conf/<group>/*.yaml, not the _shared ones)."""
    import textwrap

    groups = sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir() and p.name != "hydra")
    return "\n".join(textwrap.fill(", ".join(options(g) or []), width, initial_indent=f"  {g:<15}",
                                   subsequent_indent=" " * 17) for g in groups)


def make_run_models() -> str:
    """The rows `make run` trains (the sweep of conf/experiment/benchmark_shapes.yaml)."""
    import yaml

    try:
        spec = yaml.safe_load((CONF_DIR / "experiment" / "benchmark_shapes.yaml").read_text())
        return str(spec["hydra"]["sweeper"]["params"]["model"]).replace(",", ", ")
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return "see conf/experiment/benchmark_shapes.yaml"


def main_help() -> str:
    width = max(len(n) for n in COMMANDS) + 2
    commands = "\n".join(f"  {n:<{width}}{line}" for n, (_, line) in COMMANDS.items())
    return f"""\
usage: aebench [SUBCOMMAND] [ARGS ...]        (no subcommand: train)
       aebench --help | --version

aebench: train and benchmark autoencoders and image restorers (PyTorch Lightning + Hydra).
Every score stands next to the baseline a model must beat: the degraded input (restoration)
or PCA with the model's code size (reconstruction).

subcommands (aebench SUBCOMMAND --help for each one's arguments and examples):
{commands}

examples:
  aebench                                       # lstm on procedural shapes, blur 1.0
  aebench model=lstm data=cifar10 data.root=DIR
  aebench -m latent=32,128,256                  # a sweep: one run per value, under multirun/
  aebench -m experiment=benchmark_shapes        # `make run`: {make_run_models()} on shapes
  aebench restore RUN_DIR photo.jpg --out restored/
  aebench report multirun/DATE/TIME             # leaderboard and report.html again

config groups of train and eda (group=option; aebench train --help shows every key):
{group_lines()}

options:
  -h, --help     this help
  -V, --version  aebench's version

exit status: 0 done, 2 bad input (one line: aebench: error: ...), 1 a run failed (a sweep:
the number of failed trials), 130 interrupted. Docs: README.md, docs/use.md."""


def completion_parser() -> Parser:
    p = Parser("completion", "Print a bash completion script for the aebench command: "
               "subcommands, their flags, config groups and their options, config keys.",
               ['eval "$(aebench completion bash)"              # this shell',
                "aebench completion bash >> ~/.bashrc             # every new shell"])
    p.add_argument("shell", choices=("bash",))
    return p


def parser(name: str) -> Parser:
    """Subcommand `name`'s argparse parser."""
    import importlib

    return completion_parser() if name == "completion" else \
        importlib.import_module(COMMANDS[name][0]).parser()


def _main(args: list[str]) -> int:
    if not args:
        return train([])
    first = args[0]
    if first in ("-h", "--help"):
        print(main_help())
        return 0
    if first in ("-V", "--version"):
        print(f"aebench {version()}")
        return 0
    if first == "__complete":  # the bash completion script asks (aebench completion bash)
        print("\n".join(complete(args[1:])))
        return 0
    if first == "train":
        return train(args[1:])
    if first == "completion":
        completion_parser().parse(args[1:])
        print(BASH_COMPLETION)
        return 0
    if first in COMMANDS:  # the subcommand's own main: `python -m aebench.X` is the same path
        import importlib

        importlib.import_module(COMMANDS[first][0]).main(args[1:])
        return 0
    return train(args)  # overrides, Hydra's flags; check_train_args refuses the rest


def main(argv: list[str] | None = None) -> None:
    """`aebench ARGS` (the installed command and `python -m aebench`): exits 0 done, 2 bad input
    (one line on stderr), 1 a run that failed (a sweep: the number of failed trials), 130
    interrupted."""
    run_main(lambda: _main(list(sys.argv[1:] if argv is None else argv)))


# -- shell completion ------------------------------------------------------------------------------
BASH_COMPLETION = r"""# bash completion for aebench: eval "$(aebench completion bash)" (or add it to ~/.bashrc)
_aebench_complete() {
    local line="${COMP_LINE:0:$COMP_POINT}" IFS=$' \t\n'
    local -a words
    read -r -a words <<< "$line"
    [[ "$line" =~ [[:space:]]$ ]] && words+=("")
    local cur="${words[${#words[@]}-1]}"
    local part="${COMP_WORDS[COMP_CWORD]}"
    local prefix="${cur%"$part"}"  # bash splits words at '=' and ':': keep only its part
    [[ "$part" == "=" ]] && prefix="${cur%=}"
    local found c
    IFS=$'\n'
    found=($(aebench __complete "${words[@]:1}" 2>/dev/null))
    COMPREPLY=()
    for c in "${found[@]}"; do COMPREPLY+=("${c#"$prefix"}"); done
}
complete -o default -o nospace -F _aebench_complete aebench"""


def complete(words: list[str]) -> list[str]:
    """What can follow `aebench WORDS[:-1]` and starts with WORDS[-1] (the bash completion's
    answer): subcommands, flags, config groups and options, config keys."""
    *before, cur = words or [""]
    name = before[0] if before and before[0] in COMMANDS else None
    if name is None or name == "train":
        rest = before[1:] if name else before
        if cur.startswith("-"):
            found = ["-m", "--multirun", "--cfg", "--help", "--hydra-help"]
        else:
            found = _complete_override(cur, rest)
        if not before:
            found += [*COMMANDS, "--help", "--version"]
    else:
        flags = [s for a in parser(name)._actions for s in a.option_strings
                 if a.help != argparse.SUPPRESS]
        positionals = [w for w in before[1:] if not w.startswith("-")]
        if cur.startswith("-"):
            found = flags
        elif name == "eda" or (name in ("evaluate", "analyze") and positionals):
            found = _complete_override(cur, before[1:])
        else:
            found = []  # a folder or a file: the shell completes it
    return sorted({f for f in found if f.startswith(cur)})


def _complete_override(cur: str, before: list[str]) -> list[str]:
    from aebench.core.config import options

    if "=" in cur:
        key, _, value = cur.partition("=")
        choices = options(key.lstrip("+~")) if "." not in key else None
        if not choices:
            return []
        head = f"{key}={value.rpartition(',')[0]}," if "," in value else f"{key}="
        return [head + c for c in choices]
    if "." in cur:
        from omegaconf import OmegaConf

        from aebench.core.config import compose_plain

        parent = cur.rpartition(".")[0]
        groups = [a for a in before if "=" in a and "." not in a.split("=")[0]
                  and options(a.split("=")[0].lstrip("+~")) is not None]
        try:
            cfg = compose_plain([f"{g.split('=')[0]}={g.split('=')[1].split(',')[0]}"
                                 for g in groups])
            node = OmegaConf.select(cfg, parent)
        except Exception:  # noqa: BLE001 - completion offers nothing rather than an error
            return []
        if not OmegaConf.is_dict(node):
            return []
        return [f"{parent}.{k}" + ("." if OmegaConf.is_dict(node._get_node(k)) else "=")
                for k in node.keys()]
    import yaml

    groups = sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir() and p.name != "hydra")
    top = yaml.safe_load((CONF_DIR / "config.yaml").read_text()) or {}
    return ([f"{g}=" for g in groups] + [f"{g}." for g in groups]
            + [f"{k}=" for k in top if k != "defaults"])

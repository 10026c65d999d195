"""User-facing errors: raised for bad input, printed as one line by the entry point; the entry
points' contract (exit status, one-line errors, the subcommands' argparse)."""
from __future__ import annotations

import argparse
import sys


class ConfigError(ValueError):
    """A value the user gave (override, path, data) that aebench cannot use.

    The message names the value and says what would be accepted. The entry point prints it
    on one line without a traceback and exits with status 2.
    """


class RunStopped(Exception):
    """Training stopped early on purpose (a signal, a NaN loss); the message says what was kept
    and how to go on. The entry point prints it on one line and exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, code: int = 2):
    """Print `aebench: error: MESSAGE` on stderr and exit with `code` (2: bad input)."""
    print(f"aebench: error: {message}", file=sys.stderr)
    sys.exit(code)


# -- the entry points' contract (aebench.cli and every `python -m aebench.X` command) --------------
# Exit status: 0 done, 2 bad input (one line: `aebench: error: ...`), 1 a run that failed, 130
# interrupted (Ctrl-C).
class Parser(argparse.ArgumentParser):
    """argparse as every aebench subcommand uses it: `prog` is `aebench NAME`, the help ends with
    examples, and a bad argument is a ConfigError (one line, exit 2), not a usage block."""

    def __init__(self, name: str, description: str, examples: list[str], **kwargs):
        import textwrap

        super().__init__(prog=f"aebench {name}", description=textwrap.fill(description, 80),
                         epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
                         formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    def error(self, message: str):
        raise ConfigError(f"{self.prog.split()[-1]}: {message} (see {self.prog} --help)")

    def parse(self, argv: list[str]) -> argparse.Namespace:
        """Options anywhere among the positionals; config overrides (an `overrides` argument)
        must be KEY=VALUE (Hydra's syntax: +KEY=VALUE and ~KEY too)."""
        args = self.parse_intermixed_args(argv)
        for text in getattr(args, "overrides", None) or ():
            if "=" not in text and not text.startswith("~"):
                self.error(f"{text!r} is not an override KEY=VALUE")
        return args


def run_command(parser: Parser, command, argv: list[str] | None = None) -> None:
    """A subcommand's `main`: parse `argv` (default sys.argv[1:]), run `command(args)`, and exit
    as the contract says (its return value is the exit status)."""
    run_main(lambda: command(parser.parse(list(sys.argv[1:] if argv is None else argv))))


def run_main(body) -> None:
    """Call `body()` and exit with its return value; ConfigError -> one line, exit 2; RunStopped
    -> one line, its exit code; Ctrl-C -> 130."""
    try:
        code = body()
    except ConfigError as err:
        fail(str(err))
    except RunStopped as err:
        fail(str(err), err.exit_code)
    except KeyboardInterrupt:
        print("aebench: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # `aebench --help | head`: the reader left; say nothing more
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    if code:
        sys.exit(code)


def remove_new_folder(folder) -> None:
    """A command that failed its checks leaves no folder: `folder`, which this command created
    (a run's .hydra/ and cli.log, maybe a W&B offline folder), is removed, then the folders above
    it (outputs/DATE) that are left empty, up to the working directory. Never a folder holding a
    checkpoint or metrics.json."""
    import shutil
    from pathlib import Path

    folder = Path(folder)
    if (not folder.is_dir() or (folder / "metrics.json").exists()
            or any(folder.glob("checkpoints/*.ckpt"))):
        return
    shutil.rmtree(folder, ignore_errors=True)
    cwd, parent = Path.cwd().resolve(), folder.resolve().parent
    while cwd in parent.parents:
        try:
            parent.rmdir()  # only if empty
        except OSError:
            break
        parent = parent.parent

"""User-facing errors: raised for bad input, printed as one line by the entry point."""
from __future__ import annotations

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

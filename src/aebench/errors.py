"""User-facing errors: raised for bad input, printed as one line by the entry point."""


class ConfigError(ValueError):
    """A value the user gave (override, path, data) that aebench cannot use.

    The message names the value and says what would be accepted. The entry point prints it
    on one line without a traceback and exits with status 2.
    """

"""Command line: `python -m aebench [overrides]` / `python -m aebench -m key=a,b,c`.

Kept light: mistakes in group choices are caught from the file names in conf/ before Hydra,
torch or Lightning are imported; user errors print one line and exit with status 2.
"""
from __future__ import annotations

import sys
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent / "conf"


def _options(group: str) -> list[str] | None:
    d = CONF_DIR / group
    if not d.is_dir():
        return None
    return sorted(p.stem for p in d.glob("*.yaml") if not p.stem.startswith("_"))


def check_group_choices(args: list[str]) -> None:
    """Exit with a one-line message if `group=option` names an option that does not exist."""
    for arg in args:
        if "=" not in arg or arg.startswith("-"):
            continue
        key, value = arg.split("=", 1)
        key = key.lstrip("+~")
        if "." in key or "/" in key or "(" in value or key.startswith("hydra"):
            continue
        options = _options(key)
        if options is None:
            continue
        for choice in value.split(","):
            if choice and choice != "null" and choice not in options:
                fail(f"{key}={choice} is not an option; choose one of: {', '.join(options)}")


def fail(message: str, code: int = 2):
    print(f"aebench: error: {message}", file=sys.stderr)
    sys.exit(code)


def main() -> None:
    check_group_choices(sys.argv[1:])
    import hydra
    from omegaconf import DictConfig

    @hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
    def _job(cfg: DictConfig):
        from aebench.errors import ConfigError
        from aebench.train import run

        try:
            metrics = run(cfg)
        except ConfigError as err:
            fail(str(err))
        return metrics.get("test_psnr", -metrics.get("test_mse", float("nan")))

    _job()

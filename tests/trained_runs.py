"""Tiny finished runs for the tests of restore / evaluate / export, made once per test session.

Each is `aebench.core.config.compose` + `aebench.running.train.run` in-process on procedural data (a few
dozen items, one epoch, latent 8), in a temporary folder shared by the test files.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

FAST = ["data.num_train=64", "data.num_test=32", "data.batch_size=16", "trainer.max_epochs=1",
        "callbacks=none", "logger=none", "latent=8"]
RUNS = {
    "cnn": ["data=shapes", "model=cnn", *FAST],
    "cnn_grey": ["data=shapes", "data.channels=1", "model=cnn", *FAST],
    "lstm": ["data=shapes", "model=lstm", *FAST],
    "wiener": ["data=shapes", "model=wiener", *FAST],
    "identity": ["data=shapes", "model=identity", *FAST],
    "sine": ["data=sine", "data.num_sequences=64", "data.batch_size=16", "model=lstm",
             "trainer.max_epochs=1", "callbacks=none", "logger=none", "latent=8"],
}
_ROOT: Path | None = None
_DONE: dict[str, Path] = {}


def trained_run(name: str, extra: tuple[str, ...] = ()) -> Path:
    """The folder of the finished tiny run `name` (with `extra` overrides), made on first use."""
    global _ROOT
    key = name + "|" + " ".join(extra)
    if key in _DONE:
        return _DONE[key]
    if _ROOT is None:
        _ROOT = Path(tempfile.mkdtemp(prefix="aebench-trained-"))
        atexit.register(shutil.rmtree, _ROOT, True)
    os.environ.setdefault("WANDB_MODE", "disabled")
    from aebench.core.config import compose
    from aebench.running.train import run

    out = _ROOT / f"{name}-{len(_DONE)}"
    composed = compose([*RUNS[name], *extra], out)
    run(composed.cfg, composed.choices, composed.overrides)
    _DONE[key] = out
    return out


def exit_code(module: str, *argv) -> int:
    """Call `module`'s `main(argv)` in this process (pytest's capsys sees its output); its exit
    status as `python -m module ARGV` would give it."""
    import importlib

    try:
        importlib.import_module(module).main([str(a) for a in argv])
    except SystemExit as e:
        return e.code or 0
    return 0

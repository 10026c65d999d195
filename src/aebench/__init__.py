"""aebench: train and benchmark autoencoders with PyTorch Lightning and Hydra.

The Python API (docs/api.md), imported lazily: `import aebench` loads neither torch nor
Lightning; they are imported when a function is called.

    run = aebench.train(["model=unet_small", "data=shapes"], output_dir="runs/a")
    model = aebench.load(run.run_dir)
    restored = model.restore(image)             # numpy / torch, any size, same shape and dtype
    scores = model.evaluate(["blur=2.0"])

The package is in three floors (docs/architecture.md): `aebench.core` (data sets, degradations,
networks, the LightningModule, metrics, configs), `aebench.running` (one run, a sweep, their
checkpoints, loggers and outputs) and, at the top, the commands (`cli`, `api`, `restore`,
`evaluate`, `export`, `report`, `analyze`, `eda`, `dashboard`: `python -m aebench.NAME`).
"""
from __future__ import annotations

__version__ = "0.1.0"

#: what `aebench.NAME` gives, from aebench.api (or aebench.core.errors) on first use
_API = {"train": "aebench.api", "load": "aebench.api", "Model": "aebench.api", "Run": "aebench.api",
        "ConfigError": "aebench.core.errors", "RunStopped": "aebench.core.errors"}
__all__ = ["train", "load", "Model", "Run", "ConfigError", "RunStopped", "__version__"]


def __getattr__(name: str):
    if name in _API:
        import importlib

        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aebench' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))

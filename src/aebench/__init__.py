"""aebench: train and benchmark autoencoders with PyTorch Lightning and Hydra.

The Python API (docs/api.md), imported lazily: `import aebench` loads neither torch nor
Lightning; they are imported when a function is called.

    run = aebench.train(["model=unet_small", "data=shapes"], output_dir="runs/a")
    model = aebench.load(run.run_dir)
    restored = model.restore(image)             # numpy / torch, any size, same shape and dtype
    scores = model.evaluate(["blur=2.0"])

`aebench.train` is also the module `aebench/train.py` (train.run, ...): that module is
callable, and calling it is `aebench.api.train`.
"""
from __future__ import annotations

import sys
import types

__version__ = "0.1.0"

#: what `aebench.NAME` gives, from aebench.api (or aebench.errors) on first use
_API = {"load": "aebench.api", "Model": "aebench.api", "Run": "aebench.api",
        "ConfigError": "aebench.errors", "RunStopped": "aebench.errors"}
__all__ = ["train", "load", "Model", "Run", "ConfigError", "RunStopped", "__version__"]


class _TrainModule(types.ModuleType):
    """aebench/train.py's module type: `aebench.train(overrides, output_dir=...)` calls
    `aebench.api.train`, and `aebench.train.run` & co. stay what they are."""

    def __call__(self, overrides=(), output_dir=None):
        from aebench.api import train

        return train(overrides, output_dir)


class _Package(types.ModuleType):
    """aebench's module type: `aebench.train` is the train module, made callable whether it is
    reached as an attribute first or imported first (`import aebench.train` sets it here)."""

    @property
    def train(self):
        module = self.__dict__.get("_train_module")
        if module is None:
            import importlib

            module = importlib.import_module("aebench.train")  # sets it through the setter
            module = self.__dict__.get("_train_module", module)
        return module

    @train.setter
    def train(self, module):
        if type(module) is types.ModuleType:
            module.__class__ = _TrainModule
        self.__dict__["_train_module"] = module


def __getattr__(name: str):
    if name in _API:
        import importlib

        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aebench' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API) | {"train"})


sys.modules[__name__].__class__ = _Package

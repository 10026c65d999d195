"""CIFAR-10 read directly from the "python version" batches, without checksum checks.

Layout: `root/cifar-10-batches-py/data_batch_1..5` (training) and `test_batch` (official test
split), each a pickle with `data` (N, 3072) uint8, channel-planar (1024 R, 1024 G, 1024 B,
row-major 32x32) and `labels`. Any copy with that layout loads (also one whose MD5s differ
from the official archive, e.g. re-encoded pixels). Missing files are downloaded with
torchvision when `download=True` and the host answers; otherwise a one-line ConfigError.
"""
from __future__ import annotations

import os
import pickle

import numpy as np
import torch

from aebench.core.data.base import TensorDataModule
from aebench.core.data.download import download as _download
from aebench.core.data.download import one_line as _one_line
from aebench.core.data.download import unreachable as _unreachable
from aebench.core.errors import ConfigError

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
DEFAULT_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_REFETCH = ("re-extract the python version of CIFAR-10 (cifar-10-python.tar.gz), or delete the "
            "file and re-download it with data.download=true")


def _bad_batch(path: str, why: str) -> ConfigError:
    return ConfigError(f"cifar10: {path} is not a usable CIFAR-10 batch ({why}); expected a "
                       f"pickle with 'data' (N, 3072) uint8 and 'labels' (N,) 0..9; {_REFETCH}")


def _read_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(data (N, 3, 32, 32) uint8, labels (N,) int64) from one python-version batch.

    Any damage (truncated or random bytes, other arrays) is one ConfigError naming the file.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
        # from bytes, not the file: a damaged length field then fails instead of reading on
        d = pickle.loads(raw, encoding="latin1")
    except Exception as e:  # damaged pickles raise almost any type (EOFError, KeyError, ...)
        raise _bad_batch(path, _one_line(e)) from None
    if not isinstance(d, dict):
        raise _bad_batch(path, f"a pickled {type(d).__name__}, not a dict")
    if "data" not in d or "labels" not in d:
        keys = ", ".join(map(repr, list(d)[:6])) or "none"
        raise _bad_batch(path, f"a dict without 'data' and 'labels'; its keys: {keys}")
    try:
        data, labels = np.asarray(d["data"]), np.asarray(d["labels"])
    except Exception as e:  # ragged lists and the like
        raise _bad_batch(path, _one_line(e)) from None
    described = f"'data' is {tuple(data.shape)} {data.dtype}"
    if data.ndim != 2 or data.shape[1] != 3072 or len(data) == 0:
        raise _bad_batch(path, described)
    if data.dtype != np.uint8:  # integers within 0..255 are taken as they are (re-encoded copies)
        if data.dtype.kind not in "iu" or data.min() < 0 or data.max() > 255:
            raise _bad_batch(path, described)
    if labels.shape != (len(data),) or labels.dtype.kind not in "iu" or \
            labels.min() < 0 or labels.max() > 9:
        what = (f"{labels.dtype} from {labels.min()} to {labels.max()}"
                if labels.size and labels.dtype.kind in "iuf" else str(labels.dtype))
        raise _bad_batch(path, f"{len(data)} images but 'labels' is {tuple(labels.shape)} {what}")
    return data.astype(np.uint8, copy=False).reshape(len(data), 3, 32, 32), labels.astype(np.int64)


class CIFAR10DataModule(TensorDataModule):
    """CIFAR-10: train (50,000, split into train/val by the base class) and test (10,000).

    Items are (3, 32, 32), held as uint8, float32 in [0, 1] in batches; labels 0..9.
    """

    name = "cifar10"
    bounded = True
    num_classes = 10
    classes = ("airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck")

    def __init__(self, root: str = "data", download: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.root = os.path.abspath(os.path.expanduser(str(root)))
        self.download = bool(download)

    @property
    def folder(self) -> str:
        return os.path.join(self.root, FOLDER)

    def _missing(self) -> list[str]:
        return [f for f in TRAIN_FILES + TEST_FILES
                if not os.path.isfile(os.path.join(self.folder, f))]

    def prepare_data(self) -> None:
        missing = self._missing()
        if not missing:
            return
        how = (f"put the python-version batches (data_batch_1..5, test_batch) in {self.folder} "
               f"or pass data.root=DIR (the folder that contains {FOLDER}/)")
        if not self.download:
            raise ConfigError(f"cifar10: {', '.join(missing)} not found in {self.folder} and "
                              f"data.download=false; {how}")
        import torchvision  # only needed to download

        url = getattr(torchvision.datasets.CIFAR10, "url", DEFAULT_URL)
        reason = _unreachable(url)
        if reason is None:
            reason = _download(lambda: torchvision.datasets.CIFAR10(self.root, train=True, download=True))
            if reason is None:
                missing = self._missing()
                reason = None if not missing else f"{', '.join(missing)} still missing after download"
        if reason is not None:
            raise ConfigError(f"cifar10: data not found in {self.folder} and download failed "
                              f"({reason}); {how}")

    def load(self):
        self.prepare_data()  # no-op when the files are there; lets load() work without Lightning
        parts = [_read_batch(os.path.join(self.folder, f)) for f in TRAIN_FILES]
        train_x = np.concatenate([p[0] for p in parts])
        train_y = np.concatenate([p[1] for p in parts])
        test_x, test_y = _read_batch(os.path.join(self.folder, TEST_FILES[0]))
        return (torch.from_numpy(np.ascontiguousarray(train_x)), torch.from_numpy(train_y),
                torch.from_numpy(np.ascontiguousarray(test_x)), torch.from_numpy(test_y))

"""MNIST read directly from the IDX files, without checksum checks.

Layout (torchvision's): `root/MNIST/raw/{train,t10k}-images-idx3-ubyte` and
`{train,t10k}-labels-idx1-ubyte`; the plain files are used when present, else the `.gz` ones.
Missing files are downloaded with torchvision when `download=True` and a mirror answers;
otherwise a one-line ConfigError.
"""
from __future__ import annotations

import gzip
import math
import os
import zlib

import numpy as np
import torch

from aebench.core.data.base import TensorDataModule
from aebench.core.data.download import download as _download
from aebench.core.data.download import one_line as _one_line
from aebench.core.data.download import unreachable as _unreachable
from aebench.core.errors import ConfigError

FOLDER = os.path.join("MNIST", "raw")
FILES = {  # (split, kind) -> file name without .gz
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}
DEFAULT_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
#: IDX magic numbers: 0x0000 08 (unsigned bytes) then the number of dimensions
MAGIC = {"images": 0x00000803, "labels": 0x00000801}  # 2051, 2049
_REFETCH = ("re-download MNIST (delete the bad file and run with data.download=true) or copy "
            "the original IDX files again")


def read_idx(path: str, magic: int | None = None) -> np.ndarray:
    """Read an IDX file (plain or gzip, by its `.gz` suffix) of unsigned bytes.

    `magic`: the number the file must start with (MAGIC["images"] or MAGIC["labels"]); by
    default any IDX file of unsigned bytes. Every problem is one ConfigError naming the file.
    """
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:  # unreadable, truncated or corrupt gzip
        raise ConfigError(f"mnist: cannot read {path} ({_one_line(e)}); {_REFETCH}") from None
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found is None or raw[:3] != b"\0\0\x08" or raw[3] == 0 or (magic and found != magic):
        what = f"magic number {found}" if found is not None else f"only {len(raw)} bytes"
        want = (f"{magic} (MNIST image files start with {MAGIC['images']}, label files with "
                f"{MAGIC['labels']})" if magic else
                "2049..2303 (IDX of unsigned bytes: 0x0000 08, then the number of dimensions)")
        raise ConfigError(f"mnist: {path} has {what}, expected {want}; the file is corrupt or "
                          f"not the right IDX file: {_REFETCH}")
    ndim = raw[3]
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise ConfigError(f"mnist: {path} is truncated: {len(raw)} bytes, less than its "
                          f"{offset}-byte header; {_REFETCH}")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected, held = math.prod(dims), len(raw) - offset
    if held != expected:
        how = "truncated" if held < expected else "corrupt (longer than its header says)"
        raise ConfigError(f"mnist: {path} is {how}: its header announces "
                          f"{' x '.join(map(str, dims))} = {expected} bytes of data but it holds "
                          f"{held}; {_REFETCH}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


class MNISTDataModule(TensorDataModule):
    """MNIST: train (60,000, split into train/val by the base class) and test (10,000).

    Items are (1, 28, 28), held as uint8, float32 in [0, 1] in batches; labels 0..9.
    """

    name = "mnist"
    bounded = True
    num_classes = 10
    classes = tuple(str(i) for i in range(10))

    def __init__(self, root: str = "data", download: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.root = os.path.abspath(os.path.expanduser(str(root)))
        self.download = bool(download)

    @property
    def folder(self) -> str:
        return os.path.join(self.root, FOLDER)

    def _path(self, name: str) -> str | None:
        """The plain file if present, else the .gz one, else None."""
        for candidate in (name, name + ".gz"):
            path = os.path.join(self.folder, candidate)
            if os.path.isfile(path):
                return path
        return None

    def _missing(self) -> list[str]:
        return [n for n in FILES.values() if self._path(n) is None]

    def prepare_data(self) -> None:
        missing = self._missing()
        if not missing:
            return
        how = (f"put the four IDX files ({', '.join(FILES.values())}, plain or .gz) in "
               f"{self.folder} or pass data.root=DIR (the folder that contains {FOLDER}/)")
        if not self.download:
            raise ConfigError(f"mnist: {', '.join(missing)} not found in {self.folder} and "
                              f"data.download=false; {how}")
        import torchvision  # only needed to download

        mirrors = getattr(torchvision.datasets.MNIST, "mirrors", DEFAULT_MIRRORS)
        reasons = []
        for mirror in mirrors:  # stop at the first mirror that answers
            reasons.append(_unreachable(mirror))
            if reasons[-1] is None:
                break
        reason = None if reasons[-1] is None else "; ".join(reasons)
        if reason is None:
            reason = _download(lambda: torchvision.datasets.MNIST(self.root, train=True, download=True))
            if reason is None:
                missing = self._missing()
                reason = None if not missing else f"{', '.join(missing)} still missing after download"
        if reason is not None:
            raise ConfigError(f"mnist: data not found in {self.folder} and download failed "
                              f"({reason}); {how}")

    def _split(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        images_path = self._path(FILES[split, "images"])
        labels_path = self._path(FILES[split, "labels"])
        images = read_idx(images_path, MAGIC["images"])
        labels = read_idx(labels_path, MAGIC["labels"])
        if len(images) != len(labels):
            raise ConfigError(
                f"mnist: {images_path} holds {len(images)} images but {labels_path} holds "
                f"{len(labels)} labels; each image needs one label: {_REFETCH}")
        if labels.size and labels.max() > 9:
            raise ConfigError(f"mnist: {labels_path} holds label {labels.max()}; MNIST labels "
                              f"are 0..9: {_REFETCH}")
        x = torch.from_numpy(images.copy()).unsqueeze(1)  # uint8; [0, 1] per batch (to_float)
        return x, torch.from_numpy(labels.astype(np.int64))

    def load(self):
        self.prepare_data()  # no-op when the files are there; lets load() work without Lightning
        train_x, train_y = self._split("train")
        test_x, test_y = self._split("test")
        if train_x.shape[1:] != test_x.shape[1:]:
            raise ConfigError(
                f"mnist: {self._path(FILES['train', 'images'])} holds {train_x.shape[2]}x"
                f"{train_x.shape[3]} images but {self._path(FILES['test', 'images'])} "
                f"{test_x.shape[2]}x{test_x.shape[3]}; both splits need the same size: {_REFETCH}")
        return train_x, train_y, test_x, test_y

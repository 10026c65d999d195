"""A user's own images, one sub-folder per class.

Layouts (extensions .png, .jpg, .jpeg in any case; sub-folders of a class folder are
searched too; hidden files are skipped, other files too, with one logged warning; a file with
an image extension that cannot be decoded is an error naming it):

- `root/<class>/*.png`: all images; the test set is a seeded random `test_fraction` of
  them (seed: the base `seed`), the rest is split into train/val by the base class.
- `root/train/<class>/...` and `root/test/<class>/...`: those splits are used as they are.

Classes are the sub-folder names sorted, labelled 0..K-1 (in the train/test layout, the
union of both splits' class names). A folder whose images lie directly in `root` (no class
folders) is accepted as unlabelled data (labels -1); when class folders exist, images lying
directly in `root` are ignored. Images are loaded with PIL, converted to RGB (channels=3)
or greyscale "L" (channels=1), resized to exactly size x size (bilinear; the aspect ratio
is not kept) and held as uint8 (N, C, size, size), float32 in [0, 1] in batches.
"""
from __future__ import annotations

import logging
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from aebench.core.data.base import TensorDataModule
from aebench.core.errors import ConfigError

EXTENSIONS = (".png", ".jpg", ".jpeg")
log = logging.getLogger("aebench")


def _is_image(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(EXTENSIONS)


def _images_in(folder: str, recursive: bool, skipped: list[str] | None = None) -> list[str]:
    """Sorted image paths in `folder`; other visible files are appended to `skipped`."""
    if not recursive:
        files = [os.path.join(folder, f) for f in os.listdir(folder)
                 if os.path.isfile(os.path.join(folder, f))]
    else:
        files = []
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            files.extend(os.path.join(dirpath, f) for f in filenames)
    names = [(p, os.path.basename(p)) for p in files]
    if skipped is not None:
        skipped.extend(sorted(p for p, n in names if not n.startswith(".") and not _is_image(n)))
    return sorted(p for p, n in names if _is_image(n))


def _class_folders(folder: str, skipped: list[str] | None = None) -> dict[str, list[str]]:
    """{class name: sorted image paths} for the sub-folders of `folder` holding images."""
    classes = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.startswith(".") or not os.path.isdir(path):
            continue
        images = _images_in(path, recursive=True, skipped=skipped)
        if images:
            classes[name] = images
    return classes


class FolderDataModule(TensorDataModule):
    """Images from `root` (see the module docstring for the layouts)."""

    name = "folder"
    bounded = True

    def __init__(self, root: str | None = None, size: int = 32, channels: int = 3,
                 test_fraction: float = 0.2, max_pixels: int = 50_000_000, **kwargs):
        super().__init__(**kwargs)
        if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
            raise ConfigError(f"data.max_pixels={max_pixels!r} must be a positive integer")
        self.max_pixels = max_pixels
        if root is None or str(root) in ("", "???"):
            raise ConfigError("data.root is not set; pass data.root=DIR, a folder with one "
                              "sub-folder of images per class")
        if channels not in (1, 3):
            raise ConfigError(f"data.channels={channels!r} must be 1 (greyscale) or 3 (RGB)")
        if int(size) != size or size < 1:
            raise ConfigError(f"data.size={size!r} must be a positive integer")
        if not 0.0 < float(test_fraction) < 1.0:
            raise ConfigError(f"data.test_fraction={test_fraction!r} must be in (0, 1) (used "
                              f"when root has no train/ and test/ sub-folders)")
        self.root = os.path.abspath(os.path.expanduser(str(root)))
        self.size, self.channels = int(size), int(channels)
        self.test_fraction = float(test_fraction)
        self.classes: tuple[str, ...] = ()
        self.num_classes = 0
        self._skipped: list[str] = []

    # -- discovery ----------------------------------------------------------------------
    def _hint(self) -> str:
        return (f"expected {self.root}/<class>/*.png|jpg|jpeg, or train/<class>/... and "
                f"test/<class>/...; pass data.root=DIR")

    def _scan(self, folder: str) -> dict[str, list[str]]:
        classes = _class_folders(folder, self._skipped)
        if classes:
            return classes
        loose = _images_in(folder, recursive=False, skipped=self._skipped)
        return {"": loose} if loose else {}  # "" = unlabelled

    def _skipped_note(self) -> str:
        """'' or e.g. ' (skipped 2 other files, e.g. a/notes.txt)', for messages."""
        if not self._skipped:
            return ""
        n = len(self._skipped)
        return (f" (skipped {n} other file{'s' if n > 1 else ''}, e.g. "
                f"{', '.join(self._skipped[:2])}{', ...' if n > 2 else ''})")

    def prepare_data(self) -> None:
        if not os.path.isdir(self.root):
            raise ConfigError(f"folder: data.root={self.root} does not exist or is not a "
                              f"directory; {self._hint()}")

    def _discover(self):
        """(train {class: paths}, test {class: paths} or None when the split is ours)."""
        self.prepare_data()
        self._skipped = []  # visible files without an image extension
        train_dir, test_dir = os.path.join(self.root, "train"), os.path.join(self.root, "test")
        has_train, has_test = os.path.isdir(train_dir), os.path.isdir(test_dir)
        if has_train and has_test:
            train, test = self._scan(train_dir), self._scan(test_dir)
            for split, found, where in (("train", train, train_dir), ("test", test, test_dir)):
                if not found:
                    raise ConfigError(f"folder: no .png/.jpg/.jpeg images in {where}"
                                      f"{self._skipped_note()}; {self._hint()}")
            if ("" in train) != ("" in test):
                raise ConfigError(f"folder: one of {train_dir} and {test_dir} has class "
                                  f"sub-folders and the other not; use the same layout in both")
            return train, test
        if has_train != has_test:
            present, absent = (train_dir, test_dir) if has_train else (test_dir, train_dir)
            raise ConfigError(f"folder: found {present} but not {absent}; provide both, or "
                              f"rename it to use the one-folder-per-class layout")
        found = self._scan(self.root)
        if not found:
            raise ConfigError(f"folder: no .png/.jpg/.jpeg images in {self.root}"
                              f"{self._skipped_note()}; {self._hint()}")
        return found, None

    # -- loading ------------------------------------------------------------------------
    def _read(self, paths: list[str]) -> torch.Tensor:
        from PIL import Image, UnidentifiedImageError  # lazily: only this module needs PIL

        mode, size = ("RGB" if self.channels == 3 else "L"), self.size
        out = np.empty((len(paths), size, size, self.channels), dtype=np.uint8)

        def read(i: int) -> None:
            try:
                with warnings.catch_warnings():  # data.max_pixels below replaces PIL's warning
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    im = Image.open(paths[i])
                with im:
                    w, h = im.size  # from the header: checked before anything is decoded
                    if w * h > self.max_pixels:
                        raise ConfigError(
                            f"folder: {paths[i]} is {w} x {h} = {w * h:,} pixels, above "
                            f"data.max_pixels={self.max_pixels:,}; shrink it, remove it, or "
                            "raise data.max_pixels")
                    im.draft(mode, (size, size))  # JPEG: decode at reduced scale when possible
                    im = im.convert(mode)
                    if im.size != (size, size):
                        im = im.resize((size, size), Image.BILINEAR)
                    out[i] = np.asarray(im, dtype=np.uint8).reshape(size, size, self.channels)
            except ConfigError:
                raise
            except Image.DecompressionBombError as e:  # declares more pixels than PIL will open
                raise ConfigError(f"folder: {paths[i]} declares too many pixels to open "
                                  f"({' '.join(str(e).split())[:120]}); shrink it or remove "
                                  "it") from None
            except Exception as e:  # OSError, UnidentifiedImageError, ...
                if isinstance(e, UnidentifiedImageError):
                    why = "not an image format PIL can identify"
                else:
                    why = f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
                raise ConfigError(f"folder: cannot read image {paths[i]} ({why}); expected a "
                                  f"PNG or JPEG file: fix or remove it") from None

        workers = min(8, 2 * (os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(read, range(len(paths)), chunksize=64))
        return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()  # uint8, [0, 1] per batch

    def _flatten(self, found: dict[str, list[str]], index: dict[str, int]):
        paths = [p for name in found for p in found[name]]
        labels = [index.get(name, -1) for name in found for _ in found[name]]
        return paths, torch.tensor(labels, dtype=torch.int64)

    def load(self):
        train, test = self._discover()
        if self._skipped:
            log.warning("folder: skipped %d file(s) without a .png/.jpg/.jpeg extension, e.g. %s",
                        len(self._skipped), ", ".join(self._skipped[:3]))
        names = sorted(set(train) | set(test or {}))
        names = [n for n in names if n != ""]
        self.classes, self.num_classes = tuple(names), len(names)
        index = {n: i for i, n in enumerate(names)}
        train_paths, train_y = self._flatten(train, index)
        if test is not None:
            test_paths, test_y = self._flatten(test, index)
            self._split_note = "train/ and test/ as given"
            return self._read(train_paths), train_y, self._read(test_paths), test_y
        n = len(train_paths)
        n_test = int(round(n * self.test_fraction))
        if n_test < 1 or n - n_test < 1:
            raise ConfigError(f"folder: {n} image(s) in {self.root} cannot be split with "
                              f"test_fraction={self.test_fraction}; add images or change "
                              f"data.test_fraction")
        x = self._read(train_paths)
        # a stream distinct from the base class's train/val permutation (which uses `seed`)
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + 1) % (2 ** 63))
        perm = torch.randperm(n, generator=g)
        test_idx, train_idx = perm[:n_test], perm[n_test:]
        self._split_note = f"test: a seeded {self.test_fraction:.0%} of the {n} images"
        return x[train_idx], train_y[train_idx], x[test_idx], train_y[test_idx]

    def _set_splits(self, train_x, train_y, test_x, test_y) -> None:
        super()._set_splits(train_x, train_y, test_x, test_y)
        log.info("%s", self.split_summary())

    def split_summary(self) -> str:
        """One line, logged when the data is loaded: how many images went where, and how."""
        n_train, n_val, n_test = len(self.train_x), len(self.val_x), len(self.test_x)
        classes = (f"{self.num_classes} classes: {', '.join(self.classes[:8])}"
                   f"{', ...' if self.num_classes > 8 else ''}" if self.num_classes
                   else "unlabelled")
        mode = "RGB" if self.channels == 3 else "greyscale"
        return (f"folder: {n_train + n_val + n_test} images from {self.root} ({classes}), "
                f"resized to {self.size}x{self.size} {mode} (bilinear, aspect ratio not kept): "
                f"{n_train} train / {n_val} val / {n_test} test "
                f"({getattr(self, '_split_note', '')}; val: a seeded "
                f"{self.val_fraction:.0%} of the images left for training)"
                + (f"; class {self.classes[self.held_out]} held out of train and val"
                   if self.held_out is not None else ""))

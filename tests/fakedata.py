"""Tiny data sets in the standard on-disk layouts, for tests (never the official files).

Each writer returns what it wrote (paths and the exact arrays), so tests can check values.
"""
from __future__ import annotations

import gzip
import os
import pickle
import struct

import numpy as np


def _structured_images(rng: np.random.Generator, n: int, h: int, w: int, c: int) -> np.ndarray:
    """(n, h, w, c) uint8: a random gradient plus a bright rectangle plus a little noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty((n, h, w, c), dtype=np.uint8)
    for i in range(n):
        a, b = rng.uniform(-4, 4, size=2)
        base = rng.uniform(0, 128, size=c)
        img = base + (a * xx + b * yy)[..., None]
        y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
        img[y0:y0 + h // 3, x0:x0 + w // 3] = rng.uniform(150, 255, size=c)
        img += rng.normal(0, 8, size=img.shape)
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def write_cifar10(root, n_train: int = 50, n_test: int = 20, seed: int = 0) -> dict:
    """Write root/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}.

    `n_train` images in total are spread over the five training batches. Returns
    {"folder", "train_hwc", "train_labels", "test_hwc", "test_labels"} with images as
    (N, 32, 32, 3) uint8 (height, width, channel), labels as int64 arrays.
    """
    rng = np.random.default_rng(seed)
    folder = os.path.join(str(root), "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    train = _structured_images(rng, n_train, 32, 32, 3)
    test = _structured_images(rng, n_test, 32, 32, 3)
    train_labels = rng.integers(0, 10, size=n_train).astype(np.int64)
    test_labels = rng.integers(0, 10, size=n_test).astype(np.int64)

    def dump(name, images, labels):
        planar = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)  # R plane, G, B
        batch = {"batch_label": name, "labels": [int(v) for v in labels],
                 "data": np.ascontiguousarray(planar),
                 "filenames": [f"img_{i}.png" for i in range(len(images))]}
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(batch, f, protocol=2)

    bounds = np.linspace(0, n_train, 6).astype(int)
    for i in range(5):
        lo, hi = bounds[i], bounds[i + 1]
        dump(f"data_batch_{i + 1}", train[lo:hi], train_labels[lo:hi])
    dump("test_batch", test, test_labels)
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump({"num_cases_per_batch": int(bounds[1]), "num_vis": 3072,
                     "label_names": ["airplane", "automobile", "bird", "cat", "deer",
                                     "dog", "frog", "horse", "ship", "truck"]}, f, protocol=2)
    return {"folder": folder, "train_hwc": train, "train_labels": train_labels,
            "test_hwc": test, "test_labels": test_labels}


def _idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_mnist(root, n_train: int = 60, n_test: int = 20, gz: bool = False, seed: int = 0) -> dict:
    """Write the four IDX files under root/MNIST/raw/ (gzip-compressed with `.gz` if gz).

    Returns {"folder", "train_images", "train_labels", "test_images", "test_labels"}, images
    as (N, 28, 28) uint8 and labels as int64.
    """
    rng = np.random.default_rng(seed)
    folder = os.path.join(str(root), "MNIST", "raw")
    os.makedirs(folder, exist_ok=True)
    arrays = {
        "train_images": _structured_images(rng, n_train, 28, 28, 1)[..., 0],
        "train_labels": rng.integers(0, 10, size=n_train).astype(np.int64),
        "test_images": _structured_images(rng, n_test, 28, 28, 1)[..., 0],
        "test_labels": rng.integers(0, 10, size=n_test).astype(np.int64),
    }
    names = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
             "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
    for key, name in names.items():
        data = _idx_bytes(arrays[key].astype(np.uint8))
        if gz:
            with gzip.open(os.path.join(folder, name + ".gz"), "wb") as f:
                f.write(data)
        else:
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
    return {"folder": folder, **arrays}


def write_image_folder(root, classes=("a", "b"), n_per_class: int = 10, size=(20, 24),
                       split: bool = False, ext: str = "png", seed: int = 0) -> dict:
    """Write RGB images root/<class>/img_<i>.<ext> (or root/{train,test}/<class>/... if split).

    `size` is (height, width). With split=True, n_per_class images go to train/<class> and
    half as many (at least 1) to test/<class>. Returns {"root", "files": {split: [(path,
    class, (H, W, 3) uint8)]}} with split "all" (or "train" and "test").
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    h, w = size
    splits = {"train": n_per_class, "test": max(1, n_per_class // 2)} if split else {"all": n_per_class}
    files = {}
    for split_name, count in splits.items():
        base = os.path.join(str(root), split_name) if split else str(root)
        files[split_name] = []
        for cls in classes:
            os.makedirs(os.path.join(base, cls), exist_ok=True)
            images = _structured_images(rng, count, h, w, 3)
            for i, img in enumerate(images):
                path = os.path.join(base, cls, f"img_{i:03d}.{ext}")
                Image.fromarray(img, "RGB").save(path)
                files[split_name].append((path, cls, img))
    return {"root": str(root), "files": files}


def write_png_declaring(path, width: int, height: int) -> None:
    """A valid PNG header that declares width x height RGB pixels, with (almost) no pixel data:
    what a decompression bomb looks like to a reader that trusts the header."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))

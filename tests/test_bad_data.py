"""Bad data on disk, as a user would have it: one-line error, exit status 2, nothing trained.

Every case runs the real entry point (`python -m aebench ...` in a fresh folder, as the
`run_cli` fixture does) against a tiny broken copy of a data set written in its real on-disk
format. Each run spends ~5 s importing torch/Lightning before it reads any data, so the
selected cases are started together, two at a time, by one module fixture; each test then
checks its own run.
"""
from __future__ import annotations

import logging
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_main
from fakedata import write_cifar10, write_image_folder, write_mnist, write_png_declaring

from aebench.core.data.cifar10 import CIFAR10DataModule
from aebench.core.data.folder import FolderDataModule
from aebench.core.data.mnist import MNISTDataModule
from aebench.core.errors import ConfigError

RUN = ["logger=none", "callbacks=none", "trainer.max_epochs=1"]
PREVIOUS = Path("outputs", "2000-01-01", "00-00-00", "metrics.json")  # an earlier run's result


# -- broken data sets: each writes into `root` and returns (overrides, names in the message) --
def _missing_root(data):
    def build(root: Path):
        extra = [] if data == "folder" else ["data.download=false"]  # folder never downloads
        return [f"data={data}", f"data.root={root / 'nowhere'}", *extra], ["nowhere"]
    return build


def _cifar(root: Path, damage):
    folder = Path(write_cifar10(root, n_train=10, n_test=4)["folder"])
    damage(folder / "data_batch_3")
    return ["data=cifar10", f"data.root={root}", "data.download=false"]


def cifar_truncated(root: Path):
    def cut(path: Path):
        raw = path.read_bytes()
        path.write_bytes(raw[:len(raw) // 2])
    return _cifar(root, cut), ["data_batch_3", "re-download", "python version"]


def cifar_corrupt(root: Path):
    def noise(path: Path):
        path.write_bytes(np.random.default_rng(0).bytes(4000))
    return _cifar(root, noise), ["data_batch_3", "re-download", "python version"]


def cifar_wrong_shape(root: Path):
    def reshape(path: Path):
        batch = {"data": np.zeros((100, 3000), np.uint8), "labels": [0] * 100}
        path.write_bytes(pickle.dumps(batch, protocol=2))
    return _cifar(root, reshape), ["data_batch_3", "(100, 3000)", "(N, 3072) uint8"]


def _mnist(root: Path, name: str, damage):
    folder = Path(write_mnist(root, n_train=12, n_test=6)["folder"])
    damage(folder / name)
    return ["data=mnist", f"data.root={root}", "data.download=false"]


def mnist_bad_magic(root: Path):
    def relabel(path: Path):  # an image file carrying the label files' magic number
        raw = path.read_bytes()
        path.write_bytes(struct.pack(">I", 2049) + raw[4:])
    return (_mnist(root, "train-images-idx3-ubyte", relabel),
            ["train-images-idx3-ubyte", "magic number 2049", "2051"])


def mnist_truncated(root: Path):
    def cut(path: Path):
        raw = path.read_bytes()
        path.write_bytes(raw[:16 + 1000])  # header + 1000 of the 6 * 784 pixel bytes
    return (_mnist(root, "t10k-images-idx3-ubyte", cut),
            ["t10k-images-idx3-ubyte", "4704", "1000", "truncated"])


def mnist_count_mismatch(root: Path):
    def drop_last(path: Path):  # 11 labels for 12 images, header and size consistent
        raw = path.read_bytes()
        path.write_bytes(struct.pack(">II", 2049, 11) + raw[8:-1])
    return (_mnist(root, "train-labels-idx1-ubyte", drop_last),
            ["train-images-idx3-ubyte", "12 images", "train-labels-idx1-ubyte", "11 labels"])


def folder_empty(root: Path):
    images = root / "images"
    (images / "cats").mkdir(parents=True)  # a class folder without images
    (images / "cats" / "readme.txt").write_text("nothing here")
    return ["data=folder", f"data.root={images}"], [str(images), "no .png/.jpg/.jpeg images"]


def folder_not_an_image(root: Path):
    images = root / "images"
    write_image_folder(images, classes=("a", "b"), n_per_class=3, size=(8, 8))
    (images / "b" / "scan.png").write_text("not really a PNG")
    return ["data=folder", f"data.root={images}"], [str(images / "b" / "scan.png"),
                                                    "PNG or JPEG"]


def folder_declares_30000x30000(root: Path):
    images = root / "images"
    write_image_folder(images, classes=("a", "b"), n_per_class=3, size=(8, 8))
    write_png_declaring(images / "a" / "bomb.png", 30000, 30000)
    return ["data=folder", f"data.root={images}"], [str(images / "a" / "bomb.png"),
                                                    "too many pixels"]


def folder_above_max_pixels(root: Path):
    images = root / "images"
    write_image_folder(images, classes=("a", "b"), n_per_class=3, size=(8, 8))
    big = write_image_folder(images / "b", classes=("big",), n_per_class=1,
                             size=(40, 40))["files"]["all"][0][0]  # 1,600 pixels, in class b
    return ["data=folder", f"data.root={images}", "data.max_pixels=1000"], [
        str(big), "40 x 40 = 1,600 pixels, above data.max_pixels=1,000"]


CASES = {
    "missing_root-cifar10": _missing_root("cifar10"),
    "missing_root-mnist": _missing_root("mnist"),
    "missing_root-folder": _missing_root("folder"),
    "cifar_truncated": cifar_truncated,
    "cifar_corrupt": cifar_corrupt,
    "cifar_wrong_shape": cifar_wrong_shape,
    "mnist_bad_magic": mnist_bad_magic,
    "mnist_truncated": mnist_truncated,
    "mnist_count_mismatch": mnist_count_mismatch,
    "folder_empty": folder_empty,
    "folder_not_an_image": folder_not_an_image,
    "folder_declares_30000x30000": folder_declares_30000x30000,
    "folder_above_max_pixels": folder_above_max_pixels,
}


def _run_case(cwd: Path, case: str):
    """Write the case's data into cwd and run the entry point there, exactly as run_cli does."""
    args, names = CASES[case](cwd / "userdata")
    (cwd / PREVIOUS).parent.mkdir(parents=True)
    (cwd / PREVIOUS).write_text('{"test_mse": 0.5}')
    from aebench.cli import main

    return run_main(main, [*args, *RUN], cwd), names, cwd


@pytest.fixture(scope="module")
def cli_runs(request, tmp_path_factory):
    """{case: (CompletedProcess, names, cwd)} for this module's selected cases (the entry point
    called in-process, exactly as a user's command line would call it)."""
    selected = [item.callspec.params["case"] for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec")
                and "case" in item.callspec.params]
    return {case: _run_case(tmp_path_factory.mktemp(case), case)
            for case in dict.fromkeys(selected or CASES)}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_data_is_one_line_error_before_training(cli_runs, case):
    res, names, cwd = cli_runs[case]
    assert res.returncode == 2, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("aebench: error:"), res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert not list(cwd.glob("outputs/*/*/checkpoints"))  # nothing trained
    assert (cwd / PREVIOUS).read_text() == '{"test_mse": 0.5}'  # nothing overwritten


# -- the same checks in-process (milliseconds): variants not worth a process each ----------
def _cifar_batch(tmp_path, batch) -> CIFAR10DataModule:
    folder = Path(write_cifar10(tmp_path, n_train=10, n_test=4)["folder"])
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    return CIFAR10DataModule(root=str(tmp_path), download=False)


@pytest.mark.parametrize("batch,names", [
    ([1, 2, 3], ["test_batch", "a pickled list, not a dict"]),
    ({"pixels": np.zeros((4, 3072), np.uint8)}, ["test_batch", "its keys: 'pixels'"]),
    ({"data": np.zeros((4, 3072), np.float32), "labels": [0] * 4}, ["(4, 3072) float32"]),
    ({"data": np.zeros((4, 3072), np.uint8), "labels": [0] * 3}, ["4 images", "(3,)"]),
    ({"data": np.zeros((4, 3072), np.uint8), "labels": [0, 1, 2, 10]}, ["from 0 to 10"]),
])
def test_cifar_batch_variants_name_the_file(tmp_path, batch, names):
    with pytest.raises(ConfigError) as err:
        _cifar_batch(tmp_path, batch).setup()
    message = str(err.value)
    assert "\n" not in message and "(N, 3072) uint8" in message
    for name in names:
        assert name in message, (name, message)


def test_cifar_integer_pixels_in_range_still_load(tmp_path):
    pixels = np.arange(4 * 3072).reshape(4, 3072) % 256  # int64, as from a list of ints
    dm = _cifar_batch(tmp_path, {"data": pixels, "labels": [0, 1, 2, 9]})
    dm.setup()
    assert torch.equal(dm.test_x.flatten(1), torch.from_numpy(pixels).to(torch.uint8))


def test_mnist_gz_and_header_variants_name_the_file(tmp_path):
    folder = Path(write_mnist(tmp_path, n_train=12, n_test=6, gz=True)["folder"])
    gz = folder / "train-labels-idx1-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:20])  # a cut gzip stream
    with pytest.raises(ConfigError, match="train-labels-idx1-ubyte.gz .*re-download"):
        MNISTDataModule(root=str(tmp_path), download=False).setup()
    gz.unlink()
    plain = folder / "train-labels-idx1-ubyte"
    plain.write_bytes(struct.pack(">I", 2049) + b"\0\0")  # header cut short
    with pytest.raises(ConfigError, match="truncated: 6 bytes, less than its 8-byte header"):
        MNISTDataModule(root=str(tmp_path), download=False).setup()
    plain.write_bytes(struct.pack(">II", 2049, 12) + bytes([3] * 11 + [12]))  # label 12
    with pytest.raises(ConfigError, match="holds label 12; MNIST labels are 0..9"):
        MNISTDataModule(root=str(tmp_path), download=False).setup()


def test_folder_skips_non_image_files_with_one_warning(tmp_path, caplog):
    write_image_folder(tmp_path, classes=("a", "b"), n_per_class=4, size=(8, 8))
    (tmp_path / "a" / "notes.txt").write_text("scanned on a Tuesday")
    (tmp_path / "b" / ".DS_Store").write_bytes(b"\0")  # hidden: skipped without a word
    with caplog.at_level(logging.WARNING, logger="aebench"):
        dm = FolderDataModule(root=str(tmp_path), size=8, test_fraction=0.25)
        dm.setup()
    assert len(dm.train_x) + len(dm.val_x) + len(dm.test_x) == 8
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 1 file" in warnings[0], warnings
    assert str(tmp_path / "a" / "notes.txt") in warnings[0]


def test_folder_mixed_sizes_and_modes_are_resized_to_data_size(tmp_path):
    """Not an error: every image is resized to data.size x data.size (conf/data/folder.yaml)."""
    from PIL import Image

    for i, (mode, size) in enumerate([("RGB", (8, 8)), ("L", (20, 12)), ("RGBA", (5, 30)),
                                      ("P", (16, 16))]):
        (tmp_path / "c").mkdir(exist_ok=True)
        Image.new(mode, size).save(tmp_path / "c" / f"{i}.png")
    dm = FolderDataModule(root=str(tmp_path), size=10, channels=3, test_fraction=0.25,
                          val_fraction=0.0)
    dm.setup()
    assert dm.train_x.shape == (3, 3, 10, 10) and dm.test_x.shape == (1, 3, 10, 10)

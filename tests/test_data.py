"""Data modules: one test per promise a user relies on (tiny fake data sets, fast)."""
from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest
import torch

from aebench.core.data.cifar10 import CIFAR10DataModule
from aebench.core.data.folder import FolderDataModule
from aebench.core.data.mnist import MNISTDataModule
from aebench.core.data.shapes import ShapesDataModule
from aebench.core.data.sine import SineDataModule
from aebench.core.errors import ConfigError
from fakedata import write_cifar10, write_image_folder, write_mnist


def _all_x(dm):
    return [dm.train_x, dm.val_x, dm.test_x]


# -- CIFAR-10 -----------------------------------------------------------------------------
def test_cifar10_loads_non_official_copy_with_exact_pixels(tmp_path):
    info = write_cifar10(tmp_path, n_train=50, n_test=20)
    dm = CIFAR10DataModule(root=str(tmp_path), download=False, val_fraction=0.2, seed=0)
    train_x, train_y, test_x, test_y = dm.load()
    assert train_x.shape == (50, 3, 32, 32) and test_x.shape == (20, 3, 32, 32)
    assert train_x.dtype == torch.uint8 and train_y.dtype == torch.int64  # 8-bit in memory
    assert torch.equal(train_y, torch.from_numpy(info["train_labels"]))
    assert torch.equal(test_y, torch.from_numpy(info["test_labels"]))
    # channel-planar storage must come back as CHW: image 13 (batch 2), every pixel exact
    assert torch.equal(train_x[13], torch.from_numpy(info["train_hwc"][13]).permute(2, 0, 1))
    assert torch.equal(test_x[7], torch.from_numpy(info["test_hwc"][7]).permute(2, 0, 1))
    dm.setup()
    assert (len(dm.train_x), len(dm.val_x), len(dm.test_x)) == (40, 10, 20)


@pytest.mark.parametrize("cls,layout", [(CIFAR10DataModule, "cifar-10-batches-py"),
                                        (MNISTDataModule, os.path.join("MNIST", "raw"))])
def test_missing_data_without_download_names_the_path(tmp_path, cls, layout):
    dm = cls(root=str(tmp_path), download=False)
    with pytest.raises(ConfigError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert os.path.join(str(tmp_path), layout) in message
    assert "data.root=" in message and "\n" not in message


def test_missing_data_with_failed_download_fails_fast_in_one_line(tmp_path, monkeypatch):
    # whatever the network does, a failed download must end in one ConfigError line
    import aebench.core.data.cifar10 as cifar10
    monkeypatch.setattr(cifar10, "_unreachable", lambda url, timeout=2.0: "host unreachable (test)")
    start = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        CIFAR10DataModule(root=str(tmp_path), download=True).prepare_data()
    assert time.perf_counter() - start < 5
    assert os.path.join(str(tmp_path), "cifar-10-batches-py") in str(err.value)
    assert "download failed" in str(err.value) and "\n" not in str(err.value)


# -- MNIST --------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_loads_plain_and_gz(tmp_path, gz):
    info = write_mnist(tmp_path, n_train=60, n_test=20, gz=gz)
    dm = MNISTDataModule(root=str(tmp_path), download=False)
    train_x, train_y, test_x, test_y = dm.load()
    assert train_x.shape == (60, 1, 28, 28) and test_x.shape == (20, 1, 28, 28)
    assert train_x.dtype == torch.uint8 and test_y.dtype == torch.int64
    assert torch.equal(train_x[5, 0], torch.from_numpy(info["train_images"][5]))
    assert torch.equal(train_y, torch.from_numpy(info["train_labels"]))
    assert torch.equal(test_y, torch.from_numpy(info["test_labels"]))


# -- base class: split and loaders ----------------------------------------------------------
def test_train_val_split_is_seeded(tmp_path):
    write_mnist(tmp_path, n_train=100, n_test=10)
    a, b, c = (MNISTDataModule(root=str(tmp_path), download=False, val_fraction=0.2, seed=s)
               for s in (1, 1, 2))
    for dm in (a, b, c):
        dm.setup()
    assert (len(a.train_x), len(a.val_x)) == (80, 20)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.val_x, b.val_x)
    assert not torch.equal(a.val_x, c.val_x)
    # train and val are a partition of the training file
    both = torch.cat([a.train_x, a.val_x]).flatten(1)
    assert len(torch.unique(both, dim=0)) == 100


def test_loaders_yield_batches_covering_every_item_once():
    dm = SineDataModule(num_sequences=125, test_fraction=0.2, batch_size=16, eval_batch_size=32,
                        val_fraction=0.2)
    dm.setup()
    assert (len(dm.train_x), len(dm.val_x), len(dm.test_x)) == (80, 20, 25)
    for loader, n, bs in ((dm.train_dataloader(), 80, 16), (dm.val_dataloader(), 20, 32),
                          (dm.test_dataloader(), 25, 32)):
        for _epoch in range(2):
            seen, sizes = [], []
            for x, y, idx in loader:
                assert x.shape[1:] == (50, 1) and y.dtype == torch.int64 and idx.dtype == torch.int64
                assert len(x) == len(y) == len(idx)
                sizes.append(len(x))
                seen.append(idx)
            seen = torch.cat(seen)
            assert sorted(seen.tolist()) == list(range(n))
            assert all(s == bs for s in sizes[:-1]) and 0 < sizes[-1] <= bs


def test_batch_items_match_their_index():
    dm = ShapesDataModule(num_train=40, num_test=10, batch_size=8)
    dm.setup()
    x, y, idx = next(iter(dm.train_dataloader()))
    assert torch.equal(x, dm.train_x[idx]) and torch.equal(y, dm.train_y[idx])


def test_8bit_items_are_held_as_uint8_and_reach_the_model_as_floats(tmp_path):
    # a quarter of float32's memory; the batch hook (run after the batch reached its device)
    # gives the model exactly k / 255
    info = write_cifar10(tmp_path, n_train=20, n_test=10)
    dm = CIFAR10DataModule(root=str(tmp_path), download=False, val_fraction=0.2, batch_size=4)
    dm.setup()
    assert dm.test_x.dtype == torch.uint8
    x, y, idx = dm.on_after_batch_transfer(next(iter(dm.test_dataloader())), 0)
    assert x.dtype == torch.float32
    expected = torch.from_numpy(info["test_hwc"][:len(x)]).permute(0, 3, 1, 2).float() / 255.0
    assert torch.equal(x, expected)


def test_data_set_moves_to_the_trainers_gpu_unless_told_not_to():
    # what setup() does with a GPU trainer; "meta" stands in for the GPU on this CPU machine
    dm = ShapesDataModule(num_train=20, num_test=10)
    dm.setup()
    assert not dm.place(torch.device("cpu"))
    assert dm.place(torch.device("meta")) and dm.train_x.device.type == "meta"
    assert all(getattr(dm, f"{s}_{k}").device.type == "meta" for s in ("train", "val", "test")
               for k in "xy")
    x, _, idx = next(iter(dm.train_dataloader()))  # batches are indexed where the data lives
    assert x.device.type == "meta" and len(x) == len(idx)
    kept = ShapesDataModule(num_train=20, num_test=10, on_device=False)
    kept.setup()
    assert not kept.place(torch.device("meta")) and kept.train_x.device.type == "cpu"
    with pytest.raises(ConfigError, match="data.on_device='yes'"):
        ShapesDataModule(on_device="yes")


# -- folder ---------------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [1, 3])
def test_folder_class_layout_resized(tmp_path, channels):
    write_image_folder(tmp_path, classes=("cat", "ant"), n_per_class=10, size=(20, 24))
    dm = FolderDataModule(root=str(tmp_path), size=16, channels=channels, test_fraction=0.2,
                          val_fraction=0.25, seed=3)
    dm.setup()
    assert dm.classes == ("ant", "cat")  # sorted by name -> labels 0, 1
    assert (len(dm.train_x), len(dm.val_x), len(dm.test_x)) == (12, 4, 4)
    for x in _all_x(dm):
        assert x.shape[1:] == (channels, 16, 16) and x.dtype == torch.uint8
    labels = torch.cat([dm.train_y, dm.val_y, dm.test_y])
    assert sorted(labels.tolist()) == [0] * 10 + [1] * 10
    # same seed -> same test split
    again = FolderDataModule(root=str(tmp_path), size=16, channels=channels, seed=3,
                             val_fraction=0.25)
    again.setup()
    assert torch.equal(again.test_x, dm.test_x)


def test_folder_exact_pixels_without_resize(tmp_path):
    info = write_image_folder(tmp_path, classes=("only",), n_per_class=3, size=(8, 8))
    dm = FolderDataModule(root=str(tmp_path), size=8, channels=3, test_fraction=0.34)
    train_x, _, test_x, _ = dm.load()
    loaded = {tuple(x.flatten().tolist()) for x in torch.cat([train_x, test_x])}
    for _path, _cls, img in info["files"]["all"]:
        expected = torch.from_numpy(img).permute(2, 0, 1)
        assert tuple(expected.flatten().tolist()) in loaded


def test_folder_train_test_layout_and_extensions(tmp_path):
    info = write_image_folder(tmp_path, classes=("x", "y", "z"), n_per_class=6, size=(10, 10),
                              split=True, ext="JPG")
    dm = FolderDataModule(root=str(tmp_path), size=12, channels=3, val_fraction=0.0)
    dm.setup()
    assert dm.classes == ("x", "y", "z")
    assert len(dm.train_x) == 18 and len(dm.test_x) == len(info["files"]["test"]) == 9
    assert dm.test_y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_folder_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        FolderDataModule(root=str(tmp_path / "nope")).setup()
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(ConfigError, match="no .png"):
        FolderDataModule(root=str(tmp_path / "empty")).setup()
    with pytest.raises(ConfigError, match="channels"):
        FolderDataModule(root=str(tmp_path), channels=2)


# -- shapes ---------------------------------------------------------------------------------
def test_shapes_deterministic_bounded_with_classes():
    a = ShapesDataModule(num_train=200, num_test=50, size=32, channels=3, data_seed=0, seed=1)
    b = ShapesDataModule(num_train=200, num_test=50, size=32, channels=3, data_seed=0, seed=1)
    c = ShapesDataModule(num_train=200, num_test=50, size=32, channels=3, data_seed=1, seed=1)
    xa, ya, ta, _ = a.load()
    xb, yb, tb, _ = b.load()
    xc, _, _, _ = c.load()
    assert torch.equal(xa, xb) and torch.equal(ya, yb) and torch.equal(ta, tb)
    assert not torch.equal(xa, xc)
    assert xa.shape == (200, 3, 32, 32) and ta.shape == (50, 3, 32, 32) and xa.dtype == torch.float32
    assert 0.0 <= float(xa.min()) and float(xa.max()) <= 1.0
    assert len(torch.unique(ya)) >= 4 and ya.dtype == torch.int64
    assert not torch.equal(xa[:50], ta)  # test set is not a copy of train
    # real structure: strong local edges in most images
    edges = (xa[..., 1:] - xa[..., :-1]).abs().amax(dim=(1, 2, 3))
    assert (edges > 0.3).float().mean() > 0.9
    assert a.bounded


def test_shapes_grey_and_size():
    x, _, _, _ = ShapesDataModule(num_train=10, num_test=5, size=48, channels=1).load()
    assert x.shape == (10, 1, 48, 48)


# -- sine -----------------------------------------------------------------------------------
def test_sine_report_preset_is_exact():
    dm = SineDataModule(num_sequences=1000, length=50, t_end=6.283185307179586,
                        freq_range=[1, 1], phase_range=[0, 0], amp_range=[1, 1], seed=0)
    dm.setup()
    expected = torch.from_numpy(np.sin(np.linspace(0, 2 * np.pi, 50)).astype(np.float32))
    assert sum(len(x) for x in _all_x(dm)) == 1000
    for x in _all_x(dm):
        assert x.shape[1:] == (50, 1) and x.dtype == torch.float32
        assert torch.equal(x[..., 0], expected.expand(len(x), 50))
    assert (dm.train_y == -1).all() and (dm.test_y == -1).all()
    assert not dm.bounded


def test_sine_random_ranges_respected():
    dm = SineDataModule(num_sequences=300, length=40, t_end=4 * math.pi, freq_range=(0.5, 3.0),
                        phase_range=(0, 2 * math.pi), amp_range=(0.5, 1.5), num_test=50, data_seed=7)
    train_x, _, test_x, _ = dm.load()
    assert train_x.shape == (300, 40, 1) and test_x.shape == (50, 40, 1)
    x = torch.cat([train_x, test_x])[..., 0].double()
    amp = x.abs().amax(1)  # 2 periods at least: the peak is reached up to sampling
    assert float(amp.max()) <= 1.5 + 1e-6 and float(amp.min()) >= 0.5 * 0.9
    assert float(x.min()) < -1.0 and float(x.max()) > 1.0  # not confined to [0, 1]
    assert float(x[:, 0].abs().max()) > 0.3                # random phases: x_0 not always 0
    other = SineDataModule(num_sequences=300, length=40, t_end=4 * math.pi, num_test=50,
                           data_seed=8).load()[0]
    assert not torch.equal(other, train_x)


def test_sine_bad_range_is_config_error():
    with pytest.raises(ConfigError, match="freq_range"):
        SineDataModule(freq_range=(3.0, 1.0))

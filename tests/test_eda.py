"""`python -m aebench.eda`: data exploration, run as a user runs it, in a fresh folder."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import conftest
import numpy as np
import pytest
from PIL import Image

CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck"]
COLOUR = (10, 20, 30)  # every image, every pixel: R, G, B
TRAIN_LABELS = [0] * 8 + [1] * 6 + [2] * 4 + [9] * 2  # 20 images, 4 per training batch
TEST_LABELS = [3] * 5 + [4] * 3 + [5] * 2
IMAGE_FILES = ["class_balance.png", "pixel_histograms.png", "channel_correlation.png",
               "samples.png", "degradations.png"]


def write_constant_cifar10(root: Path) -> None:
    """root/cifar-10-batches-py in the real format (planar uint8 pickles), one colour everywhere."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    planar = np.repeat(np.array(COLOUR, dtype=np.uint8), 1024)  # 1024 R, 1024 G, 1024 B

    def dump(name, labels):
        batch = {"batch_label": name, "labels": list(labels),
                 "data": np.tile(planar, (len(labels), 1)),
                 "filenames": [f"img_{i}.png" for i in range(len(labels))]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))

    for i in range(5):
        dump(f"data_batch_{i + 1}", TRAIN_LABELS[4 * i:4 * i + 4])
    dump("test_batch", TEST_LABELS)


def _cifar10_args(cwd: Path) -> list[str]:
    write_constant_cifar10(cwd / "data")
    return ["data=cifar10", f"data.root={cwd / 'data'}", "logger=none"]  # default output folder


RUNS = {  # name -> the arguments of one `python -m aebench.eda` run (in its own folder)
    "cifar10": _cifar10_args,
    "sine": lambda cwd: ["data=sine", "data.num_sequences=64", "logger=none", "hydra.run.dir=out"],
    "no_data": lambda cwd: ["data=cifar10", "data.root=nowhere", "data.download=false",
                            "logger=none"],
}


@pytest.fixture(scope="module")
def eda_runs(tmp_path_factory):
    """`eda_runs(name)`: (folder, CompletedProcess) of `python -m aebench.eda ARGS` run in its own
    folder (in-process: conftest.run_main), once per module."""
    from aebench.eda import main

    done = {}

    def result(name: str):
        if name not in done:
            cwd = tmp_path_factory.mktemp(name)
            done[name] = cwd, conftest.run_main(main, RUNS[name](cwd), cwd)
        return done[name]

    return result


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000, path
    with Image.open(path) as img:
        assert min(img.size) > 150, (path, img.size)


def per_class(labels) -> dict:
    return {name: labels.count(i) for i, name in enumerate(CLASSES)}


def test_cifar10_stats_are_exact_and_every_figure_is_written(eda_runs):
    tmp_path, res = eda_runs("cifar10")
    assert res.returncode == 0, res.stderr[-3000:]
    (out,) = tmp_path.glob("outputs/eda/*/*")  # the default folder, printed at the end
    assert str(out) in res.stdout.splitlines()[-1]
    for name in IMAGE_FILES:
        assert_png(out / name)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["image_shape"] == [3, 32, 32] and stats["classes"] == CLASSES
    splits = stats["splits"]
    for split in ("train", "val", "test", "all"):
        s = splits[split]
        assert s["channel_mean_255"] == list(map(float, COLOUR)), split  # exact, not approx
        assert s["channel_std_255"] == [0.0, 0.0, 0.0], split
        assert s["channel_mean_01"] == [v / 255 for v in COLOUR], split
        assert s["channel_min_255"] == s["channel_max_255"] == list(map(float, COLOUR)), split
        assert (s["mean_255"], s["min_255"], s["max_255"]) == (20.0, 10.0, 30.0), split
    assert [splits[s]["count"] for s in ("train", "val", "test", "all")] == [16, 4, 10, 30]
    assert splits["test"]["class_counts"] == per_class(TEST_LABELS)
    assert splits["all"]["class_counts"] == per_class(TRAIN_LABELS + TEST_LABELS)
    train_val = {c: splits["train"]["class_counts"][c] + splits["val"]["class_counts"][c]
                 for c in CLASSES}
    assert train_val == per_class(TRAIN_LABELS)
    assert stats["channel_correlation"]["split"] == "train"  # constant channels: undefined
    assert stats["degradations"]["split"] == "test"
    assert set(stats["degradations"]["psnr_db"]) == {"0.5", "1.0", "1.5", "2.0"}


def test_sine_writes_sequence_stats_samples_and_value_histogram(eda_runs):
    tmp_path, res = eda_runs("sine")
    assert res.returncode == 0, res.stderr[-3000:]
    out = tmp_path / "out"
    for name in ("samples.png", "value_histogram.png"):
        assert_png(out / name)
    assert not any((out / name).exists() for name in IMAGE_FILES if name != "samples.png")
    stats = json.loads((out / "stats.json").read_text())
    counts = {s: stats["splits"][s]["count"] for s in ("train", "val", "test", "all")}
    assert counts == {"train": 41, "val": 10, "test": 13, "all": 64}
    assert stats["splits"]["all"]["length"] == 50 and stats["kind"] == "sequences"
    assert stats["degradation"]["describe"] == "noise 0.1"
    assert -1.5 <= stats["splits"]["all"]["min"] < stats["splits"]["all"]["max"] <= 1.5


def test_missing_data_is_one_line_error_with_exit_2(eda_runs):
    tmp_path, res = eda_runs("no_data")
    assert res.returncode == 2, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("aebench: error: cifar10:"), res.stderr[-2000:]
    assert "not found" in lines[0] and "Traceback" not in res.stderr
    assert not list(tmp_path.glob("outputs/eda/*/*/stats.json"))

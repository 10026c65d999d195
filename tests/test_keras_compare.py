"""benchmarks/keras_compare.py on tiny CIFAR-10-format data: a row per model with its step time.

The Keras side needs .venv-keras (make keras-venv); without it only the aebench side runs."""
from __future__ import annotations

import contextlib
import io
import re
import sys

import pytest
from conftest import ROOT
from fakedata import write_cifar10

sys.path.insert(0, str(ROOT / "benchmarks"))
KERAS_PY = ROOT / ".venv-keras" / "bin" / "python"


def run(argv) -> str:
    """keras_compare.main(argv)'s output, with one torch thread: two-thread processes sharing
    two busy cores slow each other down by up to 70x (docs/performance.md)."""
    import keras_compare
    import torch

    out, threads = io.StringIO(), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with contextlib.redirect_stdout(out):
            keras_compare.main(argv)
    finally:
        torch.set_num_threads(threads)
    return out.getvalue()


def rows(text: str) -> dict:
    """{(model, batch, side): ms/step} of the printed timing table."""
    found = {}
    for m in re.finditer(r"^\| (\w+) \| (\d+) \| ([^|]+?) \| ([\d.]+) \| [\d.]+-[\d.]+ \|",
                         text, re.M):
        found[(m[1], int(m[2]), m[3])] = float(m[4])
    return found


def test_aebench_side_prints_a_row_per_model(tmp_path):
    write_cifar10(tmp_path, n_train=50, n_test=12)  # 40 training items after the val split
    text = run(["--data-dir", str(tmp_path), "--no-keras", "--batch-sizes", "8", "--steps", "1",
                "--rounds", "1", "--levers", "bf16", "nchw", "--epochs", "1"])
    got = rows(text)
    # bf16 sides are timed where the CPU has native bf16 (AVX512-BF16/AMX); elsewhere oneDNN may
    # refuse bf16 LSTMs: the row is then reported failed with the reason, the benchmark goes on
    import torch

    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    for model in ("lstm_seq", "lstm", "rnn", "cnn_small"):
        for side in ("aebench", "aebench bf16", "bare loop", "bare loop bf16"):
            if native or "bf16" not in side:
                assert got[(model, 8, side)] > 0, (model, side, text)
            else:
                assert (model, 8, side) in got or f"| {model} | 8 | {side} | failed |" in text
        assert (model, 8, "Keras") not in got
    assert got[("cnn_small", 8, "aebench nchw")] > 0  # a CNN-only lever, on the CNN only
    assert ("lstm", 8, "aebench nchw") not in got
    assert "threads" in text and "Intel" in text or "CPUs" in text
    # --epochs: a test PSNR per model, next to the blurred input's
    psnrs = re.findall(r"^\| (\w+) \| 8 \| 1 \| aebench \| ([\d.]+) \|", text, re.M)
    assert sorted(m for m, _ in psnrs) == sorted(["lstm_seq", "lstm", "rnn", "cnn_small"])
    assert "blurred input as is:" in text


@pytest.mark.slow
@pytest.mark.skipif(not KERAS_PY.exists(), reason="no .venv-keras (make keras-venv)")
def test_keras_side_alternates_with_aebench(tmp_path):
    write_cifar10(tmp_path, n_train=50, n_test=12)
    text = run(["--data-dir", str(tmp_path), "--models", "cnn_small", "lstm_seq",
                "--batch-sizes", "8", "--steps", "1", "--rounds", "1", "--levers",
                "--epochs", "1"])
    got = rows(text)
    for model in ("cnn_small", "lstm_seq"):
        assert got[(model, 8, "Keras")] > 0 and got[(model, 8, "aebench")] > 0
    assert "intra-op 2 / inter-op 2 threads" in text
    assert re.search(r"^\| cnn_small \| 8 \| 1 \| Keras \| [\d.]+ \|", text, re.M)

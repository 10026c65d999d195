"""Analysis after training (`analysis=`) and on a checkpoint (`python -m aebench.analyze`)."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import FAST
from fakedata import write_cifar10

from aebench.analyze import anomaly, linear_probe
from aebench.core.data.shapes import ShapesDataModule
from aebench.core.errors import ConfigError


def test_linear_probe_is_near_perfect_on_separable_codes_and_chance_on_random_labels():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 5, size=(4, 16))
    y_tr, y_te = rng.integers(0, 4, 800), rng.integers(0, 4, 400)
    x_tr, x_te = centres[y_tr] + rng.normal(0, 1, (800, 16)), centres[y_te] + rng.normal(0, 1, (400, 16))
    acc, report, cm, _ = linear_probe(x_tr, y_tr, x_te, y_te, ("a", "b", "c", "d"), 0, 5000)
    assert acc > 0.97 and cm.sum() == 400 and set(report) >= {"a", "b", "c", "d"}
    shuffled, _, _, _ = linear_probe(x_tr, rng.permutation(y_tr), x_te, y_te, ("a", "b", "c", "d"),
                                  0, 5000)
    assert shuffled < 0.45  # 4 classes: chance is about 0.25


class _Const(torch.nn.Module):
    """Outputs zeros (or noise): reconstructs an all-zero image perfectly, nothing else."""

    def __init__(self, noise: bool = False):
        super().__init__()
        self.noise = noise
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return torch.rand_like(x) if self.noise else torch.zeros_like(x)


def test_anomaly_auroc_is_high_for_an_obvious_anomaly_and_near_half_for_a_random_score(tmp_path):
    n = 1000
    y = torch.arange(n) % 5
    x = torch.zeros(n, 1, 8, 8)
    x[y == 3] = 1.0  # the held-out class is all white, the others black
    dm = SimpleNamespace(held_out=3, test_x=x, test_y=y, bounded=True, classes=tuple("abcde"))
    ident = lambda xb, idx, split: xb  # noqa: E731  (no degradation)
    obvious = anomaly(_Const(), dm, ident, tmp_path)
    assert obvious["anomaly_auroc"] > 0.99 and obvious["anomaly_holdout_class"] == "d"
    assert (tmp_path / "anomaly_scores.png").stat().st_size > 5000
    torch.manual_seed(0)
    dm.test_x = torch.rand(n, 1, 8, 8)  # every image alike: the score says nothing of the class
    random = anomaly(_Const(noise=True), dm, ident, tmp_path)
    assert abs(random["anomaly_auroc"] - 0.5) < 0.07


def test_a_held_out_class_leaves_train_and_val_but_stays_in_test():
    dm = ShapesDataModule(num_train=200, num_test=100, holdout_class="circle", seed=0)
    dm.setup("fit")
    k = ShapesDataModule.classes.index("circle")
    assert dm.held_out == k and (dm.train_y != k).all() and (dm.val_y != k).all()
    assert (dm.test_y == k).any()
    with pytest.raises(ConfigError, match="holdout_class='dog'.*circle"):
        ShapesDataModule(num_train=50, num_test=10, holdout_class="dog").setup("fit")


@pytest.mark.slow
def test_analysis_all_writes_every_figure_and_the_checkpoint_can_be_analysed_again(run_cli, tmp_path):
    write_cifar10(tmp_path / "cifar", n_train=150, n_test=60)
    res = run_cli("data=cifar10", "data.root=cifar", "data.batch_size=32", "model=cnn",
                  "analysis=all", "analysis.holdout_class=cat", "analysis.tsne_samples=40",
                  *FAST, "logger=none")
    assert res.returncode == 0, res.stderr[-3000:]
    run = next((tmp_path / "outputs").glob("*/*"))
    for name in ("latent_pca.png", "latent_tsne.png", "confusion_matrix.png", "anomaly_scores.png"):
        assert (run / name).stat().st_size > 5000, name
    m = json.loads((run / "metrics.json").read_text())
    assert 0 <= m["probe_accuracy"] <= 1 and 0 <= m["probe_accuracy_pixels"] <= 1
    assert 0 <= m["anomaly_auroc"] <= 1 and m["anomaly_holdout_class"] == "cat"
    assert m["compression_ratio"] == pytest.approx(m["input_size"] / m["code_size"], rel=1e-3)
    assert m["code_layout"].startswith("feature map (8, 16, 16)")  # cnn: latent 8 channels
    assert "cat" not in m["probe_per_class"]  # never seen in training: not probed
    before = (run / "metrics.json").read_bytes()

    res = run_cli_module(run_cli, "aebench.analyze", str(run))
    assert res.returncode == 0, res.stderr[-3000:]
    again = next(run.glob("analysis-*"))
    a = json.loads((again / "analysis.json").read_text())
    assert a["code_layout"] == m["code_layout"] and "probe_accuracy" in a
    assert (run / "metrics.json").read_bytes() == before  # the run's own results untouched


def run_cli_module(run_cli, module: str, *args):
    """run_cli runs `python -m aebench`; this runs another module the same way."""
    import subprocess
    import sys

    from conftest import test_env

    cwd = Path(args[0]).parents[2]
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=240, env=test_env())

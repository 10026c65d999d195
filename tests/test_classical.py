"""Non-learned rows (identity, Wiener, unsharp masking): exact where they promise, tuned, never trained."""
from __future__ import annotations

import pytest
import torch
from conftest import FAST, FAST_SHAPES
from hydra.utils import instantiate

from aebench.core.degradations import Blur
from aebench.core.errors import ConfigError
from aebench.core.metrics import psnr
from aebench.core.config import build


def _images(n=16):
    from aebench.core.data.shapes import generate_shapes

    return generate_shapes(n, 32, 3, torch.Generator().manual_seed(0))[0]


def test_identity_returns_its_input_exactly(compose_cfg):
    net = instantiate(compose_cfg("model=identity").model.net, input_shape=(3, 32, 32))
    x = torch.rand(4, 3, 32, 32)
    assert torch.equal(net(x), x) and not list(net.parameters())


@pytest.mark.parametrize("model", ["wiener", "unsharp"])
def test_classical_filters_sharpen_a_blurred_image(compose_cfg, model):
    x = _images()
    blurred = Blur(sigma=1.0, quantize=False)(x)
    net = instantiate(compose_cfg(f"model={model}", "blur=1.0").model.net, input_shape=(3, 32, 32))
    net.tune(x[:8], blurred[:8])
    assert psnr(net(blurred[8:]), x[8:]) > psnr(blurred[8:], x[8:]) + 3


def test_wiener_needs_the_blur_it_inverts(compose_cfg):
    cfg = compose_cfg("model=wiener", "degradation=noise")
    with pytest.raises(ConfigError, match="needs degradation=blur"):
        build(cfg.model.net, input_shape=(3, 32, 32))


def test_a_non_learned_row_is_tuned_and_tested_through_the_entry_point(compose_cfg, train_run):
    metrics = train_run(*FAST, *FAST_SHAPES, "logger=none", "model=wiener")
    assert metrics["epochs"] == 0 and metrics["params"] == 0 and metrics["best_checkpoint"] is None
    assert metrics["tuned"]["balance"] > 0
    assert metrics["test_psnr"] > metrics["baseline_psnr"] + 3

"""Degradations do what the docs say, and evaluation sets are degraded the same way every time."""
from __future__ import annotations

import math

import pytest
import torch
from torchvision.transforms.v2.functional import gaussian_blur

from aebench.core.degradations import Blur, Noise
from aebench.core.errors import ConfigError


def test_blur_is_torchvision_gaussian_blur_rounded_to_8_bits():
    x = torch.rand(3, 3, 32, 32)
    out = Blur(sigma=1.5)(x)
    k = 2 * math.ceil(3 * 1.5) + 1
    ref = gaussian_blur(x, kernel_size=[k, k], sigma=[1.5, 1.5])
    assert torch.allclose(out, ref, atol=0.5 / 255 + 1e-6)
    assert torch.allclose(out * 255, torch.round(out * 255), atol=1e-4)  # 8-bit levels
    assert torch.allclose(Blur(sigma=1.5, quantize=False)(x), ref, atol=1e-6)  # float rounding
    wide = torch.rand(2, 1, 20, 45)  # H != W, and a 19 px kernel reflected at both edges
    ref = gaussian_blur(wide, kernel_size=[19, 19], sigma=[3.0, 3.0])
    assert torch.allclose(Blur(sigma=3.0, quantize=False)(wide), ref, atol=1e-6)


def test_eval_noise_is_fixed_per_item_whatever_the_batching():
    deg = Blur(sigma=1.0, noise_std=0.05)
    x = torch.rand(300, 3, 32, 32)
    idx = torch.arange(300)
    whole = deg(x, idx, "val")
    parts = torch.cat([deg(x[:7], idx[:7], "val"), deg(x[7:], idx[7:], "val")])
    fresh = Blur(sigma=1.0, noise_std=0.05)(x, idx, "val")  # another model, another epoch
    assert torch.equal(whole, parts) and torch.equal(whole, fresh)
    assert not torch.equal(deg(x, idx, "test"), whole)      # test and val noise differ
    assert not torch.equal(deg(x, idx, "train"), deg(x, idx, "train"))  # training noise is fresh


def test_noise_on_sequences_is_not_clipped():
    x = torch.randn(8, 50, 1) * 3
    y = Noise(std=0.1)(x, torch.arange(8), "test")
    assert (y.abs() > 1).any() and 0.05 < (y - x).std() < 0.2


def test_blur_too_large_for_the_image_is_refused():
    Blur(sigma=9).check((1, 28, 28))  # a 55 px kernel still reflect-pads a 28 px image
    with pytest.raises(ConfigError, match="blur=10 .*use blur <= 9"):
        Blur(sigma=10).check((1, 28, 28))


def test_a_blur_range_gives_each_image_its_own_sigma_fixed_for_evaluation():
    """blur=[0.5,2.0]: image i is torchvision's blur at its own sigma, drawn afresh in training,
    always the same draw for a validation/test item whatever the batching."""
    deg = Blur(sigma=[0.5, 2.0], quantize=False)
    x = torch.rand(300, 3, 32, 32)
    idx = torch.arange(300)
    sig = deg.sigmas(300, idx, "test")
    assert 0.5 <= sig.min() and sig.max() <= 2.0 and sig.std() > 0.3
    out = deg(x, idx, "test")
    for i in (0, 137, 299):
        k = 2 * math.ceil(3 * sig[i].item()) + 1
        ref = gaussian_blur(x[i:i + 1], kernel_size=[k, k], sigma=[sig[i].item()] * 2)
        assert torch.allclose(out[i:i + 1], ref, atol=1e-5)
    parts = torch.cat([deg(x[:7], idx[:7], "test"), deg(x[7:], idx[7:], "test")])
    assert torch.equal(out, parts) and torch.equal(out, Blur(sigma=[0.5, 2.0], quantize=False)(x, idx, "test"))
    assert not torch.equal(deg.sigmas(300, idx, "val"), sig)
    assert not torch.equal(deg(x, idx, "train"), deg(x, idx, "train"))
    assert deg.describe() == "blur 0.5-2" and Blur(sigma=[1.0, 1.0]).describe() == "blur 1, 8-bit"


@pytest.mark.parametrize("bad", [[2.0, 0.5], [1.0], [-1, 2], "wide"])
def test_a_bad_blur_range_is_refused_with_what_would_be_accepted(bad):
    with pytest.raises(ConfigError, match=r"blur=.* is not accepted: .*range \[lo,hi\]"):
        Blur(sigma=bad)

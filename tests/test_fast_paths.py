"""The fast paths change speed, never values: SSIM as torchmetrics defines it, channels_last CNNs."""
from __future__ import annotations

import copy

import pytest
import torch
from torchmetrics.image import StructuralSimilarityIndexMeasure

from aebench.metrics import SSIM


@pytest.mark.parametrize("shape", [(64, 3, 32, 32), (50, 1, 28, 28), (7, 3, 17, 23)])
def test_ssim_equals_torchmetrics_to_1e5(shape):
    g = torch.Generator().manual_seed(0)
    target = torch.rand(shape, generator=g)
    for noise in (0.0, 0.02, 0.3):
        preds = (target + noise * torch.randn(shape, generator=g)).clamp(0, 1)
        ours, ref = SSIM(data_range=1.0), StructuralSimilarityIndexMeasure(data_range=1.0)
        for i in range(0, shape[0], 16):  # several updates, as in an epoch
            ours.update(preds[i:i + 16], target[i:i + 16])
            ref.update(preds[i:i + 16], target[i:i + 16])
        assert float(ours.compute()) == pytest.approx(float(ref.compute()), abs=1e-5)


def test_channels_last_cnn_gives_the_same_outputs_and_gradients():
    from functools import partial

    from aebench.degradations import Blur
    from aebench.models.cnn_small import SmallConvAutoencoder
    from aebench.module import AutoencoderModule

    torch.manual_seed(0)
    net = SmallConvAutoencoder(input_shape=(3, 32, 32), latent=8)
    x = torch.rand(4, 3, 32, 32)
    outs = []
    for fast in (False, True):
        m = AutoencoderModule(copy.deepcopy(net), Blur(1.0), partial(torch.optim.Adam, lr=1e-3),
                              channels_last=fast)
        out = m(x)
        out.sum().backward()
        assert out.is_contiguous()  # metrics can flatten it
        outs.append((out.detach(), m.net.encoder[0].weight.grad))
    assert torch.allclose(outs[0][0], outs[1][0], atol=1e-5)
    assert torch.allclose(outs[0][1], outs[1][1], atol=1e-4)

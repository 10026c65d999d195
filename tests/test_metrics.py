"""aebench's SSIM is torchmetrics' SSIM (same definition), only computed faster."""
from __future__ import annotations

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

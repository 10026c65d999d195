"""Non-learned row: unsharp masking, out = y + amount * (y - gaussian_blur(y, radius)).

The blur is torchvision's gaussian_blur (kernel 2*ceil(3*radius)+1, reflect padding).
`radius` and `amount` are tuned on training images by `tune` (the entry point calls it before
testing; there is nothing to train).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from aebench.core.errors import ConfigError
from aebench.core.metrics import psnr

RADII = (0.5, 0.6, 0.75, 0.9, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
AMOUNTS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0)


class Unsharp(nn.Module):
    def __init__(self, input_shape, bounded: bool = True, radius: float = 1.0,
                 amount: float = 1.0):
        super().__init__()
        self.input_shape = tuple(input_shape)
        if len(self.input_shape) != 3:
            raise ConfigError(f"model=unsharp needs images (C, H, W); this data has items of shape "
                              f"{self.input_shape}")
        self.side = min(self.input_shape[1:])
        self.radii = [r for r in RADII if math.ceil(3 * r) < self.side]
        self.code_size = int(torch.Size(self.input_shape).numel())
        self.radius, self.amount = float(radius), float(amount)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)

    @staticmethod
    def _blur(x: torch.Tensor, radius: float) -> torch.Tensor:
        from torchvision.transforms.v2.functional import gaussian_blur

        k = 2 * math.ceil(3 * radius) + 1
        return gaussian_blur(x, kernel_size=[k, k], sigma=[radius, radius])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.amount * (x - self._blur(x, self.radius))

    @torch.no_grad()
    def tune(self, clean: torch.Tensor, degraded: torch.Tensor) -> dict:
        """Pick (radius, amount) with the best mean PSNR on (clean, degraded) training pairs."""
        best = (-math.inf, self.radius, self.amount)
        for r in self.radii:
            detail = degraded - self._blur(degraded, r)
            for a in AMOUNTS:
                best = max(best, (psnr(degraded + a * detail, clean), r, a))
        score, self.radius, self.amount = best
        return {"radius": self.radius, "amount": self.amount, "tune_psnr": score}

"""Non-learned row: returns the degraded input unchanged (the restoration baseline as a model)."""
from __future__ import annotations

import torch
from torch import nn


class PassThrough(nn.Module):
    """No parameters, no training: output = input. Its code is the whole input."""

    def __init__(self, input_shape, bounded: bool = True):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.code_size = int(torch.Size(self.input_shape).numel())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

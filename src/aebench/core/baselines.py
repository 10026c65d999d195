"""Baselines a model must beat for the task to be worth a network.

Restoration (blur, noise): the degraded input returned unchanged. Plain reconstruction (no
degradation, where returning the input is trivially perfect): PCA fitted on the training set
with as many components as the model's code has numbers (capped at the input's size).
"""
from __future__ import annotations

import torch
from torch import nn


class InputBaseline(nn.Module):
    """Returns the degraded input unchanged."""

    name = "input"

    def forward(self, degraded: torch.Tensor) -> torch.Tensor:
        return degraded


class PCABaseline(nn.Module):
    """Linear reconstruction from the top-k principal components of the training items."""

    def __init__(self, item_shape: tuple[int, ...], k: int):
        super().__init__()
        self.item_shape = tuple(item_shape)
        dim = 1
        for s in self.item_shape:
            dim *= s
        self.k = min(int(k), dim)
        self.name = f"pca{self.k}"
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("components", torch.zeros(dim, self.k))

    @property
    def fitted(self) -> bool:
        """Fitted components are unit vectors, so all-zero ones mean not fitted (or not restored)."""
        return bool(self.components.any())

    @torch.no_grad()
    def fit(self, loader) -> None:
        """Fit on every item of `loader` (batches whose first element is the clean items)."""
        total, xtx, n = None, None, 0
        for batch in loader:
            x = batch[0].flatten(1).double().cpu()
            total = x.sum(0) if total is None else total + x.sum(0)
            xtx = x.T @ x if xtx is None else xtx + x.T @ x
            n += len(x)
        mean = total / n
        cov = xtx / n - torch.outer(mean, mean)
        _, vecs = torch.linalg.eigh(cov)  # ascending eigenvalues
        self.mean.copy_(mean.float())
        self.components.copy_(vecs[:, -self.k:].flip(1).float())

    def forward(self, degraded: torch.Tensor) -> torch.Tensor:
        x = degraded.flatten(1) - self.mean
        rec = (x @ self.components) @ self.components.T + self.mean
        return rec.reshape(degraded.shape)

"""Degradations: what the model is asked to undo. Applied to whole batches on the model's device.

Training batches get fresh random noise (from the global, seeded RNG). Validation and test
batches get noise that depends only on `eval_seed`, the split and each item's index in its
split, so every epoch and every model sees exactly the same degraded evaluation set,
whatever the batch size.
"""
from __future__ import annotations

import math

import torch

from aebench.errors import ConfigError

_CHUNK = 256  # items per block of stored evaluation noise
_SPLITS = {"val": 1, "test": 2}


class Degradation:
    """Base: optional additive Gaussian noise, optional clipping and 8-bit rounding."""

    #: True when the task is restoration (the degraded input is the baseline to beat)
    restoration = True

    def __init__(self, noise_std: float = 0.0, quantize: bool = False, clip: bool = False,
                 eval_seed: int = 1234):
        if not (isinstance(noise_std, (int, float)) and noise_std >= 0):
            raise ConfigError(f"degradation.noise_std={noise_std!r} must be a number >= 0")
        self.noise_std = float(noise_std)
        self.quantize = bool(quantize)
        self.clip = bool(clip) or self.quantize
        self.eval_seed = int(eval_seed)
        self._bank: dict[tuple, torch.Tensor] = {}

    def __call__(self, x: torch.Tensor, idx: torch.Tensor | None = None,
                 split: str = "train") -> torch.Tensor:
        """Degrade batch `x`; `idx` (item indices in `split`) makes val/test noise fixed."""
        y = self.transform(x)
        if self.noise_std > 0:
            if split == "train" or idx is None:
                noise = torch.randn_like(y)
            else:
                noise = self._eval_noise(idx, tuple(y.shape[1:]), split).to(y.device, y.dtype)
            y = y + self.noise_std * noise
        if self.clip:
            y = y.clamp(0.0, 1.0)
        if self.quantize:
            y = torch.round(y * 255.0) / 255.0
        return y

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def check(self, item_shape: tuple[int, ...]) -> None:
        """Raise ConfigError if this degradation cannot apply to items of `item_shape`."""

    def _eval_noise(self, idx: torch.Tensor, shape: tuple[int, ...], split: str) -> torch.Tensor:
        idx = idx.detach().cpu().long()
        blocks = idx // _CHUNK
        out = torch.empty((len(idx), *shape))
        for b in blocks.unique().tolist():
            key = (split, b, shape)
            bank = self._bank.get(key)
            if bank is None:
                seed = (self.eval_seed * 1_000_003 + _SPLITS.get(split, 3) * 7_919 + b) % 2**63
                bank = torch.randn((_CHUNK, *shape), generator=torch.Generator().manual_seed(seed))
                self._bank[key] = bank
            sel = blocks == b
            out[sel] = bank[idx[sel] % _CHUNK]
        return out

    def describe(self) -> str:
        parts = [type(self).__name__.lower()]
        if self.noise_std:
            parts.append(f"noise {self.noise_std:g}")
        if self.quantize:
            parts.append("8-bit")
        return ", ".join(parts)


class NoDegradation(Degradation):
    """No degradation: plain reconstruction (the baseline becomes PCA with the model's code size)."""

    restoration = False

    def __init__(self, eval_seed: int = 1234):
        super().__init__(eval_seed=eval_seed)


class Noise(Degradation):
    """Additive Gaussian noise (images: clip to [0, 1] and optionally round to 8 bits)."""

    def __init__(self, std: float = 0.1, clip: bool = False, quantize: bool = False,
                 eval_seed: int = 1234):
        if not (isinstance(std, (int, float)) and std > 0):
            raise ConfigError(f"degradation.std={std!r} must be a number > 0")
        super().__init__(noise_std=std, quantize=quantize, clip=clip, eval_seed=eval_seed)

    def describe(self):
        return super().describe()[len("noise, "):]  # "noise 0.1[, 8-bit]"


class Blur(Degradation):
    """Gaussian blur per channel (kernel 2*ceil(3*sigma)+1, reflect padding), then noise, then 8-bit rounding."""

    def __init__(self, sigma: float = 1.0, noise_std: float = 0.0, quantize: bool = True,
                 eval_seed: int = 1234):
        if not (isinstance(sigma, (int, float)) and not isinstance(sigma, bool) and sigma >= 0):
            raise ConfigError(f"blur={sigma!r} is not accepted: the blur sigma must be a number >= 0")
        super().__init__(noise_std=noise_std, quantize=quantize, clip=True, eval_seed=eval_seed)
        self.sigma = float(sigma)
        self.kernel_size = 2 * math.ceil(3 * self.sigma) + 1

    def check(self, item_shape):
        if len(item_shape) != 3:
            raise ConfigError(f"degradation=blur needs images (C, H, W); this data has items of "
                              f"shape {tuple(item_shape)}: use degradation=noise or degradation=none")
        pad = self.kernel_size // 2
        if pad >= min(item_shape[1:]):
            max_sigma = (min(item_shape[1:]) - 1) // 3
            raise ConfigError(f"blur={self.sigma:g} needs a {self.kernel_size}px kernel, too large for "
                              f"{item_shape[1]}x{item_shape[2]} images: use blur <= {max_sigma}")

    def transform(self, x):
        if self.sigma == 0:
            return x
        from torchvision.transforms.v2.functional import gaussian_blur

        k = self.kernel_size
        return gaussian_blur(x, kernel_size=[k, k], sigma=[self.sigma, self.sigma])

    def describe(self):
        return f"blur {self.sigma:g}" + super().describe()[len("blur"):]

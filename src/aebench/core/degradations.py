"""Degradations: what the model is asked to undo. Applied to whole batches on the model's device.

Training batches get fresh random noise (from the global, seeded RNG). Validation and test
batches get noise that depends only on `eval_seed`, the split and each item's index in its
split, so every epoch and every model sees exactly the same degraded evaluation set,
whatever the batch size.
"""
from __future__ import annotations

import math

import torch

from aebench.core.errors import ConfigError

_CHUNK = 256  # items per block of stored evaluation noise
_SPLITS = {"val": 1, "test": 2}


class Degradation:
    """Base: optional additive Gaussian noise, optional clipping and 8-bit rounding."""

    #: True when the task is restoration (the degraded input is the baseline to beat)
    restoration = True

    def __init__(self, noise_std: float | list = 0.0, quantize: bool = False, clip: bool = False,
                 eval_seed: int = 1234):
        try:
            self.noise_low, self.noise_high = sigma_range(noise_std)
        except ConfigError:
            raise ConfigError(f"degradation.noise_std={noise_std!r} must be a number >= 0 or a "
                              "range [lo,hi] with 0 <= lo <= hi (a std drawn per image, e.g. "
                              "degradation.noise_std=[0,0.01])") from None
        self.noise_is_range = self.noise_high > self.noise_low
        #: the noise std (a range [lo, hi]: every image gets its own, drawn as blur ranges are)
        self.noise_std = [self.noise_low, self.noise_high] if self.noise_is_range else self.noise_low
        self.quantize = bool(quantize)
        self.clip = bool(clip) or self.quantize
        self.eval_seed = int(eval_seed)
        self._bank: dict[tuple, torch.Tensor] = {}

    def __call__(self, x: torch.Tensor, idx: torch.Tensor | None = None,
                 split: str = "train", params: dict | None = None) -> torch.Tensor:
        """Degrade batch `x`; `idx` (item indices in `split`) makes val/test noise fixed.
        `params`, a dict, receives the strengths drawn per item (blur ranges: "sigma", (N,)):
        the targets of a restorer that estimates them."""
        y = self.transform(x, idx, split)
        if params is not None and getattr(self, "_drawn", None) is not None:
            params["sigma"], self._drawn = self._drawn, None
        if self.noise_high > 0:
            if split == "train" or idx is None:
                noise = torch.randn_like(y)
            else:
                noise = self._eval_noise(idx, tuple(y.shape[1:]), split).to(y.device, y.dtype)
            std = self.noise_std
            if self.noise_is_range:  # a std per item
                std = self.noise_stds(len(y), idx, split).to(y.device, y.dtype)
                std = std.view(-1, *[1] * (y.dim() - 1))
            y = y + std * noise
        if self.clip:
            y = y.clamp(0.0, 1.0)
        if self.quantize:
            y = torch.round(y * 255.0) / 255.0
        return y

    def transform(self, x: torch.Tensor, idx: torch.Tensor | None = None,
                  split: str = "train") -> torch.Tensor:
        return x

    def same_every_epoch(self) -> bool:
        """True when an item's degraded training version never changes (no noise, no strength
        drawn per call) and is exact as uint8 (8-bit rounding): it can be computed once."""
        return self.noise_high == 0 and self.quantize

    def uniform(self, n: int, idx: torch.Tensor | None, split: str, stream: int) -> torch.Tensor:
        """(n,) uniform draws in [0, 1): fresh in training (global, seeded RNG); fixed per item of
        a val/test split (its own seeded generator block per `stream`, as the eval noise)."""
        if split == "train" or idx is None:
            return torch.rand(n)
        idx = idx.detach().cpu().long()
        u = torch.empty(len(idx))
        for b in (idx // _CHUNK).unique().tolist():
            seed = (self.eval_seed * 1_000_003 + _SPLITS.get(split, 3) * 7_919 + b
                    + stream) % 2**63
            bank = torch.rand(_CHUNK, generator=torch.Generator().manual_seed(seed))
            sel = idx // _CHUNK == b
            u[sel] = bank[idx[sel] % _CHUNK]
        return u

    def noise_stds(self, n: int, idx: torch.Tensor | None = None, split: str = "train"):
        """The noise std of each of `n` items (a range: drawn per item; else all the same)."""
        return self.noise_low + (self.noise_high - self.noise_low) * self.uniform(n, idx, split, 15_485_863)

    def levels(self, items: torch.Tensor, split: str = "train", as_float=lambda x: x,
               chunk: int = 1024) -> torch.Tensor:
        """All of `items` (a split, indexed from 0) degraded as `split`'s batches are, as uint8
        levels round(255 * y), in chunks; `as_float` turns stored items into the float images
        the degradation takes. Exact for 8-bit degradations (`quantize`)."""
        out = torch.empty(items.shape, dtype=torch.uint8, device=items.device)
        for i in range(0, len(items), chunk):
            idx = torch.arange(i, min(i + chunk, len(items)), device=items.device)
            out[idx] = (self(as_float(items[idx]), idx, split) * 255).round_().to(torch.uint8)
        return out

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
        if self.noise_is_range:
            parts.append(f"noise {self.noise_low:g}-{self.noise_high:g}")
        elif self.noise_std:
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


def sigma_range(sigma):
    """A blur sigma >= 0, or a range [lo, hi] with 0 <= lo <= hi; anything else: a ConfigError."""
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
    if number(sigma):
        return float(sigma), float(sigma)
    if isinstance(sigma, (list, tuple)) or type(sigma).__name__ == "ListConfig":
        lo_hi = list(sigma)
        if len(lo_hi) == 2 and all(number(v) for v in lo_hi) and lo_hi[0] <= lo_hi[1]:
            return float(lo_hi[0]), float(lo_hi[1])
    raise ConfigError(f"blur={sigma!r} is not accepted: give a sigma >= 0 (e.g. blur=1.0; 0 = no "
                      "blur) or a range [lo,hi] with 0 <= lo <= hi (e.g. blur=[0.5,2.0]: a sigma "
                      "drawn per image)")


def gaussian_kernels(sigmas: torch.Tensor, size: int) -> torch.Tensor:
    """(N, size) 1-D Gaussian kernels, one per sigma: torchvision's kernel for that sigma (size
    2*ceil(3*sigma)+1, normalised) centred in `size` taps, zeros outside it."""
    half = size // 2
    dtype = sigmas.dtype if sigmas.is_floating_point() else torch.float32
    x = torch.arange(-half, half + 1, dtype=dtype, device=sigmas.device)
    sig = sigmas.to(dtype).clamp_min(1e-8)[:, None]
    k = torch.exp(-0.5 * (x / sig) ** 2)
    k = k * (x.abs() <= torch.ceil(3 * sig))  # each sigma's own support, as torchvision cuts it
    return k / k.sum(1, keepdim=True)


def reflect_band(kernels: torch.Tensor, n: int) -> torch.Tensor:
    """(K, n, n) matrices M_i with M_i @ v = the 1-D kernel i of `kernels` (K, k) run over
    `v` (length n) reflect-padded by k // 2 (PyTorch's "reflect": the edge is not repeated;
    needs k // 2 < n). The padding is folded into the band at the edges."""
    k = kernels.shape[1]
    r = k // 2
    dev = kernels.device
    cols = torch.arange(n, device=dev)[:, None] + torch.arange(-r, r + 1, device=dev)
    cols = torch.where(cols < 0, -cols, torch.where(cols > n - 1, 2 * (n - 1) - cols, cols))
    shape = (len(kernels), n, k)
    return kernels.new_zeros(len(kernels), n, n).scatter_add_(
        2, cols.expand(shape), kernels[:, None, :].expand(shape).contiguous())


def kernel_otf(kernels: torch.Tensor, h: int, w: int, width: int) -> torch.Tensor:
    """(N, h, width) transfer functions of the separable 2-D kernels outer(k, k), one per row k of
    `kernels` (N, size) (odd size, symmetric, centred), on an (h, w) array (circular convolution,
    the kernel centred at pixel (0, 0)): real, the product of two 1-D cosine sums, at the first
    `width` column frequencies (w // 2 + 1: rfft2's half; w: the full grid, even in each axis).
    Tensor ops on the sizes only: it traces for any h, w (the exported hybrids build it in their
    graph) and scripts."""
    half = kernels.shape[1] // 2
    taps = torch.arange(-half, half + 1, dtype=kernels.dtype, device=kernels.device)
    rows = torch.arange(h, dtype=kernels.dtype, device=kernels.device)
    cols = torch.arange(width, dtype=kernels.dtype, device=kernels.device)
    cos_h = torch.cos(2 * math.pi * torch.outer(taps, rows) / h)  # (taps, freqs): cos(2 pi t f / n)
    cos_w = torch.cos(2 * math.pi * torch.outer(taps, cols) / w)
    return (kernels @ cos_h)[:, :, None] * (kernels @ cos_w)[:, None, :]


class Blur(Degradation):
    """Gaussian blur per channel (kernel 2*ceil(3*sigma)+1, reflect padding), then noise, then 8-bit rounding.

    `sigma` is one number, or a range [lo, hi]: then every image gets its own sigma, drawn
    uniformly in the range, afresh at every training step (from the global, seeded RNG); a
    validation or test image always gets the same draw (fixed by `eval_seed`, the split and its
    index), so every epoch and every model sees the same evaluation set.
    """

    def __init__(self, sigma: float | list = 1.0, noise_std: float = 0.0, quantize: bool = True,
                 eval_seed: int = 1234):
        self.low, self.high = sigma_range(sigma)
        super().__init__(noise_std=noise_std, quantize=quantize, clip=True, eval_seed=eval_seed)
        self.is_range = self.high > self.low
        self.sigma = self.low if not self.is_range else [self.low, self.high]
        self.kernel_size = 2 * math.ceil(3 * self.high) + 1
        self._bands: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def check(self, item_shape):
        if len(item_shape) != 3:
            raise ConfigError(f"degradation=blur needs images (C, H, W); this data has items of "
                              f"shape {tuple(item_shape)}: use degradation=noise or degradation=none")
        pad = self.kernel_size // 2
        if pad >= min(item_shape[1:]):
            max_sigma = (min(item_shape[1:]) - 1) // 3
            raise ConfigError(f"blur={self.high:g} needs a {self.kernel_size}px kernel, too large for "
                              f"{item_shape[1]}x{item_shape[2]} images: use blur <= {max_sigma}")

    def transform(self, x, idx=None, split="train"):
        """M_h @ X @ M_w^T with `reflect_band` matrices: torchvision's gaussian_blur (a 2-D
        convolution) to float rounding, ~5x faster on CIFAR-10 batches (docs/performance.md)."""
        if self.is_range:  # a sigma per image, drawn at every call
            self._drawn = self.sigmas(len(x), idx, split)
            rows, cols = self._bands_for(self._drawn, x)
        elif self.sigma == 0:
            return x
        else:  # one sigma: its two matrices, built once per image size
            key = (x.shape[-2:], x.device, x.dtype)
            if key not in self._bands:
                self._bands[key] = self._bands_for(torch.tensor([self.sigma]), x)
            rows, cols = self._bands[key]
        return rows @ x @ cols.transpose(-1, -2)

    def same_every_epoch(self) -> bool:
        return not self.is_range and super().same_every_epoch()

    def otf(self, shape: tuple[int, int], sigmas: torch.Tensor | None = None,
            dtype: torch.dtype = torch.float32, device=None, full: bool = False) -> torch.Tensor:
        """The blur as a Fourier-domain operator: its transfer function on an (H, W) array
        (circular convolution, the kernel centred at pixel (0, 0)), laid out as `torch.fft.rfft2`
        lays out a real (H, W) array: (N, H, W // 2 + 1), real (`full`: all W columns, as
        `torch.fft.fft2`). One row per sigma of `sigmas` (N,), or (1, ...) for the run's own
        sigma. A Gaussian kernel is symmetric and separable, so the transfer function is real,
        the product of two 1-D cosine sums of this blur's kernels (`kernel_otf`): differentiable
        in `sigmas` (a blind restorer feeds its estimates in). Deconvolving restorers
        (models/wiener.py, models/wiener_unet.py) ask for it here, so that they invert exactly
        the kernel this degradation applies."""
        if sigmas is None:
            if self.is_range:
                raise ConfigError(f"blur={self.sigma} draws a sigma per image: give the sigmas "
                                  "(an estimate of each image's blur) to invert it")
            sigmas = torch.tensor([float(self.sigma)], dtype=dtype, device=device)
        kernels = gaussian_kernels(sigmas.to(dtype=dtype, device=device), self.kernel_size)
        h, w = shape
        return kernel_otf(kernels, h, w, w if full else w // 2 + 1)

    def _bands_for(self, sigmas: torch.Tensor, x: torch.Tensor):
        """(rows (N or 1, 1, H, H), cols (N or 1, 1, W, W)) for images like `x`."""
        kernels = gaussian_kernels(sigmas, self.kernel_size).to(x.device, x.dtype)
        return tuple(reflect_band(kernels, n)[:, None] for n in x.shape[-2:])

    def sigmas(self, n: int, idx: torch.Tensor | None = None, split: str = "train") -> torch.Tensor:
        """The sigma of each of `n` images: fresh draws in training, fixed per item otherwise."""
        return self.low + (self.high - self.low) * self.uniform(n, idx, split, 104_729)

    def describe(self):
        strength = f"blur {self.low:g}-{self.high:g}" if self.is_range else f"blur {self.low:g}"
        return strength + super().describe()[len("blur"):]

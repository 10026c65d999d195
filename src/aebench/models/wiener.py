"""Non-learned row: Wiener deconvolution with the known Gaussian blur kernel.

The blur is the run's degradation (`blur`, the degradation object the config passes in: its
`otf` is the kernel it applies, in the Fourier domain; kernel 2*ceil(3*sigma)+1, reflect
padding), so the input is
reflect-padded by `pad` pixels before filtering in the Fourier domain and cropped after: a
circular filter on the unpadded image makes border artefacts that cost about 8 dB on 32x32.
The filter is skimage.restoration.wiener's: X = conj(H) Y / (|H|^2 + balance |L|^2), with H
the blur's transfer function and L the discrete Laplacian's. `balance` is tuned on training
images by `tune` (the entry point calls it before testing; there is nothing to train).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from aebench.errors import ConfigError
from aebench.metrics import psnr
from aebench.models.common import blur_of

BALANCES = [10 ** (e / 4) for e in range(-24, 1)]  # 1e-6 .. 1, four steps a decade


def cas_matrix(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(n, n) kernel of the discrete Hartley transform, cas(2 pi j k / n) = cos + sin, built
    with tensor ops from torch.arange(n) (an exported graph builds it for any n). Symmetric, and
    its own inverse up to n: cas @ cas = n I. Angles reduced mod n first (float32-exact)."""
    k = torch.arange(n, device=device)
    size = k[-1:] + 1  # n as a tensor: ONNX's remainder takes no symbolic scalar
    angle = ((k[:, None] * k[None, :]) % size).to(dtype) * (2 * math.pi) / n
    return torch.cos(angle) + torch.sin(angle)


def hartley_filter(y: torch.Tensor, filt: torch.Tensor, rows: torch.Tensor,
                   cols: torch.Tensor) -> torch.Tensor:
    """Circular convolution of real `y` (..., H, W) with a filter given in the Fourier domain,
    `filt` (broadcasting to y's shape) on the full grid, real and even in each axis (filt[u, v] =
    filt[-u, v] = filt[u, -v]: a blur's transfer function, a Laplacian's, a Wiener filter of
    both); the output rows `rows` and columns `cols` only (a crop folded into the inverse
    transform): (..., len(rows), len(cols)).

    Such a filter keeps each of y's four parts (even or odd along each axis) apart, so the
    separable Hartley transform diagonalises it: out = C_H (filt * (C_H y C_W)) C_W / (H W),
    C = `cas_matrix`. Real matrix products (batched: exporters trace them fast): no complex
    numbers, no FFT, which is what lets ONNX, torch.export and TorchScript take the Wiener filters
    at any size (`torch.fft` is faster for training and restore: the same result to float
    rounding). The mean goes around the transforms (a constant is only scaled, by filt[0, 0]):
    in float32 that keeps the products' sums small, ~1e-5 of rfft2's on a 451 x 664 image, not
    ~1e-4."""
    h, w = y.shape[-2], y.shape[-1]
    cas_h = cas_matrix(h, y.dtype, y.device)
    cas_w = cas_matrix(w, y.dtype, y.device)
    mean = y.mean((-2, -1), keepdim=True)
    flat = (y - mean).reshape(-1, h, w)
    n = flat.shape[0]
    spec = torch.bmm(cas_h.expand(n, h, h), flat @ cas_w).reshape(y.shape) * filt / (h * w)
    crop_h = cas_h.index_select(0, rows)  # (R, H)
    out = torch.bmm(crop_h.expand(n, crop_h.shape[0], h),
                    spec.reshape(n, h, w) @ cas_w.index_select(0, cols).transpose(0, 1))
    return out.reshape(list(y.shape[:-2]) + [rows.shape[0], cols.shape[0]]) \
        + mean * filt[..., :1, :1]


def laplacian_psd(h: int, w: int, width: int, dtype: torch.dtype,
                  device: torch.device) -> torch.Tensor:
    """(h, width) |L|^2, the squared transfer function of the discrete Laplacian
    [[0,-1,0],[-1,4,-1],[0,-1,0]] on an (h, w) array, at the first `width` column frequencies
    (w // 2 + 1: rfft2's half; w: the full grid): the Wiener filters' regulariser."""
    u = torch.arange(h, device=device, dtype=dtype)[:, None]
    v = torch.arange(width, device=device, dtype=dtype)[None, :]
    lap = 4 - 2 * torch.cos(2 * math.pi * u / h) - 2 * torch.cos(2 * math.pi * v / w)
    return lap ** 2


def transfer_function(kernel: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """FFT of `kernel` placed with its centre at pixel (0, 0) of an array of `shape`."""
    arr = torch.zeros(shape, dtype=torch.float64)
    kh, kw = kernel.shape
    arr[:kh, :kw] = kernel
    arr = torch.roll(arr, shifts=(-(kh // 2), -(kw // 2)), dims=(0, 1))
    return torch.fft.fft2(arr)


class Wiener(nn.Module):
    def __init__(self, input_shape, blur=None, bounded: bool = True, balance: float = 1e-3,
                 pad: int = 12):
        super().__init__()
        self.input_shape = tuple(input_shape)
        blur = blur_of("wiener", self.input_shape, blur)
        if blur.is_range:  # blur=[lo,hi]: a sigma per image
            raise ConfigError(f"model=wiener needs one blur sigma (got blur={list(blur.sigma)}): it "
                              "inverts a known blur; give blur=1.0, or evaluate a Wiener run "
                              "tuned at one sigma under the range (python -m aebench.evaluate)")
        if blur.sigma <= 0:
            raise ConfigError(f"model=wiener needs degradation=blur with blur > 0 (got blur sigma "
                              f"{blur.sigma!r}): it inverts that blur")
        sigma = blur.sigma
        _, h, w = self.input_shape
        self.sigma, self.pad = float(sigma), min(int(pad), h - 1, w - 1)  # reflect needs pad < side
        self.code_size = int(torch.Size(self.input_shape).numel())
        shape = (h + 2 * self.pad, w + 2 * self.pad)
        laplacian = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]],
                                 dtype=torch.float64)
        otf = blur.otf(shape, dtype=torch.float64)[0]  # real, rfft2's half of the spectrum
        full = torch.cat([otf, otf[:, 1:(shape[1] + 1) // 2].flip(1)], 1)  # real and even: mirror
        self.register_buffer("otf", full.to(torch.complex128))
        self.register_buffer("reg", transfer_function(laplacian, shape).abs() ** 2)
        self.register_buffer("balance", torch.tensor(float(balance)))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)

    def forward(self, x: torch.Tensor, balance: float | None = None) -> torch.Tensor:
        b = self.balance if balance is None else balance
        p = self.pad
        y = torch.nn.functional.pad(x.double(), (p, p, p, p), mode="reflect")
        filt = self.otf.conj() / (self.otf.abs() ** 2 + b * self.reg)
        out = torch.fft.ifft2(torch.fft.fft2(y) * filt).real
        return out[..., p:p + x.shape[-2], p:p + x.shape[-1]].to(x.dtype)

    @torch.no_grad()
    def tune(self, clean: torch.Tensor, degraded: torch.Tensor) -> dict:
        """Pick the balance with the best mean PSNR on (clean, degraded) training pairs."""
        scores = {b: psnr(self(degraded, b), clean) for b in BALANCES}
        best = max(scores, key=scores.get)
        self.balance.fill_(best)
        return {"balance": best, "tune_psnr": scores[best]}

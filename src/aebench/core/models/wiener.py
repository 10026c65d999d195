"""Non-learned row: Wiener deconvolution with the known Gaussian blur kernel.

The blur is the run's degradation (`blur`, the degradation object the config passes in: its
`otf` is the kernel it applies, in the Fourier domain; kernel 2*ceil(3*sigma)+1, reflect
padding), so the input is
reflect-padded by `pad` pixels before filtering in the Fourier domain and cropped after: a
circular filter on the unpadded image makes border artefacts that cost about 8 dB on 32x32.
The filter is skimage.restoration.wiener's: X = conj(H) Y / (|H|^2 + balance |L|^2), with H
the blur's transfer function and L the discrete Laplacian's. `balance` is tuned on training
images by `tune` (the entry point calls it before testing; there is nothing to train).

The real-valued spectral code below (`hartley_filter`, `cas_matrix`, `laplacian_psd`, the padding
indices) is what the exported Wiener filters of this model and of models/wiener_unet.py run:
the filter is real and even, so a Hartley transform applies it with real matrix products.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from aebench.core.degradations import gaussian_kernels, kernel_otf
from aebench.core.errors import ConfigError
from aebench.core.metrics import psnr
from aebench.core.models.common import blur_of

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


def pad_index(n: int, before: int, after: int, device: torch.device):
    """(reflect, replicate): the indices F.pad(mode="reflect") and (mode="replicate") read
    along a side of n pixels padded by `before` and `after`. Reflection is valid where both are
    < n: then every index is in [0, n); else some are negative."""
    i = torch.arange(n + before + after, device=device) - before
    return (n - 1) - ((n - 1) - i.abs()).abs(), i.clamp(0, n - 1)


def filter_pad(pad: int, h: int, w: int, device: torch.device) -> tuple[int, int, int]:
    """(p, h + 2p, w + 2p), p = min(pad, h - 1, w - 1): the Wiener filters' reflect padding
    (models wiener and wiener_unet) and the padded sizes. Traced for an exporter, sizes read
    from tensors (torch.export: fresh symbols, bounded by _check; as expressions of the input's
    size, a Min of the U-Net's multiples, they made every operator's shape one, which sympy took
    seconds to trace and to load); scripted, Python ints."""
    if torch.jit.is_scripting():
        p = min(pad, min(h - 1, w - 1))
        return p, h + 2 * p, w + 2 * p
    sides = torch.stack([torch.arange(h, device=device)[-1],
                         torch.arange(w, device=device)[-1]]) + 1
    pt = (sides.min() - 1).clamp(max=pad)
    p, hp, wp = pt.item(), (sides[0] + 2 * pt).item(), (sides[1] + 2 * pt).item()
    torch._check(p >= 0)
    torch._check(p <= pad)
    torch._check(hp >= 1)
    torch._check(wp >= 1)
    return p, hp, wp


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
        self.blur, self.max_pad = blur, int(pad)
        self.sigma, self.pad = float(sigma), min(int(pad), h - 1, w - 1)  # reflect needs pad < side
        self.code_size = int(torch.Size(self.input_shape).numel())
        otf, reg = self._operators((h + 2 * self.pad, w + 2 * self.pad))
        self.register_buffer("otf", otf)
        self.register_buffer("reg", reg)
        self.register_buffer("balance", torch.tensor(float(balance)))

    def _operators(self, shape: tuple[int, int]):
        """(H complex128, |L|^2 float64) on the padded grid `shape`, full spectrum."""
        otf = self.blur.otf(shape, dtype=torch.float64)[0]  # real, rfft2's half of the spectrum
        full = torch.cat([otf, otf[:, 1:(shape[1] + 1) // 2].flip(1)], 1)  # real and even: mirror
        return full.to(torch.complex128), laplacian_psd(*shape, shape[1], torch.float64, otf.device)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)

    def forward(self, x: torch.Tensor, balance: float | None = None) -> torch.Tensor:
        b = self.balance if balance is None else balance
        p, otf, reg = self.pad, self.otf, self.reg
        if tuple(x.shape[-2:]) != self.input_shape[1:]:  # another size: as make(shape) builds it
            p = min(self.max_pad, x.shape[-2] - 1, x.shape[-1] - 1)
            otf, reg = self._operators((x.shape[-2] + 2 * p, x.shape[-1] + 2 * p))
            otf, reg = otf.to(x.device), reg.to(x.device)
        y = torch.nn.functional.pad(x.double(), (p, p, p, p), mode="reflect")
        filt = otf.conj() / (otf.abs() ** 2 + b * reg)
        out = torch.fft.ifft2(torch.fft.fft2(y) * filt).real
        return out[..., p:p + x.shape[-2], p:p + x.shape[-1]].to(x.dtype)

    @torch.no_grad()
    def tune(self, clean: torch.Tensor, degraded: torch.Tensor) -> dict:
        """Pick the balance with the best mean PSNR on (clean, degraded) training pairs."""
        scores = {b: psnr(self(degraded, b), clean) for b in BALANCES}
        best = max(scores, key=scores.get)
        self.balance.fill_(best)
        return {"balance": best, "tune_psnr": scores[best]}

    def exportable(self) -> "ExportableWiener":
        """This filter as ONNX, torch.export and TorchScript take it (aebench.export), for any
        image size."""
        return ExportableWiener(self)


class ExportableWiener(nn.Module):
    """`Wiener.forward` for any image size as the exporters take it (its tuned balance shared):
    the reflect padding a gather (`pad_index`, `filter_pad`), the blur's and the Laplacian's
    transfer functions built from the padded size (`kernel_otf`, `laplacian_psd`), the filter
    (real: conj(H) = H) applied by `hartley_filter` in float64: no complex tensor, no FFT, no
    Python branch on the size. The same code as the hybrid's (models/wiener_unet.py)."""

    scriptable = True  # aebench.export: torch.jit.script it whole (not traced)

    def __init__(self, net: Wiener):
        super().__init__()
        self.register_buffer("balance", net.balance, persistent=False)  # the tuned one
        self.pad = net.max_pad
        kernel = gaussian_kernels(torch.tensor([net.sigma], dtype=torch.float64),
                                  net.blur.kernel_size)  # as Blur.otf(dtype=float64) builds it
        self.register_buffer("kernel", kernel, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        p, hp, wp = filter_pad(self.pad, h, w, x.device)
        y = x.double().index_select(2, pad_index(h, p, hp - h - p, x.device)[0]) \
            .index_select(3, pad_index(w, p, wp - w - p, x.device)[0])
        otf = kernel_otf(self.kernel, hp, wp, wp)[0]
        filt = otf / (otf ** 2 + self.balance * laplacian_psd(hp, wp, wp, otf.dtype, x.device))
        out = hartley_filter(y, filt, torch.arange(h, device=x.device) + p,
                             torch.arange(w, device=x.device) + p)
        return out.to(x.dtype)

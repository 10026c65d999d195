"""Hybrid restorer: Wiener deconvolution with learned regularisation, on the image and on learned features (as Deep Wiener Deconvolution, Dong et al., NeurIPS 2020), then a residual U-Net.

The physics is not learned: the blur operator is the run's degradation (`blur`, passed in by the
config: `Blur.otf`, the kernel it applies, in the Fourier domain), so the network only has to
learn what deconvolution cannot do (the ringing and the 8-bit and sensor noise it amplifies).

1. The input is reflect-padded by `pad` pixels and deconvolved in the Fourier domain,
   X = H Y / (H^2 + lambda |L|^2) (H the blur's real transfer function, L the Laplacian's), once
   per learned `balances` lambda (log-parametrised, one image per value: sharp and noisy to
   smooth) and, on `features` learned 3x3 feature maps of the input, once per feature map with
   its own learned lambda (a linear convolution commutes with the blur, so the features of the
   blurred image are the blurred features).
2. A U-Net (`depth` levels, `base_channels` doubled per level, `latent` at the bottleneck) reads
   [input, image deconvolutions, feature deconvolutions] and returns a correction added to the
   deconvolution at the middle balance.
3. `blind=true` (for a blur range, blur=[lo,hi]): a small convolutional head estimates each
   image's sigma in [lo, hi] and the deconvolutions use the estimate (the transfer function is
   differentiable in sigma, so the head trains with the image loss); `estimate_sigma` returns it.
Fully convolutional: any image size (padded internally to a multiple of 2**depth, cropped back).
`exportable()` is the same network as ONNX, torch.export and TorchScript take it (what `aebench
export` writes): the filters as a real Hartley transform, no FFT, no Python branch on the size.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from aebench.core.degradations import gaussian_kernels, kernel_otf
from aebench.core.errors import ConfigError
from aebench.core.models.common import UNetLayers, blur_of, positive_int
from aebench.core.models.wiener import filter_pad, hartley_filter, laplacian_psd, pad_index


def _pad(x: torch.Tensor, top_left: tuple[int, int], bottom_right: tuple[int, int]) -> torch.Tensor:
    """Reflect padding where the sides allow it (pad < side), replicate otherwise."""
    (t, l), (b, r) = top_left, bottom_right
    mode = "reflect" if max(t, b) < x.shape[-2] and max(l, r) < x.shape[-1] else "replicate"
    return F.pad(x, (l, r, t, b), mode=mode)


class WienerUNet(UNetLayers, nn.Module):
    def __init__(self, input_shape, blur=None, bounded: bool = True, blind: bool = False,
                 balances=(1e-4, 1e-3, 1e-2), features: int = 16, base_channels: int = 32,
                 latent: int = 128, depth: int = 2, pad: int = 12, head_channels: int = 32):
        super().__init__()
        self.input_shape = tuple(input_shape)
        blur = blur_of("wiener_unet", self.input_shape, blur)
        self.blind = bool(blind)
        if blur.is_range and not self.blind:
            raise ConfigError(f"model=wiener_unet with blur={list(blur.sigma)} (a sigma per image) "
                              "needs model.net.blind=true, which estimates each image's sigma: use "
                              "model=wiener_unet_blind, or give one sigma (blur=1.0)")
        if not blur.is_range and (blur.sigma <= 0 and not self.blind):
            raise ConfigError(f"model=wiener_unet needs blur > 0 (got blur={blur.sigma!r}): it "
                              "inverts that blur")
        balances = list(balances)
        if not balances or not all(isinstance(b, (int, float)) and b > 0 for b in balances):
            raise ConfigError(f"model.net.balances={balances!r} must be a non-empty list of "
                              "numbers > 0 (e.g. [1e-4,1e-3,1e-2])")
        if isinstance(features, bool) or not isinstance(features, int) or features < 0:
            raise ConfigError(f"model.net.features={features!r} must be an integer >= 0")
        depth = positive_int("depth", depth)
        latent = positive_int("latent", latent)
        base = positive_int("model.net.base_channels", base_channels)
        c, h, w = self.input_shape
        self.blur, self.depth = blur, depth
        # the sigma head's range: the blur range; with one sigma, [0, sigma] (sharp to that blur)
        self.low, self.high = (blur.low if blur.is_range else 0.0), blur.high
        self.pad = int(pad)
        self.code_size = latent * math.ceil(h / 2**depth) * math.ceil(w / 2**depth)
        self.log_balance = nn.Parameter(torch.tensor([math.log(b) for b in balances]))
        self.anchor = len(balances) // 2  # the correction is added to this deconvolution
        self.features = features
        if features:
            self.feature_conv = nn.Conv2d(c, features, 3, padding=1, bias=False)
            self.feature_log_balance = nn.Parameter(torch.full((features,), math.log(1e-3)))
        if self.blind:
            k = positive_int("model.net.head_channels", head_channels)
            self.head = nn.Sequential(
                nn.Conv2d(c, k, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(k, k, 3, padding=1, stride=2), nn.ReLU(inplace=True),
                nn.Conv2d(k, k, 3, padding=1, stride=2), nn.ReLU(inplace=True),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(k, 1))
        cin = c * (1 + len(balances)) + features
        widths = [base * 2**i for i in range(depth)] + [latent]
        self._build_unet(cin, widths)
        self.out = nn.Conv2d(widths[0], c, 1)
        nn.init.normal_(self.out.weight, std=1e-4)  # starts at the anchor deconvolution (a
        nn.init.zeros_(self.out.bias)               # correction of ~1e-4; gradients reach all)
        self._otfs: dict[tuple, torch.Tensor] = {}

    # -- the physics ------------------------------------------------------------------------
    def estimate_sigma(self, x: torch.Tensor) -> torch.Tensor:
        """(N,) blur sigma of each image of `x`: the head's estimate (blind), else the run's."""
        if not self.blind:
            return torch.full((len(x),), float(self.blur.sigma), device=x.device)
        with torch.autocast(x.device.type, enabled=False):
            t = torch.sigmoid(self.head(x.float())[:, 0])
        return self.low + (self.high - self.low) * t

    def _operators(self, shape, x: torch.Tensor, sigma: torch.Tensor | None):
        """(H (1 or N, h, w//2+1), |L|^2 (h, w//2+1)) on the padded grid `shape`."""
        key = (shape, x.device)
        if key not in self._otfs:
            h, w = shape
            otf = None if self.blind else self.blur.otf(shape, device=x.device)
            self._otfs[key] = (otf, laplacian_psd(h, w, w // 2 + 1, torch.float32, x.device))
        otf, reg = self._otfs[key]
        if sigma is not None:
            otf = self.blur.otf(shape, sigma.float(), device=x.device)
        return otf, reg

    def deconvolve(self, x: torch.Tensor, sigma: torch.Tensor | None = None):
        """(image deconvolutions (N, C*K, H, W), feature deconvolutions (N, F, H, W)), float32."""
        n, c, h, w = x.shape
        p = min(self.pad, h - 1, w - 1)
        y = _pad(x, (p, p), (p, p))
        otf, reg = self._operators(tuple(y.shape[-2:]), x, sigma if self.blind else None)
        otf = otf[:, None]  # (1 or N, 1, h, w//2+1)

        def wiener(z: torch.Tensor, balance: torch.Tensor) -> torch.Tensor:  # balance (K,)
            spec = torch.fft.rfft2(z)[:, :, None]  # (N, Cz, 1, h, w')
            filt = otf[:, :, None] / (otf[:, :, None] ** 2 + balance[:, None, None] * reg)
            out = torch.fft.irfft2(spec * filt, s=z.shape[-2:])  # (N, Cz, K, h, w)
            return out[..., p:p + h, p:p + w]

        images = wiener(y, self.log_balance.exp()).flatten(1, 2)  # (N, C*K, H, W), channel-major
        if not self.features:
            return images, None
        feats = self.feature_conv(y)  # (N, F, h, w)
        spec = torch.fft.rfft2(feats)
        lam = self.feature_log_balance.exp()[None, :, None, None]
        filt = otf / (otf ** 2 + lam * reg)
        out = torch.fft.irfft2(spec * filt, s=feats.shape[-2:])
        return images, out[..., p:p + h, p:p + w]

    # -- the network ------------------------------------------------------------------------
    def _inputs(self, x: torch.Tensor):
        """(the U-Net's input [x, image deconvolutions, feature deconvolutions], the anchor
        deconvolution the correction is added to), from `x` padded to the U-Net's multiple."""
        with torch.autocast(x.device.type, enabled=False):  # FFTs in float32
            x32 = x.float()
            images, feats = self.deconvolve(x32, self.estimate_sigma(x32) if self.blind else None)
        n, c = x.shape[:2]
        anchor = images.view(n, c, len(self.log_balance), *images.shape[-2:])[:, :, self.anchor]
        z = torch.cat([x32, images] + ([feats] if feats is not None else []), 1)
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            z = z.contiguous(memory_format=torch.channels_last)  # as the module feeds it (CPU)
        return z, anchor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2 ** self.depth
        ph, pw = (-h) % m, (-w) % m  # any size: pad to the U-Net's multiple, crop back
        if ph or pw:
            x = _pad(x, (ph // 2, pw // 2), (ph - ph // 2, pw - pw // 2))
        z, anchor = self._inputs(x)
        out = anchor + self.out(self._decode(self._features(z))).float()
        if ph or pw:
            out = out[..., ph // 2:ph // 2 + h, pw // 2:pw // 2 + w]
        return out

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The bottleneck feature map, flattened (not a compressed code: the skips bypass it)."""
        return self._features(self._inputs(x)[0])[-1].flatten(1)

    def exportable(self) -> "ExportableWienerUNet":
        """This network as ONNX, torch.export and TorchScript take it (aebench.export): the same
        output for any image size, from the same weights (shared)."""
        return ExportableWienerUNet(self)


class ExportableWienerUNet(UNetLayers, nn.Module):
    """`WienerUNet.forward` as the exporters take it, for any image size, on the same modules
    and parameters (shared, not copied); `aebench export` checks that it gives WienerUNet's
    output (its FFT path) at several sizes, odd ones too.

    - No Python branch on the input's size: both paddings (centred, to the U-Net's multiple:
      reflect where the sides allow it, else replicate, decided as a tensor; `pad` pixels of
      reflection before the filters, fewer on small images) are gathers with index tensors, and
      so are the crops.
    - The operators (the blur's transfer function, `kernel_otf`; the Laplacian's) are built from
      the padded size with tensor ops at every call: no cache keyed on the size.
    - The Wiener filters are real and even, so `wiener.hartley_filter` applies them with real
      matrix products (cos + sin matrices built in the graph): no complex tensor, no FFT. All
      maps (the image once per balance, the feature maps) go through one transform.
    The forward scripts as it is (TorchScript)."""

    scriptable = True  # aebench.export: torch.jit.script it whole (not traced)

    def __init__(self, net: WienerUNet):
        super().__init__()
        for name in ("inc", "pool", "downs", "ups", "merges", "out"):
            setattr(self, name, getattr(net, name))
        self.log_balance = net.log_balance
        self.multiple, self.pad, self.anchor = 2 ** net.depth, net.pad, net.anchor
        self.balances = len(net.log_balance)
        self.blind, self.low, self.high = net.blind, float(net.low), float(net.high)
        self.kernel_size = net.blur.kernel_size
        self.features = net.features
        # placeholders where the network has no such part (TorchScript compiles both branches)
        self.feature_conv = net.feature_conv if net.features else nn.Identity()
        self.feature_log_balance = net.feature_log_balance if net.features else \
            nn.Parameter(torch.zeros(0), requires_grad=False)
        self.head = net.head if net.blind else nn.Identity()
        sigma = [0.0 if net.blind else float(net.blur.sigma)]  # as Blur.otf builds the kernel
        self.register_buffer("kernel", gaussian_kernels(torch.tensor(sigma), self.kernel_size),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, h, w = x.shape[1], x.shape[-2], x.shape[-1]
        m = self.multiple  # sides padded to (h + m - 1) // m * m: torch.export sees multiples
        ph, pw = (h + m - 1) // m * m - h, (w + m - 1) // m * m - w
        rows, rows_edge = pad_index(h, ph // 2, ph - ph // 2, x.device)
        cols, cols_edge = pad_index(w, pw // 2, pw - pw // 2, x.device)
        reflect = (rows.min() >= 0) & (cols.min() >= 0)  # as _pad: both sides allow it
        rows, cols = torch.where(reflect, rows, rows_edge), torch.where(reflect, cols, cols_edge)
        x32 = x.float().index_select(2, rows).index_select(3, cols)
        if self.blind:  # WienerUNet.estimate_sigma, then Blur.otf's kernels for the estimates
            t = torch.sigmoid(self.head(x32)[:, 0])
            kernels = gaussian_kernels(self.low + (self.high - self.low) * t, self.kernel_size)
        else:
            kernels = self.kernel
        maps = self.deconvolve(x32, kernels)  # (N, C*K + F, H, W)
        k = self.balances
        anchor = maps[:, self.anchor:c * k:k]  # channel-major: image c at balance i is c*K + i
        out = anchor + self.out(self._decode(self._features(torch.cat([x32, maps], 1))))
        return out.index_select(2, torch.arange(h, device=x.device) + ph // 2) \
            .index_select(3, torch.arange(w, device=x.device) + pw // 2)

    def deconvolve(self, x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
        """WienerUNet.deconvolve's two outputs, concatenated: (N, C*K + F, H, W)."""
        c, h, w = x.shape[1], x.shape[-2], x.shape[-1]
        p, hp, wp = filter_pad(self.pad, h, w, x.device)
        y = x.index_select(2, pad_index(h, p, hp - h - p, x.device)[0]) \
            .index_select(3, pad_index(w, p, wp - w - p, x.device)[0])
        otf = kernel_otf(kernels, hp, wp, wp)[:, None]  # (1 or N, 1, hp, wp): the full grid
        reg = laplacian_psd(hp, wp, wp, x.dtype, x.device)
        balance = self.log_balance.exp()[:, None, None]
        filt = (otf / (otf ** 2 + balance * reg)).repeat(1, c, 1, 1)  # (1 or N, C*K, hp, wp)
        maps = y[:, :, None].expand(-1, -1, self.balances, -1, -1).flatten(1, 2)
        if self.features > 0:
            lam = self.feature_log_balance.exp()[:, None, None]
            filt = torch.cat([filt, otf / (otf ** 2 + lam * reg)], 1)
            maps = torch.cat([maps, self.feature_conv(y)], 1)
        return hartley_filter(maps, filt, torch.arange(h, device=x.device) + p,
                              torch.arange(w, device=x.device) + p)

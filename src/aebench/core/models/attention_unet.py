"""The residual U-Net of unet.py with multi-head self-attention at its bottleneck (TransUNet-like).

Not a published architecture: it follows the idea of TransUNet (Chen et al. 2021) and similar
hybrids (a CNN encoder/decoder with a transformer over the lowest feature map), on this project's
small U-Net. Everything of `UNet` is kept (same layers, same state_dict keys plus `attn.*`); at the
bottleneck (latent channels, H/2**depth x W/2**depth positions) `blocks` pre-norm transformer
blocks run over all positions: LayerNorm -> `heads`-head self-attention (scaled_dot_product_
attention; a fixed 2-D sinusoidal position code added to the queries' and keys' input, DETR-style)
-> residual, LayerNorm -> MLP (GELU, `mlp_ratio` x latent hidden) -> residual. Every bottleneck
position sees every other one, so one pixel can change the output anywhere in the image, which
the U-Net's convolutions cannot.

The position code is computed from the feature map's size at each call (absolute positions,
no weights): the network takes any image whose sides divide by 2**depth, like `UNet`, and
restore.py runs it on whole images. Attention cost grows with the square of the number of
bottleneck positions (H*W / 4**depth): cheap at 32x32 (64 positions at depth 2), slow on
megapixel images (use `--tile` there).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from aebench.core.errors import ConfigError
from aebench.core.models.common import positive_int
from aebench.core.models.unet import UNet


def sinusoid_2d(channels: int, h: int, w: int, device=None, dtype=None) -> torch.Tensor:
    """(channels, h, w) position code: sin/cos of the row index at geometric frequencies in the
    first half of the channels, of the column index in the second half (Transformer-style)."""
    half = math.ceil(channels / 2)
    pairs = math.ceil(half / 2)
    freq = torch.exp(-math.log(10000.0) * torch.arange(pairs, dtype=torch.float32) / pairs)

    def code(n):  # (2 * pairs, n)
        angle = freq[:, None] * torch.arange(n, dtype=torch.float32)[None]
        return torch.cat([angle.sin(), angle.cos()])

    rows = code(h)[:half, :, None].expand(half, h, w)
    cols = code(w)[:channels - half, None, :].expand(channels - half, h, w)
    return torch.cat([rows, cols]).to(device=device, dtype=dtype)


class SelfAttentionBlock(nn.Module):
    """Pre-norm transformer block over a (N, L, C) token sequence; the position code `pos`
    (L, C) is added to the queries' and keys' input only (as in DETR), so it steers who attends
    to whom and never enters the features passed on to the decoder."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qk = nn.Linear(dim, 2 * dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(),
                                 nn.Linear(mlp_ratio * dim, dim))

    def forward(self, t: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        n, length, c = t.shape
        u = self.norm1(t)
        q, k = (self.qk(u + pos).reshape(n, length, 2, self.heads, c // self.heads)
                .permute(2, 0, 3, 1, 4))  # each (N, heads, L, C / heads)
        v = self.v(u).reshape(n, length, self.heads, c // self.heads).transpose(1, 2)
        a = F.scaled_dot_product_attention(q, k, v)  # (N, heads, L, C / heads)
        t = t + self.proj(a.transpose(1, 2).reshape(n, length, c))
        return t + self.mlp(self.norm2(t))


class AttentionUNet(UNet):
    model_name = "unet_attn"

    def __init__(self, input_shape, bounded: bool = True, latent: int = 128, depth: int = 2,
                 base_channels: int = 32, heads: int = 4, blocks: int = 1, mlp_ratio: int = 2,
                 out_activation: str = "identity"):
        super().__init__(input_shape, bounded=bounded, latent=latent, depth=depth,
                         base_channels=base_channels, out_activation=out_activation)
        heads = positive_int("model.net.heads", heads)
        blocks = positive_int("model.net.blocks", blocks)
        mlp_ratio = positive_int("model.net.mlp_ratio", mlp_ratio)
        if latent % heads:
            ok = [d for d in range(1, min(latent, 16) + 1) if latent % d == 0]
            raise ConfigError(f"model.net.heads={heads} is not accepted with latent={latent} for "
                              f"model={self.model_name}: the bottleneck's {latent} channels must "
                              f"split evenly over the heads; use heads in {ok} or a latent that "
                              f"divides by {heads}")
        self.attn = nn.ModuleList(SelfAttentionBlock(latent, heads, mlp_ratio)
                                  for _ in range(blocks))

    def attend(self, f: torch.Tensor) -> torch.Tensor:
        """Bottleneck map (N, C, h, w) -> transformer blocks over its h*w positions -> same."""
        n, c, h, w = f.shape
        pos = sinusoid_2d(c, h, w, f.device, f.dtype).flatten(1).T  # (h*w, C)
        t = f.permute(0, 2, 3, 1).reshape(n, h * w, c)  # (N, h*w, C); a view if channels_last
        for block in self.attn:
            t = block(t, pos)
        return t.reshape(n, h, w, c).permute(0, 3, 1, 2)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = super()._features(x)
        feats[-1] = self.attend(feats[-1])
        return feats

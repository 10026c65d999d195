"""Procedural images: random coloured shapes over textured backgrounds, made in memory.

Each image has a background (linear gradient, stripes, checkerboard or smooth colour noise)
and 1-4 shape layers (filled circle, rectangle, triangle, ellipse, or a thick line), drawn
with one-pixel anti-aliased edges from signed distance functions. Everything is vectorised
over images in torch; Python only loops over background kinds, layers and shape kinds.
The label is the shape kind covering the largest visible area (after occlusion), so the
set has classes (`classes`), although lines, being thin, are rarely dominant.

Deterministic from `data_seed` (torch.Generator): train and test come from two generators
derived from it, so changing `num_train` does not change the test images.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from aebench.core.data.base import TensorDataModule
from aebench.core.errors import ConfigError

SHAPES = ("circle", "rectangle", "triangle", "ellipse", "line")
BACKGROUNDS = ("gradient", "stripes", "checkerboard", "noise")
MAX_LAYERS = 4
_CHUNK = 2048  # images generated at once (bounds memory for large sets)


def _u(g: torch.Generator, n: int, low: float, high: float, *shape: int) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, *shape, generator=g)


def _background(g: torch.Generator, n: int, size: int, channels: int,
                xx: torch.Tensor, yy: torch.Tensor) -> torch.Tensor:
    """(n, C, S, S) textured backgrounds in [0, 1]."""
    kind = torch.randint(len(BACKGROUNDS), (n,), generator=g)
    c1 = torch.rand(n, channels, 1, 1, generator=g)
    c2 = torch.rand(n, channels, 1, 1, generator=g)
    theta = _u(g, n, 0.0, 2 * math.pi, 1, 1)
    along = xx * torch.cos(theta) + yy * torch.sin(theta)           # (n, S, S), in [-1.5, 1.5]
    freq = _u(g, n, 2.0, 6.0, 1, 1)                                  # stripe periods per image
    phase = _u(g, n, 0.0, 1.0, 1, 1)
    cells = torch.randint(2, 9, (n, 1, 1), generator=g).float()      # checkerboard cells per side
    offset = torch.rand(n, 2, 1, 1, generator=g)
    noise_lo = torch.rand(n, channels, 4, 4, generator=g)
    noise_hi = torch.rand(n, channels, 8, 8, generator=g)
    noise_mix = _u(g, n, 0.0, 0.5, 1, 1, 1)

    # t in [0, 1]: how much of c2 to mix into c1 at each pixel (one map per image)
    t = torch.empty(n, 1, size, size)
    for k, name in enumerate(BACKGROUNDS):
        idx = (kind == k).nonzero().squeeze(1)
        if len(idx) == 0:
            continue
        if name == "gradient":
            a = along[idx]
            lo, hi = a.amin((1, 2), keepdim=True), a.amax((1, 2), keepdim=True)
            t[idx] = ((a - lo) / (hi - lo + 1e-6)).unsqueeze(1)
        elif name == "stripes":
            s = torch.frac(along[idx] * freq[idx] + phase[idx])      # position in the period
            tri = (s - 0.5).abs() * 2                                 # edges where tri == 0.5
            edge_px = (tri - 0.5) / (2 * freq[idx]) * size             # distance to edge, pixels
            t[idx] = (0.5 + edge_px).clamp(0.0, 1.0).unsqueeze(1)    # anti-aliased stripes
        elif name == "checkerboard":
            cx = torch.floor(xx * cells[idx] + offset[idx, 0])
            cy = torch.floor(yy * cells[idx] + offset[idx, 1])
            t[idx] = torch.remainder(cx + cy, 2.0).unsqueeze(1)
    img = c1 + (c2 - c1) * t
    idx = (kind == BACKGROUNDS.index("noise")).nonzero().squeeze(1)
    if len(idx):
        up = dict(size=(size, size), mode="bicubic", align_corners=False)
        m = noise_mix[idx]
        noise = (1 - m) * F.interpolate(noise_lo[idx], **up) + m * F.interpolate(noise_hi[idx], **up)
        lo, hi = noise.amin((2, 3), keepdim=True), noise.amax((2, 3), keepdim=True)
        img[idx] = 0.3 * c1[idx] + 0.7 * (noise - lo) / (hi - lo + 1e-6)  # full-contrast noise
    return img.clamp_(0.0, 1.0)


def _signed_distance(kind: str, g: torch.Generator, n: int, size: int,
                     xx: torch.Tensor, yy: torch.Tensor) -> torch.Tensor:
    """(n, S, S) signed distance (in image units, negative inside) of n random shapes."""
    cx, cy = _u(g, n, 0.2, 0.8, 1, 1), _u(g, n, 0.2, 0.8, 1, 1)
    r = _u(g, n, 0.12, 0.32, 1, 1)
    rot = _u(g, n, 0.0, math.pi, 1, 1)
    aspect = _u(g, n, 0.35, 0.9, 1, 1)
    dx, dy = xx - cx, yy - cy
    u = dx * torch.cos(rot) + dy * torch.sin(rot)                    # rotated frame
    v = -dx * torch.sin(rot) + dy * torch.cos(rot)
    if kind == "circle":
        return torch.sqrt(dx * dx + dy * dy) - r
    if kind == "ellipse":
        a, b = r, r * aspect
        return (torch.sqrt((u / a) ** 2 + (v / b) ** 2) - 1.0) * b
    if kind == "rectangle":
        a = r * _u(g, n, 0.6, 1.0, 1, 1)
        b = r * aspect
        return torch.maximum(u.abs() - a, v.abs() - b)
    if kind == "triangle":
        base = _u(g, n, 0.0, 2 * math.pi, 1)
        ang = base + torch.tensor([0.0, 2.0, 4.0]) * (math.pi / 3) \
            + _u(g, n, -0.35, 0.35, 3)                               # (n, 3) vertex angles
        rad = 1.3 * r.view(n, 1)
        px = cx.view(n, 1) + rad * torch.cos(ang)                      # (n, 3) vertices
        py = cy.view(n, 1) + rad * torch.sin(ang)
        qx, qy = px.roll(-1, 1), py.roll(-1, 1)                        # next vertex
        ex, ey = qx - px, qy - py
        length = torch.sqrt(ex * ex + ey * ey).clamp_min(1e-6)
        nx, ny = ey / length, -ex / length                             # normal of each edge
        # orient normals outwards: the centroid must be on the negative side of every edge
        gx, gy = px.mean(1, keepdim=True), py.mean(1, keepdim=True)
        sign = torch.where((gx - px) * nx + (gy - py) * ny > 0, -1.0, 1.0)
        nx, ny = nx * sign, ny * sign
        d = ((xx.unsqueeze(-1) - px[:, None, None]) * nx[:, None, None]
             + (yy.unsqueeze(-1) - py[:, None, None]) * ny[:, None, None])   # (n, S, S, 3)
        return d.amax(-1)
    if kind == "line":
        half = r * 1.6
        ax, ay = cx - half * torch.cos(rot), cy - half * torch.sin(rot)
        bx, by = cx + half * torch.cos(rot), cy + half * torch.sin(rot)
        width = _u(g, n, 1.5, 3.5, 1, 1) / size
        ex, ey = bx - ax, by - ay
        s = (((xx - ax) * ex + (yy - ay) * ey) / (ex * ex + ey * ey)).clamp(0.0, 1.0)
        return torch.sqrt((xx - ax - s * ex) ** 2 + (yy - ay - s * ey) ** 2) - width / 2
    raise AssertionError(kind)


def generate_shapes(n: int, size: int = 32, channels: int = 3,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """n images (n, C, size, size) float32 in [0, 1] and labels (n,) int64 (dominant shape)."""
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    xs, ys = [], []
    for start in range(0, n, _CHUNK):
        x, y = _generate_chunk(min(_CHUNK, n - start), size, channels, g)
        xs.append(x)
        ys.append(y)
    if not xs:
        return torch.empty(0, channels, size, size), torch.empty(0, dtype=torch.int64)
    return torch.cat(xs), torch.cat(ys)


def _generate_chunk(n: int, size: int, channels: int, g: torch.Generator):
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size    # pixel centres in (0, 1)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    img = _background(g, n, size, channels, xx, yy)

    n_layers = torch.randint(1, MAX_LAYERS + 1, (n,), generator=g)
    alphas = torch.zeros(MAX_LAYERS, n, size, size)
    kinds = torch.randint(len(SHAPES), (MAX_LAYERS, n), generator=g)
    for layer in range(MAX_LAYERS):
        colour = torch.rand(n, channels, 1, 1, generator=g)
        # a mild shading gradient inside the shape, so fills are not perfectly flat
        shade = _u(g, n, -0.15, 0.15, 1, 1) * (xx - 0.5) + _u(g, n, -0.15, 0.15, 1, 1) * (yy - 0.5)
        sd = torch.empty(n, size, size)
        for k, kind in enumerate(SHAPES):
            idx = (kinds[layer] == k).nonzero().squeeze(1)
            if len(idx):
                sd[idx] = _signed_distance(kind, g, len(idx), size, xx, yy)
        alpha = (0.5 - sd * size).clamp(0.0, 1.0)                      # 1-pixel anti-aliasing
        alpha = alpha * (layer < n_layers).float()[:, None, None]
        alphas[layer] = alpha
        fill = (colour + shade.unsqueeze(1)).clamp(0.0, 1.0)
        a = alpha.unsqueeze(1)
        img = img * (1 - a) + fill * a

    # visible area of each layer (later layers occlude earlier ones), summed per shape kind
    visible = torch.ones(n, size, size)
    area = torch.zeros(n, len(SHAPES))
    for layer in reversed(range(MAX_LAYERS)):
        area.scatter_add_(1, kinds[layer].unsqueeze(1),
                          (alphas[layer] * visible).sum((1, 2)).unsqueeze(1))
        visible = visible * (1 - alphas[layer])
    return img.clamp_(0.0, 1.0).contiguous(), area.argmax(1)


class ShapesDataModule(TensorDataModule):
    """Random shapes over textures: (channels, size, size) float32 in [0, 1], labels 0..4."""

    name = "shapes"
    bounded = True
    classes = SHAPES
    num_classes = len(SHAPES)

    def __init__(self, num_train: int = 4000, num_test: int = 1000, size: int = 32,
                 channels: int = 3, data_seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        for key, value, minimum in (("num_train", num_train, 1), ("num_test", num_test, 1),
                                    ("size", size, 8)):
            if int(value) != value or value < minimum:
                raise ConfigError(f"data.{key}={value!r} must be an integer >= {minimum}")
        if channels not in (1, 3):
            raise ConfigError(f"data.channels={channels!r} must be 1 (grey) or 3 (RGB)")
        self.num_train, self.num_test = int(num_train), int(num_test)
        self.size, self.channels, self.data_seed = int(size), int(channels), int(data_seed)

    def _generator(self, split: int) -> torch.Generator:
        # distinct, reproducible streams for train (0) and test (1)
        return torch.Generator().manual_seed((self.data_seed * 1_000_003 + split) % (2 ** 63))

    def load(self):
        train_x, train_y = generate_shapes(self.num_train, self.size, self.channels, self._generator(0))
        test_x, test_y = generate_shapes(self.num_test, self.size, self.channels, self._generator(1))
        return train_x, train_y, test_x, test_y

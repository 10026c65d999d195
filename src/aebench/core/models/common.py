"""Helpers shared by the networks: argument checks, the image <-> row-sequence view, the U-Net's
encoder-decoder (unet, unet_attn, wiener_unet)."""
from __future__ import annotations

import torch
from torch import nn

from aebench.core.errors import ConfigError


def positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name}={value!r} is not accepted: it must be a positive integer")
    return value


def output_activation(name: str, bounded: bool) -> nn.Module:
    """'auto' is a sigmoid for data in [0, 1] and linear otherwise."""
    if name == "auto":
        name = "sigmoid" if bounded else "identity"
    choices = {"sigmoid": nn.Sigmoid, "identity": nn.Identity, "tanh": nn.Tanh}
    if name not in choices:
        raise ConfigError(f"model.net.out_activation={name!r} is not accepted; choose one of: auto, "
                          + ", ".join(choices))
    return choices[name]()


INITS = ("keras", "torch")


def init_weights(module: nn.Module, init: str) -> None:
    """'torch': PyTorch's own defaults (left as they are). 'keras': what Keras 3 starts from:
    glorot-uniform kernels (Linear, Conv, and the input weights of LSTM/GRU/RNN layers: PyTorch's
    (4u, in) layout has the same fans as Keras' (in, 4u)), orthogonal recurrent weights, zero
    biases, and LSTM forget-gate biases at 1 (`unit_forget_bias`; PyTorch's second bias vector,
    bias_hh, stays 0 so the sum matches)."""
    if init not in INITS:
        raise ConfigError(f"model.net.init={init!r} is not accepted; choose one of: " + ", ".join(INITS))
    if init == "torch":
        return
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.LSTM, nn.GRU, nn.RNN)):
            for name, p in m.named_parameters():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(p)
                elif name.startswith("weight_hh"):
                    nn.init.orthogonal_(p)
                elif name.startswith("bias"):
                    nn.init.zeros_(p)
                    if isinstance(m, nn.LSTM) and name.startswith("bias_ih"):
                        with torch.no_grad():  # PyTorch's gate order: input, forget, cell, output
                            p[m.hidden_size:2 * m.hidden_size] = 1.0


def to_rows(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) image -> (N, H, W*C) rows with channels interleaved per pixel; (N, T, F) as is."""
    if x.ndim == 4:
        n, c, h, w = x.shape
        return x.permute(0, 2, 3, 1).reshape(n, h, w * c)
    return x


def from_rows(rows: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Inverse of `to_rows` for items of `shape`."""
    if len(shape) == 3:
        c, h, w = shape
        return rows.reshape(rows.shape[0], h, w, c).permute(0, 3, 1, 2).contiguous()
    return rows


def image_shape(model: str, input_shape, halvings: int = 0, depth_sets_it: bool = False):
    """(C, H, W) of `input_shape`, or a one-line ConfigError when `model` cannot take it: items
    that are not images, or sides that do not divide by 2**halvings (set by `depth` or fixed)."""
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise ConfigError(f"model={model} needs images (C, H, W); this data has items of shape "
                          f"{shape}: use model=lstm or model=rnn for sequences")
    c, h, w = shape
    if h % 2**halvings or w % 2**halvings:
        if depth_sets_it:
            ok = max(d for d in range(halvings) if h % 2**d == 0 and w % 2**d == 0)
            hint = f"use depth <= {ok}" if ok else "give the images even sides (e.g. data.size)"
            raise ConfigError(f"depth={halvings} is not accepted for model={model} on {h}x{w} "
                              f"images: the sides must divide by 2**depth; {hint}")
        raise ConfigError(f"model={model} cannot take {h}x{w} images: it halves them {halvings} "
                          f"times, so both sides must divide by {2**halvings} (e.g. set data.size)")
    return c, h, w


def rows_shape(input_shape) -> tuple[int, int]:
    """(steps, features) a row-sequence model reads: H rows of W*C values, or a (T, F) sequence."""
    shape = tuple(input_shape)
    if len(shape) == 3:
        c, h, w = shape
        return h, w * c
    if len(shape) == 2:
        return shape
    raise ConfigError(f"input_shape={shape} is not accepted: this model reads images (C, H, W) "
                      f"or sequences (T, F)")


class EncoderDecoder(nn.Module):
    """An autoencoder: forward = decode(encode(x)). By default `encode`/`decode` are the
    subclass's `self.encoder` / `self.decoder` modules; recurrent models override them."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def _fold(w: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The 3 taps of `w` along `dim` as two 3-tap kernels over the un-upsampled input, one per
    output phase: phase 0 reads input offsets (-1, 0, 0), phase 1 reads (0, 0, +1)."""
    a0, a1, a2 = w.unbind(dim)
    zero = torch.zeros_like(a0)
    return torch.stack([a0, a1 + a2, zero], dim), torch.stack([zero, a0 + a1, a2], dim)


class NearestUpConv(nn.Conv2d):
    """nn.Upsample(scale_factor=2, mode="nearest") then this 3x3 'same' convolution, computed
    without the upsampled map: every output pixel's window covers 2 x 2 input pixels, so each of
    the 4 output phases is a 3x3 convolution of the input with taps summed (`_fold`), and
    pixel_shuffle interleaves them. The same parameters (an nn.Conv2d's: checkpoints load
    unchanged) and the same function to float rounding (tests/test_fast_paths.py), with a
    quarter of the positions to convolve and no upsampling pass forward or backward."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.stack([k for rows in _fold(self.weight, 2) for k in _fold(rows, 3)], 1)
        w = w.flatten(0, 1)  # (out * 4, in, 3, 3); channel o * 4 + 2 * row phase + column phase
        bias = None if self.bias is None else self.bias.repeat_interleave(4)
        return nn.functional.pixel_shuffle(self._conv_forward(x, w, bias), 2)


def published_layers(net: nn.Module) -> nn.Module:
    """A copy of `net` with its fast layers undone, the same weights: nn.Upsample + nn.Conv2d in
    place of each nn.Identity + NearestUpConv, ReLU before each max-pooling it follows. The
    published architecture, to check (tests/test_fast_paths.py) and time
    (benchmarks/fast_layers.py) the fast one against."""
    import copy

    ref = copy.deepcopy(net)
    for seq in [m for m in ref.modules() if isinstance(m, nn.Sequential)]:
        for i, layer in enumerate(list(seq)):
            if isinstance(layer, NearestUpConv) and isinstance(seq[i - 1], nn.Identity):
                seq[i - 1] = nn.Upsample(scale_factor=2, mode="nearest")
                seq[i] = nn.Conv2d(layer.in_channels, layer.out_channels, 3, padding=1)
                seq[i].to(layer.weight.dtype).load_state_dict(layer.state_dict())
            if isinstance(layer, nn.MaxPool2d) and i + 1 < len(seq) and isinstance(seq[i + 1], nn.ReLU):
                seq[i], seq[i + 1] = seq[i + 1], layer
    return ref


def blur_of(model: str, input_shape, blur):
    """`blur` (the run's degradation) for a network that inverts it: a one-line ConfigError when
    the items are not images or the degradation is not a blur (it has no `otf`)."""
    if len(tuple(input_shape)) != 3:
        raise ConfigError(f"model={model} needs images (C, H, W); this data has items of shape "
                          f"{tuple(input_shape)}")
    if not hasattr(blur, "otf"):
        raise ConfigError(f"model={model} needs degradation=blur (got "
                          f"{type(blur).__name__.lower()}): it inverts that blur")
    return blur


def double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True))


class UNetLayers:
    """The U-Net's encoder-decoder, for the nn.Modules that share it: per level two 3x3 conv +
    ReLU, 2x2 max-pooling down, a 2x2 transposed conv up, the skip concatenated, two 3x3 conv +
    ReLU. `widths[i]` channels at level i (the last: the bottleneck). Attribute names are the ones
    unet's checkpoints hold (inc, pool, downs, ups, merges)."""

    def _build_unet(self, cin: int, widths: list[int]) -> None:
        depth = len(widths) - 1
        self.inc = double_conv(cin, widths[0])
        self.pool = nn.MaxPool2d(2)
        self.downs = nn.ModuleList(double_conv(widths[i], widths[i + 1]) for i in range(depth))
        self.ups = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                 for i in reversed(range(depth)))
        self.merges = nn.ModuleList(double_conv(2 * widths[i], widths[i])
                                    for i in reversed(range(depth)))

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Encoder feature maps from full resolution (level 0) down to the bottleneck."""
        feats = [self.inc(x)]
        for down in self.downs:
            feats.append(down(self.pool(feats[-1])))
        return feats

    def _decode(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """The full-resolution feature map the decoder makes of `_features`' maps."""
        y = feats.pop()
        for up, merge in zip(self.ups, self.merges):
            y = merge(torch.cat([up(y), feats.pop()], dim=1))
        return y

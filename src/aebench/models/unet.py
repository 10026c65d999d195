"""Small residual U-Net for image restoration: predicts a correction added to the degraded input.

Level 0 runs two 3x3 conv + ReLU layers at full resolution with `base_channels` channels; each of
the `depth` levels below halves the size (2x2 max-pooling) and doubles the channels, the lowest
(the bottleneck) having `latent` channels. Each level of the decoder upsamples with a 2x2
transposed convolution, concatenates the encoder's feature map of that size (skip connection)
and applies two 3x3 conv + ReLU layers; a 1x1 convolution gives the correction f(x), and the
output is x + f(x), linear (the module clips to [0, 1] for the image metrics).

`encode` returns the bottleneck feature map (latent x H/2**depth x W/2**depth numbers), but the
skip connections carry full-resolution detail around it: this is a restoration network, not a
compressor, and with degradation=none it only has to learn f = 0.
"""
from __future__ import annotations

import torch
from torch import nn

from aebench.models.common import image_shape, output_activation, positive_int


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True))


class UNet(nn.Module):
    model_name = "unet"  # the config name the shape errors give (subclasses set their own)

    def __init__(self, input_shape, bounded: bool = True, latent: int = 128, depth: int = 2,
                 base_channels: int = 32, out_activation: str = "identity"):
        super().__init__()
        self.input_shape = tuple(input_shape)
        latent = positive_int("latent", latent)
        depth = positive_int("depth", depth)
        base = positive_int("model.net.base_channels", base_channels)
        c, h, w = image_shape(self.model_name, self.input_shape, depth, depth_sets_it=True)
        widths = [base * 2**i for i in range(depth)] + [latent]  # channels at levels 0..depth
        self.inc = _double_conv(c, widths[0])
        self.pool = nn.MaxPool2d(2)
        self.downs = nn.ModuleList(_double_conv(widths[i], widths[i + 1]) for i in range(depth))
        self.ups = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                 for i in reversed(range(depth)))
        self.merges = nn.ModuleList(_double_conv(2 * widths[i], widths[i])
                                    for i in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], c, 1)
        self.out = output_activation(out_activation, bounded)
        self.code_size = latent * (h // 2**depth) * (w // 2**depth)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Encoder feature maps from full resolution (level 0) down to the bottleneck."""
        feats = [self.inc(x)]
        for down in self.downs:
            feats.append(down(self.pool(feats[-1])))
        return feats

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self._features(x)[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self._features(x)
        y = feats.pop()
        for up, merge in zip(self.ups, self.merges):
            y = merge(torch.cat([up(y), feats.pop()], dim=1))
        return self.out(x + self.head(y))

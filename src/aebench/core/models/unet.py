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

from aebench.core.models.common import UNetLayers, image_shape, output_activation, positive_int


class UNet(UNetLayers, nn.Module):
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
        self._build_unet(c, widths)
        self.head = nn.Conv2d(widths[0], c, 1)
        self.out = output_activation(out_activation, bounded)
        self.code_size = latent * (h // 2**depth) * (w // 2**depth)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self._features(x)[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(x + self.head(self._decode(self._features(x))))

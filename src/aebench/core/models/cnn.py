"""Convolutional autoencoder: `depth` conv+pool stages down, a `latent`-channel bottleneck, `depth` upsample+conv stages back.

Stage i has base_channels * 2**i channels (3x3 convolutions, ReLU, 2x2 max-pooling); the code
is a 1x1 convolution to `latent` channels at 1/2**depth of the input size, so the code holds
latent * (H / 2**depth) * (W / 2**depth) numbers. The decoder mirrors it with nearest-neighbour
upsampling and ends in a 3x3 convolution to the input's channels. Each ReLU runs after its
pooling (they commute: the same function on a quarter of the elements, tests/test_fast_paths.py).
"""
from __future__ import annotations

from torch import nn

from aebench.core.models.common import EncoderDecoder, image_shape, output_activation, positive_int


class ConvAutoencoder(EncoderDecoder):
    def __init__(self, input_shape, bounded: bool = True, latent: int = 16, depth: int = 2,
                 base_channels: int = 32, out_activation: str = "auto"):
        super().__init__()
        self.input_shape = tuple(input_shape)
        latent = positive_int("latent", latent)
        depth = positive_int("depth", depth)
        c, h, w = image_shape("cnn", self.input_shape, depth, depth_sets_it=True)
        widths = [min(base_channels * 2**i, 256) for i in range(depth)]
        down, prev = [], c
        for wd in widths:
            down += [nn.Conv2d(prev, wd, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(inplace=True)]
            prev = wd
        self.encoder = nn.Sequential(*down, nn.Conv2d(prev, latent, 1))
        up = [nn.Conv2d(latent, prev, 3, padding=1), nn.ReLU(inplace=True)]
        for wd in reversed(widths):
            # Upsample + Conv, not NearestUpConv: at these widths it made the bf16 step slower
            # (36.2 vs 32.2 ms at batch 128, docs/performance.md)
            up += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(prev, wd, 3, padding=1),
                   nn.ReLU(inplace=True)]
            prev = wd
        self.decoder = nn.Sequential(*up, nn.Conv2d(prev, c, 3, padding=1),
                                     output_activation(out_activation, bounded))
        self.code_size = latent * (h // 2**depth) * (w // 2**depth)

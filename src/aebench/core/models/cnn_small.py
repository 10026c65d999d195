"""The Keras notebooks' small Keras CIFAR-10 convolutional autoencoder (11,011 parameters at latent=32).

Conv(32, 3x3) + ReLU -> MaxPool 2 -> Conv(latent, 3x3) + ReLU [the code: latent x H/2 x W/2]
-> Upsample 2 (nearest) -> Conv(C, 3x3) + sigmoid; all convolutions 'same'-padded. PyTorch
counts the same parameters as Keras (convolutions have one weight tensor and one bias each).
The sigmoid is part of the published model; out_activation=identity gives a linear output.
Computed faster, the same function (tests/test_fast_paths.py; docs/performance.md): the first
ReLU after the pooling (max and ReLU commute: a quarter of the elements), Upsample + Conv(C) as
one NearestUpConv (an nn.Identity keeps the published layer indices, so checkpoints load).
"""
from __future__ import annotations

from torch import nn

from aebench.core.models.common import (EncoderDecoder, NearestUpConv, image_shape, output_activation,
                                   positive_int)


class SmallConvAutoencoder(EncoderDecoder):
    def __init__(self, input_shape, bounded: bool = True, latent: int = 32, width: int = 32,
                 out_activation: str = "sigmoid"):
        super().__init__()
        self.input_shape = tuple(input_shape)
        latent = positive_int("latent", latent)
        width = positive_int("model.net.width", width)
        c, h, w = image_shape("cnn_small", self.input_shape, 1)
        self.encoder = nn.Sequential(
            nn.Conv2d(c, width, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(inplace=True),
            nn.Conv2d(width, latent, 3, padding=1), nn.ReLU(inplace=True))
        self.decoder = nn.Sequential(
            nn.Identity(), NearestUpConv(latent, c),  # Upsample 2 + Conv(C); Identity: the keys
            output_activation(out_activation, bounded))
        self.code_size = latent * (h // 2) * (w // 2)

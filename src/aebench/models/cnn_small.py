"""The Keras notebooks' small Keras CIFAR-10 convolutional autoencoder (11,011 parameters at latent=32).

Conv(32, 3x3) + ReLU -> MaxPool 2 -> Conv(latent, 3x3) + ReLU [the code: latent x H/2 x W/2]
-> Upsample 2 (nearest) -> Conv(C, 3x3) + sigmoid; all convolutions 'same'-padded. PyTorch
counts the same parameters as Keras (convolutions have one weight tensor and one bias each).
The sigmoid is part of the published model; out_activation=identity gives a linear output.
The first ReLU runs after the pooling: max and ReLU commute, so outputs and gradients are the
published order's, bit for bit (tests/test_fast_paths.py), on a quarter of the elements (a
bf16 training step 5% faster on this CPU, docs/performance.md).
"""
from __future__ import annotations

from torch import nn

from aebench.models.common import EncoderDecoder, image_shape, output_activation, positive_int


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
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(latent, c, 3, padding=1),
            output_activation(out_activation, bounded))
        self.code_size = latent * (h // 2) * (w // 2)

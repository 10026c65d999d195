"""The Keras notebooks' MNIST convolutional autoencoder with batch normalisation (12,585 in Keras).

Conv(32) + ReLU, BN, MaxPool 2 -> Conv(16) + ReLU, BN, MaxPool 2 -> Conv(latent) + ReLU [the
code: latent x H/4 x W/4, 8 x 7 x 7 on MNIST] -> Conv(16) + ReLU, BN, Upsample 2 -> Conv(32) +
ReLU, BN, Upsample 2 -> Conv(C) + sigmoid; all 3x3, 'same'-padded.

Keras counts 12,201 convolution parameters plus 4 per BatchNormalization channel (gamma, beta
and the non-trainable moving mean and variance: 4 x (32+16+16+32) = 384) = 12,585. PyTorch's
BatchNorm2d keeps the moving statistics as buffers, not parameters, so it counts 2 x 96 = 192
fewer: 12,393. Each Upsample + Conv runs as one NearestUpConv (the same function, faster; an
nn.Identity keeps the published layer indices, so checkpoints load).
"""
from __future__ import annotations

from torch import nn

from aebench.core.models.common import (EncoderDecoder, NearestUpConv, image_shape, output_activation,
                                   positive_int)


def _block(cin: int, cout: int, up: bool = False) -> list[nn.Module]:
    conv = NearestUpConv(cin, cout) if up else nn.Conv2d(cin, cout, 3, padding=1)
    return [conv, nn.ReLU(inplace=True), nn.BatchNorm2d(cout)]


class BatchNormConvAutoencoder(EncoderDecoder):
    def __init__(self, input_shape, bounded: bool = True, latent: int = 8,
                 out_activation: str = "sigmoid"):
        super().__init__()
        self.input_shape = tuple(input_shape)
        latent = positive_int("latent", latent)
        c, h, w = image_shape("cnn_bn", self.input_shape, 2)
        self.encoder = nn.Sequential(
            *_block(c, 32), nn.MaxPool2d(2),
            *_block(32, 16), nn.MaxPool2d(2),
            nn.Conv2d(16, latent, 3, padding=1), nn.ReLU(inplace=True))
        self.decoder = nn.Sequential(
            *_block(latent, 16), nn.Identity(),  # Upsample 2, in the next block's NearestUpConv
            *_block(16, 32, up=True), nn.Identity(),
            NearestUpConv(32, c), output_activation(out_activation, bounded))
        self.code_size = latent * (h // 4) * (w // 4)

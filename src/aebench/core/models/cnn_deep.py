"""The Keras notebooks' deeper Keras MNIST convolutional autoencoder, trained with BCE (185,217 parameters).

Conv(32) + ReLU, MaxPool 2 -> Conv(64) + ReLU, MaxPool 2 -> Conv(latent) + ReLU [the code:
latent x H/4 x W/4, 128 x 7 x 7 on MNIST] -> ConvTranspose(64) + ReLU, Upsample 2 ->
ConvTranspose(32) + ReLU, Upsample 2 -> ConvTranspose(C) + sigmoid; all 3x3, stride 1,
'same'-padded. PyTorch counts the same parameters as Keras at latent=128 (one weight tensor and
one bias per layer): 320 + 18,496 + 73,856 + 73,792 + 18,464 + 289 = 185,217 on 1 channel.
"""
from __future__ import annotations

from torch import nn

from aebench.core.models.common import EncoderDecoder, image_shape, output_activation, positive_int


class DeepConvAutoencoder(EncoderDecoder):
    def __init__(self, input_shape, bounded: bool = True, latent: int = 128,
                 out_activation: str = "sigmoid"):
        super().__init__()
        self.input_shape = tuple(input_shape)
        latent = positive_int("latent", latent)
        c, h, w = image_shape("cnn_deep", self.input_shape, 2)
        self.encoder = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(inplace=True),  # ReLU after
            nn.Conv2d(32, 64, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(inplace=True),  # pooling
            nn.Conv2d(64, latent, 3, padding=1), nn.ReLU(inplace=True))
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(latent, 64, 3, padding=1), nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.ConvTranspose2d(64, 32, 3, padding=1), nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.ConvTranspose2d(32, c, 3, padding=1), output_activation(out_activation, bounded))
        self.code_size = latent * (h // 4) * (w // 4)

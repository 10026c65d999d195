"""Conv-recurrent hybrid: a CNN reads the image, an LSTM compresses its feature-map rows to a code.

Encoder: two stages of 3x3 conv + ReLU + 2x2 max-pooling (`base_channels`, then twice as many
channels) turn a C x H x W image into a feature map of H/4 rows; an LSTM (`depth` stacked
layers of `latent` units) reads those rows top to bottom and its last hidden state is the code
(`latent` numbers). Decoder: the code is repeated H/4 times and read by an LSTM (`depth` layers
of `decoder_hidden` units); a per-row linear layer rebuilds the feature-map rows, which two
stages of nearest upsampling + 3x3 conv turn back into a C x H x W image.
"""
from __future__ import annotations

import torch
from torch import nn

from aebench.core.models.common import (EncoderDecoder, NearestUpConv, from_rows, image_shape,
                                   output_activation, positive_int, to_rows)


class ConvLSTMAutoencoder(EncoderDecoder):
    def __init__(self, input_shape, bounded: bool = True, latent: int = 128, depth: int = 1,
                 base_channels: int = 32, decoder_hidden: int = 128,
                 out_activation: str = "identity"):
        super().__init__()
        self.input_shape = tuple(input_shape)
        latent = positive_int("latent", latent)
        depth = positive_int("depth", depth)
        c1 = positive_int("model.net.base_channels", base_channels)
        hidden = positive_int("model.net.decoder_hidden", decoder_hidden)
        c, h, w = image_shape("convlstm", self.input_shape, 2)
        c2 = 2 * c1
        self.feature_shape = (c2, h // 4, w // 4)  # the map the LSTMs read and rebuild row by row
        row = c2 * (w // 4)
        self.cnn_encoder = nn.Sequential(
            nn.Conv2d(c, c1, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(inplace=True),
            nn.Conv2d(c1, c2, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(inplace=True))
        self.rnn_encoder = nn.LSTM(row, latent, num_layers=depth, batch_first=True)
        self.rnn_decoder = nn.LSTM(latent, hidden, num_layers=depth, batch_first=True)
        self.row_head = nn.Linear(hidden, row)
        self.cnn_decoder = nn.Sequential(
            nn.ReLU(inplace=True), nn.Identity(),  # Identity + NearestUpConv: Upsample 2 + Conv
            NearestUpConv(c2, c1), nn.ReLU(inplace=True),
            nn.Identity(),
            NearestUpConv(c1, c), output_activation(out_activation, bounded))
        self.code_size = latent

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.rnn_encoder(to_rows(self.cnn_encoder(x)))
        return h[-1]

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        steps = self.feature_shape[1]
        seq, _ = self.rnn_decoder(code.unsqueeze(1).expand(-1, steps, -1))
        return self.cnn_decoder(from_rows(self.row_head(seq), self.feature_shape))

"""Keras-style stack of LSTM layers that halve in width down to `latent` units, read row by row.

An image is read as H rows of W*C values (RGB interleaved per pixel); a sequence (T, F) as it
is. The encoder is `depth` single-layer LSTMs of latent * 2**(depth-1), ..., 2*latent, latent
units, each returning its whole sequence to the next.

- bottleneck=True: the last layer's final hidden state is the code (`latent` numbers); it is
  repeated for every row and decoded by the encoder's layers in reverse without the code layer
  (2*latent, ..., latent * 2**(depth-1) units; one layer of `latent` units when depth=1),
  then a per-row linear layer back to W*C values.
- bottleneck=False: no code vector; the last layer's whole sequence (H x latent numbers) is the
  code and a per-row linear layer maps it back.

The Keras notebooks' models, at their defaults:
- lstm_stack (MNIST, latent 32, depth 3): LSTM 128 -> 64 -> 32 -> repeat 28 -> LSTM 64 -> 128
  -> per-row Dense(28); Keras counts 269,468 parameters, PyTorch 271,132.
- lstm_seq (CIFAR-10, latent 64, depth 2, bottleneck=False): LSTM(128) -> LSTM(64) -> per-row
  Dense(96); Keras counts 170,848 parameters, PyTorch 171,616.
nn.LSTM keeps two bias vectors (bias_ih and bias_hh), i.e. 4*units more per layer than Keras
(4 x (128+64+32+64+128) = 1,664 and 4 x (128+64) = 768 here).
init='keras' starts from Keras' initialisers (`common.init_weights`; the presets of the Keras
notebooks' models set it), init='torch' (the default) from PyTorch's.
"""
from __future__ import annotations

import torch
from torch import nn

from aebench.core.models.common import EncoderDecoder, from_rows, init_weights, output_activation, positive_int, rows_shape, to_rows


class StackedLSTMAutoencoder(EncoderDecoder):
    def __init__(self, input_shape, bounded: bool = True, latent: int = 32, depth: int = 3,
                 bottleneck: bool = True, out_activation: str = "auto",
                 init: str = "torch"):
        super().__init__()
        self.input_shape = tuple(input_shape)
        latent = positive_int("latent", latent)
        depth = positive_int("depth", depth)
        self.steps, features = rows_shape(self.input_shape)
        widths = [latent * 2 ** (depth - 1 - i) for i in range(depth)]  # e.g. 128, 64, 32
        self.encoder = self._stack(features, widths)
        self.bottleneck = bool(bottleneck)
        if self.bottleneck:
            self.decoder = self._stack(latent, widths[-2::-1] or [latent])  # e.g. 64, 128
            self.code_size = latent
        else:
            self.decoder = nn.ModuleList()
            self.code_size = self.steps * latent
        last = self.decoder[-1].hidden_size if len(self.decoder) else latent
        self.head = nn.Linear(last, features)
        self.out = output_activation(out_activation, bounded)
        init_weights(self, init)

    @staticmethod
    def _stack(features: int, widths: list[int]) -> nn.ModuleList:
        sizes = [features, *widths]
        return nn.ModuleList(nn.LSTM(sizes[i], sizes[i + 1], batch_first=True)
                             for i in range(len(widths)))

    @staticmethod
    def _run(layers: nn.ModuleList, seq: torch.Tensor) -> torch.Tensor:
        for layer in layers:
            seq, _ = layer(seq)
        return seq

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        seq = self._run(self.encoder, to_rows(x))
        return seq[:, -1] if self.bottleneck else seq  # (N, latent) or (N, rows, latent)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        seq = code.unsqueeze(1).expand(-1, self.steps, -1) if self.bottleneck else code
        seq = self._run(self.decoder, seq)
        return from_rows(self.out(self.head(seq)), self.input_shape)

"""Row-sequence recurrent autoencoder (LSTM, SimpleRNN or GRU cells).

An image is read as H rows of W*C values (RGB interleaved per pixel); a sequence (T, F) is read
as it is. The encoder (`depth` stacked layers of `latent` units) reads the rows; the last
layer's final hidden state is the code (`latent` numbers). The code is repeated H times and
decoded by `depth` stacked layers of `decoder_hidden` units and a per-row linear layer.

With cell='lstm', latent=128, depth=1, decoder_hidden=128 on CIFAR-10 this is the Keras notebooks'
Keras model LSTM(128) -> RepeatVector(32) -> LSTM(128, return_sequences) -> Dense(96):
Keras counts 259,168 parameters, PyTorch 260,192 because nn.LSTM keeps two bias vectors
(bias_ih and bias_hh) per layer, i.e. 4*hidden more per LSTM layer (2 layers x 4 x 128 = 1,024).
nn.RNN likewise adds `hidden` per layer and nn.GRU 3*hidden (and Keras' GRU with reset_after
has its own two biases).
init='keras' starts from Keras' initialisers (`common.init_weights`; the presets of the Keras
notebooks' models set it), init='torch' (the default) from PyTorch's.
"""
from __future__ import annotations

import torch
from torch import nn

from aebench.core.errors import ConfigError
from aebench.core.models.common import EncoderDecoder, from_rows, init_weights, output_activation, positive_int, rows_shape, to_rows

CELLS = {"lstm": nn.LSTM, "rnn": nn.RNN, "gru": nn.GRU}


class RecurrentAutoencoder(EncoderDecoder):
    def __init__(self, input_shape, bounded: bool = True, cell: str = "lstm", latent: int = 128,
                 depth: int = 1, decoder_hidden: int = 128, out_activation: str = "auto",
                 init: str = "torch"):
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(f"model.net.cell={cell!r} is not accepted; choose one of: "
                              + ", ".join(CELLS))
        self.input_shape = tuple(input_shape)
        latent = positive_int("latent", latent)
        depth = positive_int("depth", depth)
        decoder_hidden = positive_int("model.net.decoder_hidden", decoder_hidden)
        self.steps, features = rows_shape(self.input_shape)
        rnn = CELLS[cell]
        self.encoder = rnn(features, latent, num_layers=depth, batch_first=True)
        self.decoder = rnn(latent, decoder_hidden, num_layers=depth, batch_first=True)
        self.head = nn.Linear(decoder_hidden, features)
        self.out = output_activation(out_activation, bounded)
        self.code_size = latent
        init_weights(self, init)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        _, state = self.encoder(to_rows(x))
        h = state[0] if isinstance(state, tuple) else state  # LSTM returns (h, c)
        return h[-1]

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        seq, _ = self.decoder(code.unsqueeze(1).expand(-1, self.steps, -1))
        return from_rows(self.out(self.head(seq)), self.input_shape)

"""Keras-style LSTM autoencoder whose last layer is an LSTM with its own activation, read row by row.

An image is read as H rows of W*C values (RGB interleaved per pixel); a sequence (T, F) as it
is. The encoder is `depth` LSTM layers of latent * 2**(depth-1), ..., 2*latent, latent units
(cell activation `activation`); the last one's final hidden state is the code (`latent`
numbers). It is repeated for every row, passed through depth-1 LSTM layers of `latent` units
and a last LSTM layer with as many units as a row has values, whose activation is
`out_activation` (Keras' `LSTM(F, activation=..., return_sequences=True)` output layer).

The Keras notebooks' models, at their defaults:
- lstm_deep (CIFAR-10, latent 256, depth 2): LSTM(512, seq) -> LSTM(256) -> repeat 32 ->
  LSTM(256, seq) -> LSTM(96, seq, activation=sigmoid); Keras counts 2,695,552 parameters,
  PyTorch 2,699,648: its tanh layers are nn.LSTM, which keeps two bias vectors (4*units more
  per layer: 4 x (512+256+256) = 4,096).
- lstm_sine_report (sine (50, 1), latent 64, depth 1, activation relu): LSTM(64,
  activation=relu) -> repeat 50 -> LSTM(1, activation=sigmoid, seq); 17,160 parameters in both:
  every layer is an ActivationLSTM, with Keras' single bias.
"""
from __future__ import annotations

import torch
from torch import nn

from aebench.core.errors import ConfigError
from aebench.core.models.common import EncoderDecoder, from_rows, output_activation, positive_int, rows_shape, to_rows

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "identity": nn.Identity}


class ActivationLSTM(nn.Module):
    """One LSTM layer (batch first, returns the whole sequence) with Keras' `activation=`.

    `activation` replaces tanh on the cell candidate and on the output: c = f*c + i*act(g),
    h = o*act(c); the gates stay sigmoid. Gate order i, f, g, o and weight shapes as nn.LSTM,
    but one bias vector (as Keras), so with tanh it computes nn.LSTM's function with
    bias = bias_ih + bias_hh. Initialised as Keras: Glorot-uniform input weights, orthogonal
    recurrent weights, zero bias but 1 on the forget gate.
    """

    def __init__(self, input_size: int, hidden_size: int, activation: nn.Module):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.act = activation
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias = nn.Parameter(torch.zeros(4 * hidden_size))
        nn.init.xavier_uniform_(self.weight_ih)
        nn.init.orthogonal_(self.weight_hh)
        with torch.no_grad():
            self.bias[hidden_size:2 * hidden_size] = 1.0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        """(N, T, input_size) -> ((N, T, hidden_size), None), shaped like nn.LSTM's return."""
        n = x.shape[0]
        inputs = nn.functional.linear(x, self.weight_ih, self.bias)  # every step at once
        h = x.new_zeros(n, self.hidden_size)
        c = x.new_zeros(n, self.hidden_size)
        outputs = []
        for t in range(x.shape[1]):
            i, f, g, o = (inputs[:, t] + h @ self.weight_hh.T).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * self.act(g)
            h = torch.sigmoid(o) * self.act(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1), None


class KerasLSTMAutoencoder(EncoderDecoder):
    def __init__(self, input_shape, bounded: bool = True, latent: int = 256, depth: int = 2,
                 activation: str = "tanh", out_activation: str = "auto"):
        super().__init__()
        self.input_shape = tuple(input_shape)
        latent = positive_int("latent", latent)
        depth = positive_int("depth", depth)
        if activation not in ACTIVATIONS:
            raise ConfigError(f"model.net.activation={activation!r} is not accepted; choose one "
                              f"of: " + ", ".join(ACTIVATIONS))
        self.steps, features = rows_shape(self.input_shape)

        def layer(n_in: int, n_out: int) -> nn.Module:  # nn.LSTM (fast) where it is the same
            if activation == "tanh":
                return nn.LSTM(n_in, n_out, batch_first=True)
            return ActivationLSTM(n_in, n_out, ACTIVATIONS[activation]())

        widths = [latent * 2 ** (depth - 1 - i) for i in range(depth)]  # e.g. 512, 256
        sizes = [features, *widths]
        self.encoder = nn.ModuleList(layer(sizes[i], sizes[i + 1]) for i in range(depth))
        self.decoder = nn.ModuleList(layer(latent, latent) for _ in range(depth - 1))
        self.output_layer = ActivationLSTM(latent, features,
                                           output_activation(out_activation, bounded))
        self.code_size = latent

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        seq = to_rows(x)
        for layer in self.encoder:
            seq, _ = layer(seq)
        return seq[:, -1]  # the last layer's final hidden state

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        seq = code.unsqueeze(1).expand(-1, self.steps, -1)
        for layer in self.decoder:
            seq, _ = layer(seq)
        seq, _ = self.output_layer(seq)
        return from_rows(seq, self.input_shape)

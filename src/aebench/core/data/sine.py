"""Sine sequences: x_t = amp * sin(freq * t + phase), t = linspace(0, t_end, length) inclusive.

Each sequence draws freq, phase and amp uniformly from its range (a range with low == high
gives exactly that value), from a torch.Generator seeded with `data_seed`. Items are
(length, 1) float32, not confined to [0, 1] (`bounded = False`); labels are -1.

Test split: with `num_test=None` (default), `test_fraction` of the `num_sequences` sequences
(the last ones drawn) are the test set and the rest is split into train/val by the base
class; with `num_test=N`, all `num_sequences` are train/val and N further sequences are drawn
from the same generator as the test set. No noise is added here (that is a degradation).

Values are computed in float64 (t from numpy.linspace) and rounded once to float32, so the
preset freq 1, phase 0, amp 1 gives exactly `np.sin(np.linspace(0, t_end, length))` as
float32 (torch.sin of a float32 torch.linspace can differ from it by 1 ulp).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from aebench.core.data.base import TensorDataModule
from aebench.core.errors import ConfigError


def _range(name: str, value) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"data.{name}={value!r} must be a pair [low, high] of numbers") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ConfigError(f"data.{name}={[low, high]} must be finite with low <= high")
    return low, high


class SineDataModule(TensorDataModule):
    """Random sine waves, shape (N, length, 1)."""

    name = "sine"
    bounded = False
    num_classes = 0

    def __init__(self, num_sequences: int = 1000, length: int = 50,
                 t_end: float = 2 * math.pi,
                 freq_range=(0.5, 3.0), phase_range=(0.0, 2 * math.pi), amp_range=(0.5, 1.5),
                 num_test: int | None = None, test_fraction: float = 0.2, data_seed: int = 0,
                 **kwargs):
        super().__init__(**kwargs)
        if int(num_sequences) != num_sequences or num_sequences < 1:
            raise ConfigError(f"data.num_sequences={num_sequences!r} must be a positive integer")
        if int(length) != length or length < 1:
            raise ConfigError(f"data.length={length!r} must be a positive integer")
        if not math.isfinite(float(t_end)):
            raise ConfigError(f"data.t_end={t_end!r} must be a finite number")
        if num_test is not None and (int(num_test) != num_test or num_test < 1):
            raise ConfigError(f"data.num_test={num_test!r} must be a positive integer or null "
                              f"(null: hold out data.test_fraction of data.num_sequences)")
        if num_test is None and not 0.0 < float(test_fraction) < 1.0:
            raise ConfigError(f"data.test_fraction={test_fraction!r} must be in (0, 1)")
        self.num_sequences, self.length, self.t_end = int(num_sequences), int(length), float(t_end)
        self.freq_range = _range("freq_range", freq_range)
        self.phase_range = _range("phase_range", phase_range)
        self.amp_range = _range("amp_range", amp_range)
        self.num_test = None if num_test is None else int(num_test)
        self.test_fraction = float(test_fraction)
        self.data_seed = int(data_seed)

    def generate(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n sequences (n, length, 1) float32; parameters drawn in float64 from `generator`."""
        def draw(r):
            low, high = r
            u = torch.rand(n, 1, generator=generator, dtype=torch.float64)
            return torch.full_like(u, low) if low == high else low + (high - low) * u
        freq, phase, amp = draw(self.freq_range), draw(self.phase_range), draw(self.amp_range)
        t = torch.from_numpy(np.linspace(0.0, self.t_end, self.length))  # float64, as numpy
        return (amp * torch.sin(freq * t + phase)).to(torch.float32).unsqueeze(-1)

    def load(self):
        g = torch.Generator().manual_seed(self.data_seed)
        x = self.generate(self.num_sequences, g)
        if self.num_test is None:
            n_test = int(round(self.num_sequences * self.test_fraction))
            if n_test < 1 or n_test >= self.num_sequences:
                raise ConfigError(
                    f"sine: num_sequences={self.num_sequences} with test_fraction="
                    f"{self.test_fraction} leaves no test or no training sequences; raise "
                    f"data.num_sequences or set data.num_test")
            train_x, test_x = x[:-n_test], x[-n_test:]
        else:
            train_x, test_x = x, self.generate(self.num_test, g)
        return (train_x, torch.full((len(train_x),), -1, dtype=torch.int64),
                test_x, torch.full((len(test_x),), -1, dtype=torch.int64))

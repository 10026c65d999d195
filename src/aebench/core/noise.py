"""Library output known to be harmless, kept off a run's screen.

A run should print what a user needs (the config in one line, a progress bar, the score beside
its baseline, the run folder, the W&B line). The libraries add lines a user can do nothing
with; `install()` drops these, and only these:

- Lightning's hints: the `srun` hint (SLURM is installed but this run is not under it), the
  litlogger / litmodels tips, the three "`Trainer(limit_*_batches=1.0)` was configured ..."
  lines, the model-summary and checkpoint-restoring notes, "TPU/HPU available: False";
- deprecation warnings (DeprecationWarning, and FutureWarnings that say "deprecated"): they
  are addressed to the code that calls a library, not to a user;
- matplotlib's "No artists with labels found to put in legend";
- W&B's "The anonymous setting has no effect ..." (Lightning's WandbLogger passes that setting).

Lightning's lines go through its rank-zero loggers (a logging filter), warnings through
`warnings` filters, W&B's warning straight to stderr (a stream that drops a write holding one
of these messages and passes everything else through unchanged). Everything else, errors and
warnings included, still prints. `python -m aebench` (cli.main, cli.job) installs it; tests:
tests/test_wandb.py.
"""
from __future__ import annotations

import logging
import re
import sys
import warnings

#: messages dropped wherever they come from (searched in the text, case-sensitive)
NOISE = (
    r"The `srun` command is available on your system but is not used",
    r"Tip: For seamless cloud (logging|uploads)",  # litlogger / litmodels
    r"`Trainer\(limit_(train|val|test|predict)_batches=1(\.0)?\)` was configured",
    r"Trainer already configured with model summary callbacks",
    r"^(TPU|HPU) available: False",  # GPU available: ... stays
    r"Restoring states from the checkpoint path at",
    r"Loaded model weights from the checkpoint at",
    r"No artists with labels found to put in legend",
    r"The anonymous setting has no effect",
)
_NOISE = re.compile("|".join(f"(?:{n})" for n in NOISE))
#: the loggers Lightning's rank_zero_info / rank_zero_debug write to
LOGGERS = ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero",
           "lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


def is_noise(text: str) -> bool:
    """Whether `text` (a log message, a warning, a write to stderr) is one of `NOISE`."""
    return bool(_NOISE.search(str(text)))


class NoiseFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not is_noise(record.getMessage())


class QuietStream:
    """A text stream that drops each write holding one of `NOISE` (W&B writes a warning and its
    newline in one write) and passes every other write, and every attribute, to `stream`."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        if is_noise(text):
            return len(text)
        return self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)


_FILTER = NoiseFilter()


def install() -> None:
    """Filter the noise in this process from now on (calling it again changes nothing)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=r".*deprecated", category=FutureWarning)
    for message in NOISE:
        warnings.filterwarnings("ignore", message=f".*{message}")
    if not isinstance(sys.stderr, QuietStream) and sys.stderr is not None:
        sys.stderr = QuietStream(sys.stderr)

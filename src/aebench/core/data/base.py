"""In-memory tensor datasets: the common loader behind every aebench data module.

A data module only has to `load()` its tensors; this base splits train/val with a seeded
generator and serves whole batches by tensor indexing (no per-sample Python work, no worker
processes). Batches are `(x, y, idx)`: items, integer labels (-1 when there are none) and each
item's index inside its split, which lets a degradation draw the same noise for an item every epoch.

8-bit images stay uint8 in memory (a quarter of float32's bytes, to copy and to hold) and become
float32 in [0, 1] only after the batch reached its device (`on_after_batch_transfer`, `to_float`).
On a GPU the whole data set is moved to the GPU once (`on_device`), so a batch is one indexing
kernel there and nothing crosses the bus per step.
"""
from __future__ import annotations

import logging

import pytorch_lightning as pl
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, Sampler, SequentialSampler

from aebench.core.errors import ConfigError

log = logging.getLogger("aebench")

#: share of the GPU's free memory the data set may take when `on_device: auto`
_DEVICE_SHARE = 0.5


def to_float(x: torch.Tensor) -> torch.Tensor:
    """Items as the models see them: uint8 -> float32 in [0, 1] (x / 255), float unchanged.

    Every consumer of a data module's tensors (`train_x`, ...) goes through this; batches from
    the loaders get it in `on_after_batch_transfer`, on the device they were moved to.
    """
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)
    return x


class _Batches(Dataset):
    """Tensors indexed by a whole list of indices at once (used with a BatchSampler)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, idx):
        idx = torch.as_tensor(idx, dtype=torch.long)
        return self.x[idx], self.y[idx], idx


class _EpochShuffle(Sampler):
    """Batches of shuffled indices whose order depends only on (seed, epoch), and whose position
    inside the epoch is saved in the checkpoint.

    Lightning calls `set_epoch` before every epoch, so a run resumed from a checkpoint at the
    end of epoch k shuffles epoch k+1 exactly as the uninterrupted run did. A checkpoint written
    inside an epoch (SIGTERM, Ctrl-C) holds `state_dict()`, the epoch and the batches it had
    handed out (Lightning takes no batch ahead from a loader whose length it knows); the resumed
    run's first iteration of that epoch skips them, so it trains on the rest of the same order.
    """

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size, self.seed, self.epoch = n, batch_size, seed, 0
        self.position = 0  # batches handed out in the current epoch
        self._resume: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.n, generator=g)
        skip = self._resume[1] if self._resume and self._resume[0] == self.epoch else 0
        self._resume = None
        self.position = skip
        for i in range(skip * self.batch_size, self.n, self.batch_size):
            self.position += 1
            yield order[i:i + self.batch_size].tolist()

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "batches": self.position}

    def load_state_dict(self, state: dict) -> None:
        self._resume = (int(state["epoch"]), int(state["batches"]))


class _ResumableLoader(DataLoader):
    """The training loader: Lightning saves its `state_dict` in a checkpoint and gives it back
    on resume (the epoch's shuffled order and how far into it the run was)."""

    def state_dict(self) -> dict:
        own = getattr(self.sampler, "state_dict", None)  # under DDP Lightning wraps the sampler
        return own() if own is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if state and hasattr(self.sampler, "load_state_dict"):
            self.sampler.load_state_dict(state)


class TensorDataModule(pl.LightningDataModule):
    """Holds train/val/test tensors in memory; subclasses implement `load()`."""

    #: name used in reports and errors
    name = "data"
    #: True when every value lies in [0, 1] (images); False for unbounded data (e.g. sine)
    bounded = True

    def __init__(self, batch_size: int = 128, eval_batch_size: int | None = None,
                 val_fraction: float = 0.2, seed: int = 42, holdout_class: int | str | None = None,
                 on_device: bool | str = "auto"):
        super().__init__()
        if on_device not in (True, False, "auto"):
            raise ConfigError(f"data.on_device={on_device!r} is not accepted: use auto (move the "
                              "data set to the GPU when it fits), true or false")
        self.on_device = on_device
        if not (isinstance(batch_size, int) and batch_size > 0):
            raise ConfigError(f"data.batch_size={batch_size!r} must be a positive integer")
        if not 0.0 <= float(val_fraction) < 1.0:
            raise ConfigError(f"data.val_fraction={val_fraction!r} must be in [0, 1)")
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or max(batch_size, 256)
        self.val_fraction = float(val_fraction)
        self.seed = int(seed)
        self.train_x = self.train_y = self.val_x = self.val_y = self.test_x = self.test_y = None
        # anomaly detection: this class (index or name) is left out of train and val, kept in test
        self.holdout_class = holdout_class
        self.held_out: int | None = None

    # -- to implement ---------------------------------------------------------------------
    def load(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (train_x, train_y, test_x, test_y); y int64 (-1 if unlabelled).

        x is uint8 for 8-bit images (0..255, turned into [0, 1] per batch on the device) or
        float32 for anything else.
        """
        raise NotImplementedError

    # -- Lightning hooks ------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.train_x is None:
            self._set_splits(*self.load())
        trainer = getattr(self, "trainer", None)
        if trainer is not None:
            self.place(trainer.strategy.root_device)

    def _set_splits(self, train_x, train_y, test_x, test_y) -> None:
        if train_x.dtype not in (torch.uint8, torch.float32):
            raise TypeError(f"{type(self).__name__}.load() returned {train_x.dtype} items; "
                            "return uint8 (8-bit images) or float32")
        n_val = int(round(len(train_x) * self.val_fraction))
        if len(train_x) - n_val < 1 or (self.val_fraction > 0 and n_val < 1):
            raise ConfigError(
                f"{self.name}: {len(train_x)} training items cannot be split with "
                f"val_fraction={self.val_fraction}; provide more data or change data.val_fraction")
        perm = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(self.seed))
        val_idx, tr_idx = perm[:n_val], perm[n_val:]
        self.train_x, self.train_y = train_x[tr_idx].contiguous(), train_y[tr_idx].contiguous()
        self.val_x, self.val_y = train_x[val_idx].contiguous(), train_y[val_idx].contiguous()
        self.test_x, self.test_y = test_x.contiguous(), test_y.contiguous()
        if self.holdout_class is not None:
            k = self._class_index(self.holdout_class)
            for split in ("train", "val"):
                x, y = getattr(self, f"{split}_x"), getattr(self, f"{split}_y")
                keep = y != k
                setattr(self, f"{split}_x", x[keep].contiguous())
                setattr(self, f"{split}_y", y[keep].contiguous())
            self.held_out = k

    def _class_index(self, value) -> int:
        classes = tuple(getattr(self, "classes", ()) or ())
        if not classes:
            raise ConfigError(f"data.holdout_class={value!r}: {self.name} has no class labels to "
                              "hold one out; anomaly detection needs labelled data (cifar10, "
                              "mnist, shapes, folder)")
        if isinstance(value, str) and value in classes:
            return classes.index(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(classes):
            return value
        raise ConfigError(f"data.holdout_class={value!r} is not a class of {self.name}: use an "
                          f"index 0..{len(classes) - 1} or one of {', '.join(map(str, classes))}")

    def place(self, device: torch.device | str) -> bool:
        """Move every split to `device` (a GPU) when `on_device` allows it; True if moved.

        `auto` moves the data when it takes at most half of the GPU's free memory (CIFAR-10 as
        uint8: 184 MB); CPU devices keep it where it is.
        """
        device = torch.device(device)
        if device.type == "cpu" or self.on_device is False or self.train_x.device == device:
            return False
        splits = ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")
        size = sum(getattr(self, k).nbytes for k in splits)
        if self.on_device == "auto" and device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            if size > _DEVICE_SHARE * free:
                log.warning("%s: data set (%.0f MB) kept in host memory: more than %.0f%% of the "
                            "GPU's %.0f MB free; batches are copied per step", self.name, size / 1e6,
                            _DEVICE_SHARE * 100, free / 1e6)
                return False
        for k in splits:
            setattr(self, k, getattr(self, k).to(device))
        log.info("%s: data set (%.0f MB) moved to %s", self.name, size / 1e6, device)
        return True

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """uint8 items become float32 in [0, 1] here, on the device the batch was moved to."""
        x, y, idx = batch
        return to_float(x), y, idx

    @property
    def item_shape(self) -> tuple[int, ...]:
        """One item's shape, known once `setup` has loaded the data (reading it loads nothing)."""
        if self.train_x is None:
            raise RuntimeError(f"{type(self).__name__}.item_shape is known after setup(): call "
                               "setup('fit') first (aebench.core.config.build_data does)")
        return tuple(self.train_x.shape[1:])

    def _loader(self, x, y, batch_size, shuffle):
        ds = _Batches(x, y)
        if shuffle:
            return _ResumableLoader(ds, sampler=_EpochShuffle(len(ds), batch_size, self.seed),
                                    batch_size=None)
        return DataLoader(ds, sampler=BatchSampler(SequentialSampler(ds), batch_size,
                                                   drop_last=False), batch_size=None)

    def train_dataloader(self):
        return self._loader(self.train_x, self.train_y, self.batch_size, shuffle=True)

    def val_dataloader(self):
        if len(self.val_x) == 0:
            return []
        return self._loader(self.val_x, self.val_y, self.eval_batch_size, shuffle=False)

    def test_dataloader(self):
        return self._loader(self.test_x, self.test_y, self.eval_batch_size, shuffle=False)

"""The one LightningModule behind every reconstruction model.

It degrades each clean batch (on the model's device), trains the network to return the clean
batch, and at validation/test scores the network and the task's baseline on the same items:
images get MSE, PSNR (mean of per-image PSNR) and SSIM, all with data_range=1 and outputs
clipped to [0, 1]; sequences get MSE and MAE.
"""
from __future__ import annotations

import contextlib
import math
import time

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection
from torchmetrics.image import PeakSignalNoiseRatio

from aebench.core.baselines import InputBaseline, PCABaseline
from aebench.core.errors import ConfigError
from aebench.core.metrics import SSIM

LOSSES = {
    "mse": F.mse_loss,
    "l1": F.l1_loss,
    "bce": lambda out, x: F.binary_cross_entropy(out.clamp(1e-6, 1 - 1e-6), x),
}


SCHEDULES = ("constant", "cosine", "onecycle")
_STORE_MAX_BYTES = 4 << 30  # largest training set degraded once in host memory (CIFAR-10: 154 MB)


class AutoencoderModule(pl.LightningModule):
    def __init__(self, net: nn.Module, degradation, optimizer=None, loss: str = "mse",
                 lr: float = 1e-3, grad_clip_norm: float | None = None, num_examples: int = 8,
                 channels_last: bool = False, schedule: str = "constant",
                 sigma_weight: float = 0.0):
        """`optimizer`: a factory called with the network's parameters and `lr=lr` (None for
        networks with nothing to train: the classical filters). `schedule`: the learning rate
        over the run's steps: constant; cosine (lr -> 0 by the last step, or
        when trainer.max_time is up if that comes first); onecycle (warm-up to lr
        over the first 30%, then annealed: torch's OneCycleLR). `sigma_weight` > 0: networks that
        estimate each image's blur (`estimate_sigma`, blind restorers) are also trained to match
        the sigma the degradation drew for it (MSE, weighted, logged as train/sigma_loss)."""
        super().__init__()
        if loss not in LOSSES:
            raise ConfigError(f"loss={loss!r} is not accepted; choose one of: {', '.join(LOSSES)}")
        if grad_clip_norm is not None and not (isinstance(grad_clip_norm, (int, float))
                                               and grad_clip_norm > 0):
            raise ConfigError(f"model.grad_clip_norm={grad_clip_norm!r} must be a number > 0 or null")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise ConfigError(f"lr={lr!r} is not accepted: the learning rate must be a number > 0 "
                              "(e.g. lr=1e-3)")
        if schedule not in SCHEDULES:
            raise ConfigError(f"model.schedule={schedule!r} is not accepted; choose one of: "
                              + ", ".join(SCHEDULES))
        self.save_hyperparameters(ignore=["net", "degradation", "optimizer"])
        self.net = net
        # CNNs on the CPU: NHWC weights and inputs (1.39x per cnn_small step here, same values)
        self.channels_last = bool(channels_last) and len(net.input_shape) == 3
        if self.channels_last:
            self.net = net.to(memory_format=torch.channels_last)
        self.degradation = degradation
        self.optimizer_factory = optimizer
        self.loss_fn = LOSSES[loss]
        self.image = len(net.input_shape) == 3
        self.baseline = (InputBaseline() if degradation.restoration
                         else PCABaseline(net.input_shape, net.code_size))
        self.metrics = nn.ModuleDict({f"{split}_{who}": self._metric_collection()
                                      for split in ("val", "test") for who in ("model", "baseline")})
        self._baseline_scores: dict[str, dict[str, torch.Tensor]] = {}
        self.num_examples = num_examples
        self.examples: dict[str, torch.Tensor] | None = None
        self.history: list[dict[str, float]] = []
        self.train_items = 0
        self.train_step_seconds = 0.0
        self.fit_seconds_before = 0.0  # wall time of fitting in earlier attempts (resume)
        self._fit_t0: float | None = None
        self._train_sums: dict = {}  # the epoch's training losses x items (floats on the CPU)
        self._train_count = 0
        self._train_degraded: torch.Tensor | None = None  # _degrade_train_set
        self._first_bad: torch.Tensor | None = None  # first step with a non-finite loss, or -1
        self._drawn: dict = {}  # the strengths the degradation drew for this step's batch
        self.nan_check_every: int | None = None  # None: 1 on CPU, log_every_n_steps on a GPU

    def _metric_collection(self) -> MetricCollection:
        if self.image:
            return MetricCollection({
                "mse": MeanSquaredError(),
                "psnr": PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3)),
                "ssim": SSIM(data_range=1.0),  # torchmetrics' SSIM, 6x faster (aebench.core.metrics)
            })
        return MetricCollection({"mse": MeanSquaredError(), "mae": MeanAbsoluteError()})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The network's output as float32 (under precision=bf16-mixed the network runs in bf16)."""
        with self.weights_cast_once(x):
            if not self.channels_last:
                return self.net(x).float()
            return self.net(x.contiguous(memory_format=torch.channels_last)).contiguous().float()

    @staticmethod
    @contextlib.contextmanager
    def weights_cast_once(x: torch.Tensor):
        """Under trainer.precision=bf16-mixed/16-mixed: each weight cast to the low precision
        once per forward pass. Lightning runs the step under autocast with its cast cache off,
        so a layer applied at every time step (nn.RNN here) re-casts its weights at each one:
        +1.3 ms per `rnn` step at batch 128 on this CPU (docs/performance.md). The cache is
        emptied when the forward pass ends, as a plain loop's autocast block would empty it."""
        dev = x.device.type
        if not torch.is_autocast_enabled(dev) or torch.is_autocast_cache_enabled():
            yield
            return
        try:
            with torch.autocast(dev, dtype=torch.get_autocast_dtype(dev), cache_enabled=True):
                yield
        finally:
            torch.clear_autocast_cache()

    @staticmethod
    def _fp32(x: torch.Tensor):
        """Autocast off (trainer.precision=bf16-mixed / 16-mixed runs every step under it): the
        degradations, baselines and metrics are defined in float32 and stay there."""
        return torch.autocast(device_type=x.device.type, enabled=False)

    def configure_optimizers(self):
        if self.optimizer_factory is None:
            raise ConfigError("this model has nothing to train (a classical filter): it is tuned "
                              "and tested, never fitted")
        opt = self.optimizer_factory(self.net.parameters(), lr=self.hparams.lr)
        trainer = self._trainer
        if (opt.defaults.get("fused") and trainer is not None and "mixed" in str(trainer.precision)
                and (self.hparams.grad_clip_norm or trainer.gradient_clip_val)):
            # Lightning's mixed-precision plugin refuses to clip with a fused optimizer (even
            # bf16's, which has no loss scale to undo): clip with the unfused one, same algorithm
            opt = self.optimizer_factory(self.net.parameters(), lr=self.hparams.lr, fused=False)
        schedule = self.hparams.get("schedule", "constant")
        if schedule == "constant" or self._trainer is None:  # a schedule needs the run's length
            return opt
        total = max(int(self.trainer.estimated_stepping_batches), 1)  # the run's optimizer steps
        if schedule == "cosine":
            timer = self._time_budget()

            def progress(step: int) -> float:  # the run's steps, or its time budget if sooner
                done = min(step, total) / total
                if timer is not None:
                    elapsed = timer.time_elapsed("train")
                    done = max(done, min(elapsed / (elapsed + timer.time_remaining("train")), 1.0))
                return done
            sched = torch.optim.lr_scheduler.LambdaLR(
                opt, lambda step: 0.5 * (1 + math.cos(math.pi * progress(step))))
        else:
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.hparams.lr, total_steps=total + 1)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def _time_budget(self):
        """Lightning's Timer when the run has a time budget (trainer.max_time), else None: the
        cosine schedule then reaches 0 when the time is up (or at the last step, if sooner)."""
        from pytorch_lightning.callbacks import Timer

        for cb in getattr(self._trainer, "callbacks", []) if self._trainer is not None else []:
            if isinstance(cb, Timer) and cb.time_remaining("train") is not None:
                return cb
        return None

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None,
                                    gradient_clip_algorithm=None):
        """The model config's `grad_clip_norm` applies unless the trainer sets its own clipping."""
        if gradient_clip_val is None and self.hparams.grad_clip_norm:
            gradient_clip_val, gradient_clip_algorithm = self.hparams.grad_clip_norm, "norm"
        if gradient_clip_val is not None:  # nothing to clip: skip Lightning's checks (~28 us)
            self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)

    # -- training -------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        # before fit, or before test when there is no training (non-learned rows)
        if isinstance(self.baseline, PCABaseline) and not self.baseline.fitted:
            dm = self.trainer.datamodule  # its batch hook makes items float (uint8 data)
            self.baseline.fit(dm.on_after_batch_transfer(b, 0) for b in dm.train_dataloader())

    def on_fit_start(self) -> None:
        self._fit_t0 = time.perf_counter()

    def fit_seconds(self) -> float:
        """Wall time spent fitting, this attempt and those before a resume together."""
        now = 0.0 if self._fit_t0 is None else time.perf_counter() - self._fit_t0
        return self.fit_seconds_before + now

    def on_train_batch_start(self, batch, batch_idx):
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.train_step_seconds += time.perf_counter() - self._t0

    def training_loss(self, degraded: torch.Tensor, x: torch.Tensor):
        """(loss, output, extra terms to log as train/<name>); override where the objective differs."""
        out = self(degraded)
        with self._fp32(x):  # losses in float32 (CUDA autocast refuses bce)
            loss, terms = self.loss_fn(out, x), {}
            sigma = self._drawn.get("sigma")
            if self.hparams.get("sigma_weight") and sigma is not None and hasattr(self.net, "estimate_sigma"):
                terms["sigma_loss"] = F.mse_loss(self.net.estimate_sigma(degraded).float(),
                                                 sigma.to(out.device, torch.float32))
                loss = loss + self.hparams.sigma_weight * terms["sigma_loss"]
            return loss, out, terms

    def on_train_start(self) -> None:
        self._train_degraded = self._degrade_train_set()

    def on_train_end(self) -> None:
        self._train_degraded = None

    def _degrade_train_set(self) -> torch.Tensor | None:
        """The training split degraded once, as uint8 indexed like the split, when the
        degradation gives an item the same result at every epoch (a fixed blur with 8-bit
        rounding, no noise: `Degradation.same_every_epoch`) and the data sits on the model's
        device; else None. Each step then reads its batch's degraded items instead of
        degrading them again (CIFAR-10, 128 images, this CPU: 0.19 ms to read, 0.43 ms to blur),
        as a Keras notebook blurs its arrays once. The same values: uint8 holds 8-bit levels
        exactly. Built in 0.5-0.6 s for CIFAR-10's 50,000 images; as large as the data itself."""
        dm = self.trainer.datamodule
        data = getattr(dm, "train_x", None)
        if (data is None or data.device != self.device
                or not getattr(self.degradation, "same_every_epoch", lambda: False)()):
            return None
        room = (torch.cuda.mem_get_info(self.device)[0] // 4 if self.device.type == "cuda"
                else _STORE_MAX_BYTES)
        if data.numel() > room:  # a copy of the data per uint8 item: not where memory is tight
            return None
        with torch.no_grad(), self._fp32(data):  # the data module's batch hook makes items float
            return self.degradation.levels(
                data, "train", lambda x: dm.on_after_batch_transfer((x, None, None), 0)[0])

    def training_step(self, batch, batch_idx):
        x, _, idx = batch
        if self._train_degraded is not None:  # degraded once, at the start of training
            degraded = self._train_degraded[idx].float().div_(255.0)
        else:
            with self._fp32(x):
                degraded = self.degradation(x, idx, "train", params=self._drawn)
        loss, out, terms = self.training_loss(degraded, x)
        self._drawn = {}
        if self.hparams.loss == "bce" and self.global_step == 0 and batch_idx == 0:
            lo, hi = out.min().item(), out.max().item()
            if lo < 0 or hi > 1:
                raise ConfigError(
                    f"loss=bce needs outputs in [0, 1], but this network's first outputs span "
                    f"[{lo:.3g}, {hi:.3g}]: set model.net.out_activation=sigmoid (or use loss=mse)")
        self._watch_loss(loss, terms, batch_idx)
        self._log_train({"loss": loss, **terms}, len(x), batch_idx)
        self.train_items += len(x)
        return loss

    def _log_train(self, values: dict, n: int, batch_idx: int) -> None:
        """train/<name>_step at the steps the loggers write (every `log_every_n_steps`) and at an
        epoch's last batch; train/<name>_epoch, the epoch's mean over items, at its end.

        What `self.log(on_step=True, on_epoch=True)` on every step gives, summed here on the
        device instead: Lightning's log call costs ~0.6 ms a step on this CPU (4% of an lstm step
        at batch 64, docs/performance.md). On the CPU the sums are host floats (reading a CPU
        tensor waits for nothing; two tensor ops took ~45 us a step)."""
        cpu = next(iter(values.values())).device.type == "cpu"
        for name, value in values.items():
            add = value.item() * n if cpu else value.detach().float() * n
            self._train_sums[name] = self._train_sums.get(name, 0) + add
        self._train_count += n
        trainer = self._trainer
        every = trainer.log_every_n_steps if trainer is not None else 1
        if ((every and (self.global_step + 1) % every == 0) or trainer is None or trainer.should_stop
                or batch_idx + 1 >= trainer.num_training_batches):
            # copied to the host here, once per logging step: Lightning reads progress-bar values
            # with .item() at every step, which on a GPU would wait for the step to finish
            host = dict(zip(values, torch.stack([v.detach().float() for v in values.values()]).cpu()))
            self.log("train/loss_step", host.pop("loss"), prog_bar=True)
            self.log_dict({f"train/{k}_step": v for k, v in host.items()})

    def _watch_loss(self, loss: torch.Tensor, terms: dict, batch_idx: int) -> None:
        """FloatingPointError naming the first step whose loss was not finite.

        Reading the loss on the host waits for the GPU, so on an accelerator the check runs
        every `log_every_n_steps` steps (when logging reads it anyway) and on an epoch's last
        batch (before any checkpoint of the epoch is written); the first bad step is recorded on
        the device meanwhile. On the CPU it runs every step (no wait to save).
        """
        if loss.device.type == "cpu" and self.nan_check_every is None:  # no wait to save: now
            if not math.isfinite(loss.item()):
                self._raise_nan(loss, terms, self.global_step)
            return
        bad = ~torch.isfinite(loss.detach())
        if self._first_bad is None or self._first_bad.device != loss.device:
            self._first_bad = torch.full((), -1, dtype=torch.long, device=loss.device)
        self._first_bad = torch.where(bad & (self._first_bad < 0), self.global_step,
                                      self._first_bad)
        trainer = self._trainer
        every = self.nan_check_every or (1 if trainer is None else max(1, trainer.log_every_n_steps))
        last = trainer is not None and batch_idx + 1 >= trainer.num_training_batches
        if self.global_step % every and not last:
            return
        first = int(self._first_bad)
        if first >= 0:
            self._raise_nan(loss, terms, first)

    @staticmethod
    def _raise_nan(loss: torch.Tensor, terms: dict, step: int):
        detail = "".join(f", {k} {v.item():.4g}" for k, v in terms.items())
        raise FloatingPointError(f"training loss became {loss.item()} at step {step}{detail}; "
                                 "the learning rate may be too high (try lr=1e-4)")

    # -- resume: what a checkpoint must carry besides weights, optimiser and loop counters -----
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """RNG states (training noise, dropout) and the epoch history, so that a resumed CPU run
        continues exactly as the uninterrupted one would (all plain tensors/floats:
        loadable with weights_only=True)."""
        checkpoint["aebench"] = {
            "rng_torch": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
            "history": self.history, "train_items": self.train_items,
            "train_step_seconds": self.train_step_seconds, "fit_seconds": self.fit_seconds(),
            "train_sums": {k: torch.as_tensor(v, dtype=torch.float64).cpu()  # mid-epoch saves
                           for k, v in self._train_sums.items()},
            "train_count": self._train_count}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint.get("aebench")
        trainer = self._trainer
        if not state or (trainer is not None and trainer.state.fn != "fit"):
            return  # testing on the best checkpoint: its weights only, the run's history stays
        torch.set_rng_state(state["rng_torch"])
        if state["rng_cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        self.history = list(state["history"])
        self.train_items = state["train_items"]
        self.train_step_seconds = state["train_step_seconds"]
        self.fit_seconds_before = float(state.get("fit_seconds", 0.0))
        self._train_sums = {k: float(v) if self.device.type == "cpu" else v.to(self.device).float()
                            for k, v in state.get("train_sums", {}).items()}
        self._train_count = state.get("train_count", 0)

    def on_train_epoch_end(self) -> None:
        """One row per epoch: the training loss and every validation score (loss curve, the
        tested epoch's scores in metrics.json and W&B's summary)."""
        if self._train_count:  # logged from here, callback_metrics has them below
            self.log_dict({f"train/{k}_epoch": v / self._train_count
                           for k, v in self._train_sums.items()}, prog_bar=False)
        self._train_sums, self._train_count = {}, 0
        m = self.trainer.callback_metrics
        row = {"epoch": self.current_epoch}
        row.update({k: float(v) for k, v in m.items()
                    if k == "train/loss_epoch" or k.startswith("val/")})
        self.history.append(row)

    # -- evaluation -----------------------------------------------------------------------
    def _eval_step(self, batch, split: str, batch_idx: int):
        x, _, idx = batch
        with self._fp32(x):
            degraded = self.degradation(x, idx, split)
        out = self(degraded)  # the only part under autocast, if any
        with self._fp32(x):
            self.log(f"{split}/loss", self.loss_fn(out, x), on_epoch=True, batch_size=len(x),
                     prog_bar=split == "val")
            base = self.baseline(degraded)
            if self.image:
                out, base = out.clamp(0, 1), base.clamp(0, 1)
            self.metrics[f"{split}_model"].update(out, x)
            if split not in self._baseline_scores:
                self.metrics[f"{split}_baseline"].update(base, x)
        if split == "test" and self.examples is None:
            k = self.num_examples
            self.examples = {"clean": x[:k].cpu(), "degraded": degraded[:k].cpu(),
                             "output": out[:k].detach().cpu(), "baseline": base[:k].cpu()}

    def _log_scores(self, split: str) -> None:
        model = {k: v for k, v in self.metrics[f"{split}_model"].compute().items()}
        self.metrics[f"{split}_model"].reset()
        if split not in self._baseline_scores:  # the baseline's scores never change: compute once
            self._baseline_scores[split] = self.metrics[f"{split}_baseline"].compute()
            self.metrics[f"{split}_baseline"].reset()
        base = self._baseline_scores[split]
        scores = {f"{split}/{k}": v for k, v in model.items()}
        scores.update({f"{split}/baseline_{k}": v for k, v in base.items()})
        if "psnr" in model:
            scores[f"{split}/psnr_gain"] = model["psnr"] - base["psnr"]
        self.log_dict(scores, prog_bar=False)

    def validation_step(self, batch, batch_idx):
        self._eval_step(batch, "val", batch_idx)

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self._log_scores("val")
        else:
            self.metrics["val_model"].reset()
            self.metrics["val_baseline"].reset()

    def test_step(self, batch, batch_idx):
        self._eval_step(batch, "test", batch_idx)

    def on_test_epoch_end(self) -> None:
        self._log_scores("test")

"""What a W&B run shows while it trains: the same validation items every epoch, and at test a
table of test items with their scores.

`WandbMedia` is a Lightning callback (conf/callbacks/none.yaml, so every run has it); it does
nothing unless the run's logger is W&B. Each validation epoch it logs `val/examples`: for a
fixed set of validation items (the first `num_val_items`, the same every epoch) one picture per
item, clean | degraded | output side by side (sequences: a line plot of the three), so W&B's
step slider shows the model learning. At the end of the test pass it logs `test/items`, a
`wandb.Table` of the first `num_test_items` test items: the three pictures, per-item PSNR/SSIM
(MSE/MAE for sequences) of the output and of the baseline, and the gain over the baseline
(dB; for sequences the baseline's MSE over the model's, in dB: metrics.gain_db).

It also tells W&B to summarise validation scores by their best epoch (`loggers.define_metrics`);
the tested epoch's scores come from the module's epoch history (`train.run`).
"""
from __future__ import annotations

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback

from aebench.core.data.base import to_float
from aebench.running.loggers import define_metrics, wandb_run
from aebench.core.metrics import gain_db, psnr_of_mse, ssim_per_image


def _per_item_psnr(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return psnr_of_mse((out - x).pow(2).flatten(1).mean(1))


def _side_by_side(*images: torch.Tensor, scale: int = 1):
    """(C, H, W) images in [0, 1] -> one uint8 HxWx3 (or HxW) array, 2 px white gaps between."""
    import numpy as np

    parts = []
    for i, img in enumerate(images):
        a = img.float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
        if scale > 1:
            a = a.repeat(scale, 0).repeat(scale, 1)
        if i:
            parts.append(np.ones((a.shape[0], 2, a.shape[2]), dtype=a.dtype))
        parts.append(a)
    a = (np.concatenate(parts, axis=1) * 255).round().astype("uint8")
    return a[..., 0] if a.shape[-1] == 1 else a


def _line_plot(clean: torch.Tensor, degraded: torch.Tensor, output: torch.Tensor, title: str = ""):
    """A small figure of one sequence (length, features): degraded dots, clean and output lines;
    returned as an RGB array (a picture W&B can step through like the images)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(3.2, 2.2), dpi=80)
    ax.plot(degraded[:, 0].cpu().numpy(), ".", color="0.6", ms=3, label="degraded")
    ax.plot(clean[:, 0].cpu().numpy(), "-", color="k", lw=1, label="clean")
    ax.plot(output[:, 0].cpu().numpy(), "-", color="C1", lw=1.2, label="output")
    ax.set_xticks([])
    if title:
        ax.set_title(title, fontsize=7)
    ax.legend(fontsize=5, loc="upper right")
    fig.tight_layout()
    fig.canvas.draw()
    a = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return a


class WandbMedia(Callback):
    """Fixed validation items each epoch and a table of test items, for a W&B logger only."""

    def __init__(self, num_val_items: int = 8, num_test_items: int = 64, scale: int = 2):
        self.num_val_items = int(num_val_items)
        self.num_test_items = int(num_test_items)
        self.scale = int(scale)  # pixels per pixel in the pictures (32 px items are tiny)

    # -- hooks ------------------------------------------------------------------------------
    def setup(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        if stage == "fit" and trainer.is_global_zero and (run := self._run(trainer)) is not None:
            define_metrics(run)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        run = self._run(trainer)
        if run is None or self.num_val_items <= 0:
            return
        items = self._items(trainer, pl_module, "val", self.num_val_items)
        if items is None:
            return
        import wandb

        pics = [wandb.Image(p, caption=c) for p, c in zip(*self._pictures(items))]
        run.log({"val/examples": pics, "trainer/global_step": trainer.global_step})

    def on_test_end(self, trainer: pl.Trainer, pl_module) -> None:
        run = self._run(trainer)
        if run is None or not trainer.is_global_zero or self.num_test_items <= 0:
            return
        items = self._items(trainer, pl_module, "test", self.num_test_items)
        if items is None:
            return
        import wandb

        x, degraded, out, base = items["clean"], items["degraded"], items["output"], items["baseline"]
        if x.ndim == 4:
            cols = ["item", "clean", "degraded", "output", "psnr", "ssim", "baseline_psnr",
                    "baseline_ssim", "psnr_gain"]
            psnr, bpsnr = _per_item_psnr(out, x), _per_item_psnr(base, x)
            ssim, bssim = ssim_per_image(out, x), ssim_per_image(base, x)
            rows = [[i, wandb.Image(_side_by_side(x[i], scale=self.scale)),
                     wandb.Image(_side_by_side(degraded[i], scale=self.scale)),
                     wandb.Image(_side_by_side(out[i], scale=self.scale)),
                     float(psnr[i]), float(ssim[i]), float(bpsnr[i]), float(bssim[i]),
                     float(psnr[i] - bpsnr[i])] for i in range(len(x))]
        else:
            cols = ["item", "plot", "mse", "mae", "baseline_mse", "baseline_mae", "gain_db"]
            mse = (out - x).pow(2).flatten(1).mean(1)
            bmse = (base - x).pow(2).flatten(1).mean(1)
            mae, bmae = (out - x).abs().flatten(1).mean(1), (base - x).abs().flatten(1).mean(1)
            rows = [[i, wandb.Image(_line_plot(x[i], degraded[i], out[i])), float(mse[i]),
                     float(mae[i]), float(bmse[i]), float(bmae[i]),
                     gain_db(float(bmse[i]), float(mse[i]))]
                    for i in range(len(x))]
        run.log({"test/items": wandb.Table(columns=cols, data=rows)})

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _run(trainer: pl.Trainer):
        return next((r for r in map(wandb_run, trainer.loggers) if r is not None), None)

    @staticmethod
    @torch.no_grad()
    def _items(trainer: pl.Trainer, pl_module, split: str, n: int) -> dict | None:
        """The first `n` items of `split` as the model sees them: clean, degraded (the split's
        fixed degradation), the model's output and the baseline's (images clipped to [0, 1])."""
        dm = trainer.datamodule
        data = getattr(dm, f"{split}_x", None)
        if data is None or len(data) == 0:
            return None
        x = to_float(data[:n]).to(pl_module.device)
        idx = torch.arange(len(x), device=pl_module.device)
        was_training = pl_module.training
        pl_module.eval()
        try:
            with pl_module._fp32(x):
                degraded = pl_module.degradation(x, idx, split)
            out = pl_module(degraded)
            with pl_module._fp32(x):
                base = pl_module.baseline(degraded)
        finally:
            pl_module.train(was_training)
        if x.ndim == 4:
            out, base = out.clamp(0, 1), base.clamp(0, 1)
        return {"clean": x.cpu(), "degraded": degraded.cpu(), "output": out.float().cpu(),
                "baseline": base.float().cpu()}

    def _pictures(self, items: dict) -> tuple[list, list]:
        x, degraded, out = items["clean"], items["degraded"], items["output"]
        if x.ndim == 4:
            psnr = _per_item_psnr(out, x)
            return ([_side_by_side(x[i], degraded[i], out[i], scale=self.scale)
                     for i in range(len(x))],
                    [f"item {i}: clean | degraded | output, {float(psnr[i]):.2f} dB"
                     for i in range(len(x))])
        mse = (out - x).pow(2).flatten(1).mean(1)
        return ([_line_plot(x[i], degraded[i], out[i], f"item {i}, MSE {float(mse[i]):.4g}")
                 for i in range(len(x))],
                [f"item {i}: clean, degraded, output" for i in range(len(x))])

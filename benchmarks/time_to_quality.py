"""Minutes of training to a restorer better than the classical one: CIFAR-10, blur 1.0, 8-bit.

    python benchmarks/time_to_quality.py --data-dir DIR [--models unet,wiener_unet]
        [--minutes 15] [--probe-every 0.25] [--test-items 10000] [--out FILE.json] [OVERRIDES ...]

Each model trains through aebench's own parts (the config `python -m aebench model=NAME
data=cifar10 blur=1.0` builds, plus OVERRIDES) for `--minutes` of training time, with the
learning-rate schedule of `schedule=cosine` run over that budget. Every `--probe-every` of an
epoch the clock stops and the model is scored on the test split (mean per-image PSNR, outputs
clipped to [0, 1], as the module scores it, under the run's precision). Printed per model: the
training time (probes excluded) at which test PSNR first reaches 34.99 dB (the Wiener filter
told sigma, docs/results.md), 36.0 and 37.5 (and 38, 39), and the PSNR-vs-time curve. The
models run one after the other on this machine, each with the same torch thread count.
`--out` writes the curves as JSON (and the last weights of each model beside it, for the
pretrained set: FILE.<model>.pt, a plain state_dict).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

THRESHOLDS = (34.99, 36.0, 37.5, 38.0, 39.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], usage=__doc__.split("\n\n")[1])
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--models", default="unet,wiener_unet")
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--probe-every", type=float, default=0.25, help="fraction of an epoch")
    ap.add_argument("--test-items", type=int, default=10000)
    ap.add_argument("--precision", default="32-true", help="bf16-mixed only where the CPU has native bf16")
    ap.add_argument("--out", type=Path)
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args(argv)
    if args.minutes <= 0 or not 0 < args.probe_every <= 1 or args.test_items < 1:
        ap.error("--minutes must be > 0, --probe-every in (0, 1], --test-items >= 1")

    import pytorch_lightning as pl
    import torch
    from pytorch_lightning.callbacks import Timer

    from aebench.core.config import build_parts, compose
    from aebench.core.metrics import psnr_per_image

    class ProbeClock(Timer):
        """Lightning's Timer (so the module's cosine schedule runs over the budget) whose clock
        leaves out the time spent probing, and which scores the test split every `every` steps."""

        def __init__(self, seconds, every, clean, degraded, precision):
            super().__init__(duration={"seconds": seconds}, interval="step")
            self.every, self.clean, self.degraded = every, clean, degraded
            self.precision, self.paused, self.curve = precision, 0.0, []

        def time_elapsed(self, stage="train"):
            return super().time_elapsed(stage) - (self.paused if stage == "train" else 0.0)

        def on_train_batch_end(self, trainer, module, *a, **k):
            if (trainer.global_step % self.every == 0) or self.time_remaining() <= 0:
                t0 = time.monotonic()
                self.curve.append(self.probe(trainer, module))
                self.paused += time.monotonic() - t0
            super().on_train_batch_end(trainer, module, *a, **k)

        @torch.no_grad()
        def probe(self, trainer, module):
            was = module.training
            module.eval()
            scores = []
            bf16 = "bf16" in self.precision
            for i in range(0, len(self.clean), 500):
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    out = module(self.degraded[i:i + 500])
                scores.append(psnr_per_image(out.float().clamp(0, 1), self.clean[i:i + 500]))
            module.train(was)
            row = {"seconds": round(self.time_elapsed(), 1), "step": trainer.global_step,
                   "epoch": round(trainer.global_step / trainer.num_training_batches, 3),
                   "test_psnr": round(torch.cat(scores).mean().item(), 3)}
            print(f"  {row['seconds']:7.1f} s  step {row['step']:6d}  epoch {row['epoch']:6.2f}  "
                  f"test PSNR {row['test_psnr']:.2f} dB", flush=True)
            return row

    results = {}
    for name in [m for m in args.models.split(",") if m]:
        given = {o.split("=", 1)[0] for o in args.overrides}  # OVERRIDES replace these defaults
        overrides = [o for o in (f"model={name}", "data=cifar10", f"data.root={args.data_dir}",
                                 "blur=1.0", "schedule=cosine", "logger=none",
                                 "trainer.max_epochs=1000", f"trainer.precision={args.precision}")
                     if o.split("=", 1)[0] not in given] + list(args.overrides)
        cfg = compose(overrides, output_dir=f"/tmp/time_to_quality/{name}").cfg
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
        dm, degradation, net, module = build_parts(cfg)
        dm.setup("test")
        from aebench.core.data.base import to_float

        clean = to_float(dm.test_x[:args.test_items])
        degraded = degradation(clean, torch.arange(len(clean)), "test")
        every = max(1, round(args.probe_every * len(dm.train_dataloader())))
        clock = ProbeClock(args.minutes * 60, every, clean, degraded, args.precision)
        trainer = pl.Trainer(max_epochs=1000, accelerator="cpu", precision=args.precision,
                             logger=False, enable_checkpointing=False, enable_model_summary=False,
                             enable_progress_bar=False, num_sanity_val_steps=0,
                             limit_val_batches=0, callbacks=[clock])
        print(f"{name}: {sum(p.numel() for p in net.parameters())} parameters, batch "
              f"{cfg.data.batch_size}, lr {cfg.model.lr}, {args.minutes:g} min of training, "
              f"torch threads {torch.get_num_threads()}; python -m aebench "
              + " ".join(overrides), flush=True)
        trainer.fit(module, datamodule=dm)
        reached = {f"{t:g}": next((r["seconds"] for r in clock.curve if r["test_psnr"] >= t), None)
                   for t in THRESHOLDS}
        results[name] = {"overrides": overrides, "curve": clock.curve, "reached_seconds": reached,
                         "final_test_psnr": clock.curve[-1]["test_psnr"] if clock.curve else None}
        if args.out:
            torch.save(net.state_dict(), f"{args.out}.{name}.pt")
    base = (degraded.clamp(0, 1), clean)
    print(f"\nCIFAR-10 test split ({len(clean)} images), {degradation.describe()}; degraded input "
          f"{psnr_per_image(*base).mean().item():.2f} dB; the thresholds are blur 1.0 8-bit's "
          "(34.99 dB: the told Wiener filter, docs/results.md)")
    print("training time (s, probes excluded) at which test PSNR first reaches:")
    print(f"{'model':<16}" + "".join(f"{t:>9g}" for t in THRESHOLDS) + "    final")
    for name, r in results.items():
        cells = "".join(f"{'-' if r['reached_seconds'][f'{t:g}'] is None else r['reached_seconds'][f'{t:g}']:>9}"
                        for t in THRESHOLDS)
        print(f"{name:<16}{cells}  {r['final_test_psnr']:.2f}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    from aebench.core.errors import ConfigError

    try:
        sys.exit(main())
    except ConfigError as err:  # bad input (a run, the data folder): one line, exit 2
        print(f"{Path(__file__).name}: error: {err}", file=sys.stderr)
        sys.exit(2)

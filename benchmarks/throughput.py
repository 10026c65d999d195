"""Training throughput of aebench's real path against a bare PyTorch loop, in one process.

    .venv/bin/python benchmarks/throughput.py                       # lstm_seq lstm cnn_small unet
    .venv/bin/python benchmarks/throughput.py --models cnn_small --steps 40 --rounds 3
    .venv/bin/python benchmarks/throughput.py --data cifar10 --data-dir /work/data
    .venv/bin/python benchmarks/throughput.py --floor     # Lightning's own cost per step

For each model config, on CIFAR-10-shaped data (default: the procedural shapes, 3 x 32 x 32,
float32 in memory; `--data cifar10 --data-dir DIR`: the real set, uint8 in memory), blur 1.0 and
8-bit rounding, train N steps two ways, alternating rounds:
  (a) aebench: the composed config's LightningModule + Trainer + DataModule + degradation
      (no logger, no checkpointing, no validation: the training path only);
  (b) bare: the same network object, the same batches as tensors, the same optimiser, blur and
      loss, gradient clipping as configured, no Lightning.
Prints images/s for each, the ratio a/b of the time per step (goal <= 1.10), the test pass
(images/s of `trainer.test` over the test split, PSNR/SSIM/MSE of model and baseline included)
and the first and second validation pass of a fit (the second reads cached degraded batches).
"""
from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings

import torch

def compose(model: str, batch_size: int | None, n_train: int, n_test: int,
            data: str = "shapes", data_dir: str | None = None, extra: tuple | list = ()):
    """The model's run config; `extra`: more overrides (keras_compare.py's levers)."""
    from aebench.core.config import compose as compose_config

    over = [f"model={model}", "logger=none", "callbacks=none"]
    if data == "shapes":  # procedural, float32 in memory
        over += ["data=shapes", f"data.num_train={n_train}", f"data.num_test={n_test}"]
    else:  # real data: uint8 in memory, converted per batch
        over += [f"data={data}", "data.download=false"] + ([f"paths.data_dir={data_dir}"]
                                                           if data_dir else [])
    if batch_size:
        over.append(f"data.batch_size={batch_size}")
    return compose_config(over + list(extra), "/tmp/aebench-throughput").cfg


def build(cfg):
    from aebench.core.config import build_parts

    return build_parts(cfg)


def _clock(times: list, first: int):
    """A callback appending the time when batch `first` starts and when training ends."""
    import pytorch_lightning as pl

    class Clock(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if batch_idx == first:
                times.append(time.perf_counter())

        def on_train_end(self, trainer, pl_module):
            times.append(time.perf_counter())

    return Clock()


def aebench_steps(cfg, module, dm, steps: int) -> float:
    """Seconds per step of trainer.fit over `steps` steps (after 3 warm-up steps)."""
    from aebench.core.config import build as inst

    times = []
    trainer = inst(cfg.trainer, max_epochs=1, limit_train_batches=steps + 3, limit_val_batches=0,
                   logger=False, callbacks=[_clock(times, 3)], enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   default_root_dir="/tmp/aebench-throughput")
    trainer.fit(module, datamodule=dm)
    return (times[1] - times[0]) / steps


def bare_steps(cfg, net, deg, dm, steps: int, channels_last: bool = False,
               autocast: bool = False, compiled: bool = False, with_loss: bool = False):
    """Seconds per step of a plain loop: same net, batches, optimiser, blur, loss, clipping.

    A degradation that is the same at every epoch is applied once to the training set and read
    per step, as aebench does. Options (benchmarks/cpu_options.py): NHWC inputs, bf16 autocast, torch.compile. With
    `with_loss`, returns (seconds per step, mean loss over the timed steps)."""
    from hydra.utils import instantiate

    try:
        from aebench.core.data.base import to_float
    except ImportError:  # an aebench from before uint8 data (to time the old code alike)
        def to_float(x):
            return x

    fn = torch.compile(net) if compiled else net
    store = None  # aebench degrades the training set once when every epoch would degrade it alike
    if getattr(deg, "same_every_epoch", lambda: False)():  # (AutoencoderModule._degrade_train_set)
        store = deg.levels(dm.train_x, "train", to_float)
    opt = instantiate(cfg.optimizer)(net.parameters(), lr=cfg.model.lr)
    clip = cfg.model.get("grad_clip_norm")
    bs = cfg.data.batch_size
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(dm.train_x), generator=g)
    net.train()
    t0, losses = None, []
    for step in range(steps + 3):
        if step == 3:
            t0 = time.perf_counter()
        idx = order[(step * bs) % len(order):][:bs]
        x = to_float(dm.train_x[idx])  # what the data module's batch hook does
        inp = deg(x, idx, "train") if store is None else store[idx].float().div_(255.0)
        if channels_last:  # the same memory format as the module uses (model.channels_last)
            inp = inp.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out = fn(inp)
        loss = torch.nn.functional.mse_loss(out.float().contiguous(), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        if with_loss and step >= 3:
            losses.append(loss.item())
    seconds = (time.perf_counter() - t0) / steps
    return (seconds, sum(losses) / len(losses)) if with_loss else seconds


def lightning_floor(steps: int = 2000, precision: str = "32-true") -> tuple[float, float]:
    """Seconds per step of Lightning's own loop and of a bare loop, for a model with next to
    nothing to compute (one 8-number weight, batches of 4 rows from a tensor through a
    DataLoader, SGD): what Lightning adds to every step of every model on this machine."""
    import pytorch_lightning as pl
    from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

    data = torch.rand(steps * 4 + 100, 8)

    def loader():
        return DataLoader(data, sampler=BatchSampler(SequentialSampler(data), 4, drop_last=False),
                          batch_size=None)

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(8))

        def training_step(self, batch, batch_idx):
            return (batch * self.w).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    times = []
    pl.Trainer(max_epochs=1, limit_train_batches=steps + 10, logger=False, callbacks=[_clock(times, 10)],
               enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
               accelerator="cpu", precision=precision).fit(Tiny(), loader())
    tiny = Tiny()
    opt = tiny.configure_optimizers()
    batches = iter(loader())
    for step in range(steps + 10):
        if step == 10:
            t0 = time.perf_counter()
        loss = tiny.training_step(next(batches), step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (times[1] - times[0]) / steps, (time.perf_counter() - t0) / steps


def test_pass(cfg, module, dm) -> float:
    from aebench.core.config import build as inst

    trainer = inst(cfg.trainer, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   default_root_dir="/tmp/aebench-throughput")
    trainer.test(module, datamodule=dm, verbose=False)  # warm-up (first calls, allocations)
    module._baseline_scores.clear()  # a real test pass scores the baseline too: time it
    start = time.perf_counter()
    trainer.test(module, datamodule=dm, verbose=False)
    return len(dm.test_x) / (time.perf_counter() - start)


def val_epochs(cfg, module, dm) -> tuple[float, float]:
    """Seconds of the first and second validation pass of one fit (the second reads the cached
    degraded batches; each pass scores the model with PSNR/SSIM/MSE)."""
    import pytorch_lightning as pl

    from aebench.core.config import build as inst

    spans = []

    class Clock(pl.Callback):
        def on_validation_epoch_start(self, trainer, pl_module):
            spans.append(time.perf_counter())

        def on_validation_epoch_end(self, trainer, pl_module):
            spans[-1] = time.perf_counter() - spans[-1]

    trainer = inst(cfg.trainer, max_epochs=2, limit_train_batches=1, num_sanity_val_steps=0,
                   logger=False, callbacks=[Clock()], enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   default_root_dir="/tmp/aebench-throughput")
    trainer.fit(module, datamodule=dm)
    return spans[0], spans[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["lstm_seq", "lstm", "cnn_small", "unet"])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=None, help="default: the model config's")
    p.add_argument("--test-items", type=int, default=2000, help="shapes only (CIFAR-10: 10,000)")
    p.add_argument("--data", default="shapes", choices=["shapes", "cifar10", "mnist"],
                   help="shapes: procedural float32 (no files needed); cifar10/mnist: uint8")
    p.add_argument("--data-dir", default=None, help="folder holding cifar-10-batches-py/ or MNIST/")
    p.add_argument("--floor", action="store_true", help="only Lightning's own per-step cost "
                   "(a model with nothing to compute) against a bare loop")
    args = p.parse_args()
    if args.rounds < 1 or args.steps < 1:
        p.error(f"--rounds {args.rounds} / --steps {args.steps}: both must be >= 1")
    for name in ("pytorch_lightning", "lightning_fabric", "pytorch_lightning.utilities.rank_zero",
                 "lightning_fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.floor:
        for precision in ("32-true", "bf16-mixed"):
            runs = [lightning_floor(precision=precision) for _ in range(args.rounds + 1)][1:]
            lit, bare = (statistics.median(r[i] for r in runs) for i in (0, 1))
            print(f"Lightning {precision}: {lit * 1e6:.0f} us/step, bare loop {bare * 1e6:.0f} "
                  f"us/step: Lightning adds {(lit - bare) * 1e6:.0f} us to every step")
        return
    print("| model | batch | aebench img/s | bare img/s | ratio a/b (time per step) | "
          "ms/step aebench | ms/step bare | test img/s (PSNR+SSIM+MSE) | "
          "val pass 1 / 2 (s, N images) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model in args.models:
        n_train = (args.steps + 3) * 256
        cfg = compose(model, args.batch_size, n_train, args.test_items, args.data, args.data_dir)
        dm, deg, net, module = build(cfg)
        bs = cfg.data.batch_size
        a, b = [], []
        for _ in range(args.rounds):  # alternate, so drift in the machine hits both alike
            a.append(aebench_steps(cfg, module, dm, args.steps))
            b.append(bare_steps(cfg, net, deg, dm, args.steps, module.channels_last))
        ta, tb = statistics.median(a), statistics.median(b)
        ips = test_pass(cfg, module, dm)
        v1, v2 = val_epochs(cfg, module, dm)
        print(f"| {model} | {bs} | {bs / ta:.0f} | {bs / tb:.0f} | {ta / tb:.3f} | "
              f"{ta * 1e3:.1f} | {tb * 1e3:.1f} | {ips:.0f} | {v1:.2f} / {v2:.2f} "
              f"({len(dm.val_x):,}) |", flush=True)


if __name__ == "__main__":
    main()

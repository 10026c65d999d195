"""The Keras notebooks' models against aebench, timed alternately in one invocation on the same
CIFAR-10 batches (and, with --epochs, trained at the same recipe to compare test PSNR).

    make keras-venv        # .venv-keras: tensorflow-cpu 2.21.0 + keras 3.15.1 (never in .venv)
    .venv/bin/python benchmarks/keras_compare.py --data-dir /work/data
    .venv/bin/python benchmarks/keras_compare.py --data-dir /work/data --batch-sizes 64 128 \\
        --levers bf16 fused foreach bf16+fused nchw 1thread compile
    .venv/bin/python benchmarks/keras_compare.py --data-dir /work/data --models cnn_small \\
        --epochs 10 --epoch-levers bf16          # + test PSNR after 10 epochs, each side
        [--seed 1]                               # another seed for both sides
    .venv/bin/python benchmarks/keras_compare.py --data-dir DIR --no-keras   # aebench side only

--data-dir: the folder holding cifar-10-batches-py/ (python-version pickles). Each model's preset
split is used for both sides: all 50,000 training images (no validation), or 40,000 for
lstm_seq, whose notebook held 10,000 out for validation (the same 40,000 on both sides), and the
10,000 test images. Blur sigma 1.0 + 8-bit rounding (aebench's `degradation=blur`): aebench blurs its
training set once when training starts, as its training does (a fixed blur is the same at every
epoch) and the bare loop likewise; Keras gets the same pixels pre-blurred (computed once with
aebench's degradation, stored as uint8). aebench runs each model's Keras-notebook preset
(`experiment=cifar10_<model>_blur`: for the recurrent ones the faithful port, with Keras's
initialisers, a linear output and no gradient clipping) at fp32 unless a lever says otherwise.
Models (Adam 1e-3, MSE; the CNN ends in a sigmoid, the recurrent ones in a linear Dense):
  lstm_seq   LSTM(128, seq) -> LSTM(64, seq) -> Dense(96) on 32 rows of 96 values (batch 64)
  lstm       LSTM(128) -> RepeatVector(32) -> LSTM(128, seq) -> Dense(96)         (batch 128)
  rnn        the same with SimpleRNN                                               (batch 128)
  cnn_small  Conv(32) -> MaxPool 2 -> Conv(32) -> UpSampling 2 -> Conv(3), 3x3    (batch 128)

Timing: per model and batch size, every side (Keras in a subprocess of .venv-keras's python,
benchmarks/keras_worker.py; aebench's real path = compose, build_parts, trainer.fit, as
throughput.aebench_steps; aebench with each lever; the bare PyTorch loop of
throughput.bare_steps) runs `--steps` steps after 3 warm-up steps, once untimed, then in
`--rounds` rounds whose order rotates; printed: the median ms/step, images/s, Keras / side (>1:
faster than Keras) and side / bare loop (aebench's overhead; goal <= 1.10; a bf16 side
against the bare loop under bf16 autocast, timed alongside when a bf16 lever is asked for).
Ratios are only comparable within one run: this machine's speed moves by up to 2x from hour to hour.
Run it on an idle machine: another process on these cores makes every figure meaningless.

Levers (aebench's path with one change; `compile` is the bare loop under torch.compile, which
aebench's path does not offer; its compile seconds are printed with the step time):
  bf16        trainer.precision=bf16-mixed (autocast on the network only)
  fused       +optimizer.fused=true          foreach  +optimizer.foreach=true
  bf16+fused  both                          nchw     model.channels_last=false (CNNs only)
  1thread     torch.set_num_threads(1)      compile  bare loop, torch.compile(net)
  keras-eps   +optimizer.eps=1.0e-7 (Keras's Adam epsilon; PyTorch's is 1e-8)
  bf16-unfused  bf16 with Adam's loop of kernels (the presets use its fused kernel)
"""
from __future__ import annotations

import argparse
import copy
import datetime
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
from throughput import aebench_steps, bare_steps, build, compose

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODELS = ("lstm_seq", "lstm", "rnn", "cnn_small")
BATCH = {"lstm_seq": 64, "lstm": 128, "rnn": 128, "cnn_small": 128}  # the notebooks' batches
LEVERS = {  # name: (overrides, torch threads or None, CNN only)
    "bf16": (["trainer.precision=bf16-mixed"], None, False),
    "fused": (["+optimizer.fused=true"], None, False),
    "foreach": (["+optimizer.foreach=true"], None, False),
    "bf16+fused": (["trainer.precision=bf16-mixed", "+optimizer.fused=true"], None, False),
    "nchw": (["model.channels_last=false"], None, True),
    "1thread": ([], 1, False),
    "keras-eps": (["+optimizer.eps=1.0e-7"], None, False),  # Keras's Adam epsilon (PyTorch: 1e-8)
    "bf16-unfused": (["trainer.precision=bf16-mixed", "+optimizer.fused=false"], None, False),
}
DEFAULT_LEVERS = ["bf16", "fused", "bf16+fused", "nchw"]


_COMPOSED: dict = {}


def config(model: str, bs: int | None, data_dir: str, over=()):
    """throughput.compose's CIFAR-10 config of `model`, composed once per (model, batch);
    lever overrides are then set on a copy (plain keys: what Hydra's override would set)."""
    from omegaconf import OmegaConf, open_dict

    key = (model, bs, data_dir)
    if key not in _COMPOSED:  # the model's Keras-notebook preset, in fp32 (levers change that)
        _COMPOSED[key] = compose(model, bs, 0, 0, "cifar10", data_dir,
                                 [f"experiment=cifar10_{model}_blur", "trainer.precision=32-true"])
    cfg = copy.deepcopy(_COMPOSED[key])
    with open_dict(cfg):
        for item in over:
            k, v = item.lstrip("+").split("=", 1)
            OmegaConf.update(cfg, k, _value(v))
    return cfg


def _value(text: str):
    import yaml

    return yaml.safe_load(text)


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown CPU"


def as_uint8(x: torch.Tensor) -> np.ndarray:
    """(N, 3, 32, 32) float in [0, 1] on 8-bit levels -> (N, 32, 32, 3) uint8, exactly."""
    return (x * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def degrade(deg, x_u8: torch.Tensor, split: str) -> np.ndarray:
    """aebench's degradation of uint8 images (as its training step applies it), as uint8 NHWC."""
    from aebench.core.data.base import to_float

    return deg.levels(x_u8, split, to_float).permute(0, 2, 3, 1).contiguous().numpy()


def psnr(out: torch.Tensor, target: torch.Tensor) -> float:
    """Mean per-image PSNR (data range 1, outputs clipped to [0, 1]): keras_worker.psnr's."""
    mse = ((out.double().clamp(0, 1) - target.double()) ** 2).flatten(1).mean(1)
    return (10 * torch.log10(1 / mse)).mean().item()


class Keras:
    """The Keras worker process (keras_worker.py under .venv-keras's python)."""

    def __init__(self, python: str, data: str, threads: int):
        self.proc = subprocess.Popen([python, os.path.join(HERE, "keras_worker.py"), data,
                                      str(threads)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.info = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the Keras worker exited (code {self.proc.wait()}); see its stderr")
        return json.loads(line)

    def ask(self, **req) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"Keras: {reply['error']}")
        return reply

    def close(self) -> None:
        try:
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


class Side:
    """One timed contender: a name and a callable returning seconds per step."""

    def __init__(self, name: str, run, bare: bool = False, note: str = ""):
        self.name, self.run, self.bare, self.note, self.times = name, run, bare, note, []


def with_threads(n: int | None, fn):
    def run(steps):
        if n is None:
            return fn(steps)
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            return fn(steps)
        finally:
            torch.set_num_threads(before)
    return run


def sides_for(model: str, bs: int, args, keras: Keras | None):
    """Keras, aebench, aebench + each lever, the bare loop (and bare + compile)."""
    base = config(model, bs, args.data_dir)
    dm, deg, net, module = build(base)
    sides = []
    if keras is not None:
        info = keras.ask(op="build", model=model, batch=bs)
        sides.append(Side("Keras", lambda s: keras.ask(op="time", model=model, batch=bs,
                                                       steps=s)["s_per_step"],
                          note=f"{info['params']:,} params, jit_compile={info['jit_compile']}"))
    n_params = sum(p.numel() for p in net.parameters())
    sides.append(Side("aebench", lambda s: aebench_steps(base, module, dm, s),
                      note=f"{n_params:,} params, {base.trainer.precision}"))
    for lever in args.levers:
        if lever == "compile":
            continue
        over, threads, cnn_only = LEVERS[lever]
        if cnn_only and model != "cnn_small":
            continue
        cfg = config(model, bs, args.data_dir, over)
        _, _, _, mod = build(cfg)  # its own network and optimiser; the same batches (dm)
        sides.append(Side(f"aebench {lever}", with_threads(
            threads, lambda s, cfg=cfg, mod=mod: aebench_steps(cfg, mod, dm, s))))
    sides.append(Side("bare loop", lambda s: bare_steps(base, module.net, deg, dm, s,
                                                        module.channels_last), bare=True))
    if any("bf16" in lever for lever in args.levers):  # aebench bf16's overhead: against this
        sides.append(Side("bare loop bf16", lambda s: bare_steps(
            base, module.net, deg, dm, s, module.channels_last, autocast=True), bare=True))
    if "compile" in args.levers:
        cnet = copy.deepcopy(module.net)
        compiled = torch.compile(cnet)
        t = time.perf_counter()
        bare_steps(base, compiled, deg, dm, 1, module.channels_last)  # compiles
        first = time.perf_counter() - t
        sides.append(Side("bare compile", lambda s: bare_steps(base, compiled, deg, dm, s,
                                                               module.channels_last),
                          note=f"first 4 steps incl. compiling {first:.1f} s"))
    return base, dm, deg, module, sides


def s_name(side: Side) -> str:
    return side.name


def time_model(model: str, bs: int, args, keras: Keras | None, rows: list) -> None:
    cfg, dm, deg, module, sides = sides_for(model, bs, args, keras)
    for side in list(sides):  # untimed: first calls, allocations, tracing
        try:
            side.run(args.steps if side.name == "Keras" else 3)
        except Exception as err:  # a lever this CPU or model cannot use: say so, time the rest
            sides.remove(side)
            why = " ".join(f"{type(err).__name__}: {err}".split())[:150]
            line = f"| {model} | {bs} | {s_name(side)} | failed | | | | | {why} |"
            rows.append(line)
            print(line, flush=True)
    for r in range(args.rounds):
        k = r % len(sides)  # rotate the order so drift and position hit every side alike
        for side in sides[k:] + sides[:k]:
            side.times.append(side.run(args.steps))
    med = {s.name: statistics.median(s.times) for s in sides}
    keras_s = med.get("Keras")
    for s in sides:
        t = med[s.name]
        vs_keras = f"{keras_s / t:.2f}" if keras_s else "-"
        # overhead against the bare loop at the same precision (bf16 sides: the bf16 loop)
        bare_s = med.get("bare loop bf16") if "bf16" in s.name else None
        vs_bare = f"{t / (bare_s or med['bare loop']):.3f}" if s.name != "Keras" else "-"
        spread = f"{min(s.times) * 1e3:.1f}-{max(s.times) * 1e3:.1f}"
        line = (f"| {model} | {bs} | {s.name} | {t * 1e3:.1f} | {spread} | {bs / t:,.0f} | "
                f"{vs_keras} | {vs_bare} | {s.note} |")
        rows.append(line)
        print(line, flush=True)


def train_aebench(model: str, bs: int, epochs: int, lever: str | None, args, test_in, test_x):
    """Test PSNR of aebench's real path trained `epochs` epochs (no validation, as Keras)."""
    import pytorch_lightning as pl

    from aebench.core.data.base import to_float
    from aebench.core.config import build as inst

    over = (LEVERS[lever][0] if lever else []) + ([f"seed={args.seed}"] if args.seed is not None else [])
    cfg = config(model, bs, args.data_dir, over)
    pl.seed_everything(cfg.seed, verbose=False)
    dm, deg, net, module = build(cfg)
    trainer = inst(cfg.trainer, max_epochs=epochs, limit_val_batches=0, num_sanity_val_steps=0,
                   logger=False, callbacks=[], enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   default_root_dir="/tmp/aebench-keras-compare")
    t = time.perf_counter()
    trainer.fit(module, datamodule=dm)
    seconds = time.perf_counter() - t
    module.eval()
    with torch.no_grad():  # inference in float32, whatever the training precision
        x_in = torch.from_numpy(test_in).permute(0, 3, 1, 2).float() / 255
        out = torch.cat([module(x_in[i:i + 500]) for i in range(0, len(x_in), 500)])
    return psnr(out, to_float(test_x)), seconds


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, help="folder holding cifar-10-batches-py/")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--batch-sizes", nargs="+", type=int, default=None,
                   help="default: each model's (lstm_seq 64, the others 128)")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--levers", nargs="*", default=DEFAULT_LEVERS,
                   choices=[*LEVERS, "compile"])
    p.add_argument("--epochs", type=int, default=0, help="also train both N epochs: test PSNR")
    p.add_argument("--epoch-levers", nargs="*", default=[], choices=list(LEVERS),
                   help="with --epochs: also train aebench with these levers")
    p.add_argument("--train-threads", type=int, default=None,
                   help="torch threads for --epochs trainings (default: as timed)")
    p.add_argument("--no-time", action="store_true", help="with --epochs: skip the timing")
    p.add_argument("--seed", type=int, default=None, help="with --epochs: this seed on both sides "
                   "(default: Keras 0, aebench the preset's)")
    p.add_argument("--no-keras", action="store_true", help="aebench side only")
    p.add_argument("--keras-python", default=os.path.join(ROOT, ".venv-keras", "bin", "python"))
    p.add_argument("--keras-threads", type=int, default=2)
    args = p.parse_args(argv)
    if args.rounds < 1 or args.steps < 1 or args.epochs < 0:
        p.error(f"--rounds {args.rounds} / --steps {args.steps} must be >= 1 and --epochs "
                f"{args.epochs} >= 0")
    for name in ("pytorch_lightning", "lightning_fabric", "pytorch_lightning.utilities.rank_zero",
                 "lightning_fabric.utilities.rank_zero", "aebench"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {cpu_name()}, {os.cpu_count()} CPUs")
    print(f"torch {torch.__version__}: {torch.get_num_threads()} threads (its default)")
    use_keras = not args.no_keras and os.path.exists(args.keras_python)
    if not args.no_keras and not use_keras:
        print(f"Keras side skipped: {args.keras_python} not found (make keras-venv)")

    # the data, as aebench's data module holds it: one split for every side
    dm, deg, _, _ = build(config("cnn_small", None, args.data_dir))
    bss = {m: args.batch_sizes or [BATCH[m]] for m in args.models}
    n_time = (args.steps + 3) * max(max(v) for v in bss.values())
    order = torch.randperm(len(dm.train_x), generator=torch.Generator().manual_seed(0))
    time_idx = order[:n_time]  # throughput.bare_steps's batches, in its order
    test_in = degrade(deg, dm.test_x, "test")
    arrays = {"time_x": as_uint8(dm.train_x[time_idx].float() / 255),
              "time_in": degrade(deg, dm.train_x[time_idx], "train"),
              "test_in": test_in, "test_x": as_uint8(dm.test_x.float() / 255)}
    if args.epochs:
        arrays.update(train_x=as_uint8(dm.train_x.float() / 255),
                      train_in=degrade(deg, dm.train_x, "train"))
        for model in args.models:  # a preset with another split (lstm_seq keeps 10,000 for
            mdm = build(config(model, None, args.data_dir))[0]  # validation): Keras gets it too
            if len(mdm.train_x) != len(dm.train_x):
                arrays[f"train_x_{model}"] = as_uint8(mdm.train_x.float() / 255)
                arrays[f"train_in_{model}"] = degrade(deg, mdm.train_x, "train")
    print(f"data: CIFAR-10 from {args.data_dir}: {len(dm.train_x):,} train / {len(dm.test_x):,} "
          f"test images, degradation {deg.describe()} (Keras: pre-blurred, the same "
          f"pixels; aebench: blurred once when training starts)")
    del dm

    keras, tmp = None, tempfile.mkdtemp(prefix="keras-compare-")
    try:
        if use_keras:
            path = os.path.join(tmp, "data.npz")
            np.savez(path, **arrays)
            keras = Keras(args.keras_python, path, args.keras_threads)
            i = keras.info
            print(f"Keras {i['keras']} on TensorFlow {i['tf']} (CPU): intra-op {i['threads']} / "
                  f"inter-op {i['threads']} threads, separate process ({args.keras_python})")
        rows: list[str] = []
        if not args.no_time:
            print(f"\n{args.steps} timed steps after 3 warm-up, {args.rounds} alternating rounds "
                  f"(median, min-max); Keras/x > 1: x is faster than Keras; x/bare: aebench's "
                  f"overhead over the bare loop (goal <= 1.10)\n")
            print("| model | batch | side | ms/step | min-max | img/s | Keras/x | x/bare | note |")
            print("|---|---|---|---|---|---|---|---|---|")
            for model in args.models:
                for bs in bss[model]:
                    time_model(model, bs, args, keras, rows)
        if args.epochs:
            threads = torch.get_num_threads()
            if args.train_threads:
                torch.set_num_threads(args.train_threads)
            print(f"\nEqual epochs: {args.epochs} epochs on each preset's training images "
                  f"({len(arrays['train_x']):,}; lstm_seq 40,000), test PSNR (mean per image, dB) on the "
                  f"{len(test_in):,} blurred test images; torch {torch.get_num_threads()} threads")
            x_in = torch.from_numpy(test_in).double() / 255
            x_ref = torch.from_numpy(arrays["test_x"]).double() / 255
            base = psnr(x_in, x_ref)
            print(f"blurred input as is: {base:.2f} dB\n")
            print("| model | batch | epochs | side | test PSNR dB | train s |")
            print("|---|---|---|---|---|---|")
            for model in args.models:
                bs = bss[model][0]
                if keras is not None:
                    k = keras.ask(op="train", model=model, batch=bs, epochs=args.epochs,
                                  seed=0 if args.seed is None else args.seed)
                    print(f"| {model} | {bs} | {args.epochs} | Keras | {k['psnr']:.2f} | "
                          f"{k['seconds']:.0f} |", flush=True)
                for lever in [None, *args.epoch_levers]:
                    val, sec = train_aebench(model, bs, args.epochs, lever, args,
                                             test_in, dm_test_x(arrays))
                    name = "aebench" + (f" {lever}" if lever else "")
                    print(f"| {model} | {bs} | {args.epochs} | {name} | {val:.2f} | {sec:.0f} |",
                          flush=True)
            torch.set_num_threads(threads)
    finally:
        if keras is not None:
            keras.close()
        for f in os.listdir(tmp):
            os.remove(os.path.join(tmp, f))
        os.rmdir(tmp)


def dm_test_x(arrays) -> torch.Tensor:
    """The clean test images as aebench holds them: (N, 3, 32, 32) uint8."""
    return torch.from_numpy(arrays["test_x"]).permute(0, 3, 1, 2).contiguous()


if __name__ == "__main__":
    main()

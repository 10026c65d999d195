"""Expected GPU step time per model, from counted FLOPs and sequential steps (no GPU needed).

    .venv/bin/python benchmarks/flops.py                    # every config with trainable parameters
    .venv/bin/python benchmarks/flops.py --models lstm unet --batch 512

Each model is composed as a run composes it (data=cifar10, or the cifar10 experiment using the
model, which may set the batch: lstm_seq's is 64), built with aebench.core.config.build on CIFAR-10
items (3 x 32 x 32, bounded) as config.build_parts does, and one forward + MSE + backward pass of
2 images is counted on the CPU:

- FLOPs: torch.utils.flop_counter.FlopCounterMode (matmuls and convolutions; a multiply-add is
  2 FLOPs; elementwise work is not counted). It does not see nn.LSTM on the CPU by default
  (oneDNN's aten::mkldnn_rnn_layer has no formula: 0 FLOPs, forward and backward), nor any
  nn.LSTM/GRU/RNN on CUDA (aten::_cudnn_rnn). With oneDNN disabled, as here, they run as
  mm/addmm per step and are counted; the forward must equal the analytic count, per step, layer
  and item 2 * gates * hidden * (input + hidden), gates = 4 LSTM, 3 GRU, 1 RNN (column "rec
  ok"; the preamble checks nn.LSTM and an unrolled nn.LSTMCell). Backward is the counter's
  (~2x forward, less where the input images need no gradient).
- seq steps: time steps x layers of every recurrent layer, forward and backward; each waits for
  the one before, so each is at least one kernel launch (cuDNN's standard algorithm: ~2).
- other kernels: aten ops outside nn.LSTM/GRU/RNN that are not views (convs, activations, copies,
  the loss, and their backward), launched one by one in eager mode; lstm_deep's Python-loop
  output LSTM (ActivationLSTM) lands here, ~10 ops a step. Optimizer, gradient clipping and
  Lightning's logging are not counted, so the launch floor is a lower bound.

Expected step time = max(compute, launch floor): compute = training FLOPs / (ACHIEVABLE x peak),
launch floor = (recurrent steps + other kernels) x LAUNCH_US. It uses fp32 (trainer precision
32-true: cuBLAS matmuls stay fp32 unless torch.set_float32_matmul_precision("high"); cuDNN convs
and RNNs may use TF32 by default, so conv models sit between the fp32 and tf32 columns).
Host->GPU bytes are what a batch would cost if it crossed PCIe every step; aebench keeps the
whole uint8 data set on the GPU, so none does.
"""
from __future__ import annotations

import argparse
import math
import warnings

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode
from torch.utils.module_tracker import ModuleTracker

from aebench.core.config import CONF_DIR as CONF  # the conf/ a run composes

# -- assumptions (H100 SXM, dense, no sparsity) -------------------------------------------------
PEAK = {"fp32": 67e12, "tf32": 495e12, "bf16": 990e12}  # FLOP/s: CUDA cores, TF32/BF16 tensor cores
ACHIEVABLE = 0.5      # share of peak that large, well-shaped kernels reach
LAUNCH_US = 5.0       # µs per dependent kernel (launch + a tiny kernel); 5-10 µs is typical
H2D_GBPS = 25.0       # host->GPU over PCIe Gen5 x16, pinned memory (GB/s)
ITEM = (3, 32, 32)    # CIFAR-10
TRAIN_ITEMS = 40_000  # CIFAR-10 train split at val_fraction 0.2
SKIP = ("lstm_sine", "lstm_sine_report")  # sequence models for data=sine
NO_KERNEL = {"aten::_unsafe_view", "aten::unsafe_split", "aten::unsafe_chunk", "aten::lift_fresh"}
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def compose(model: str, batch: int | None):
    """The run's config: the cifar10 experiment using `model` if there is one, else data=cifar10."""
    from omegaconf import OmegaConf

    from aebench.core.config import compose as compose_config

    over = [f"model={model}", "data=cifar10", "logger=none", "callbacks=none"]
    for exp in sorted((CONF / "experiment").glob("cifar10_*.yaml")):
        defaults = OmegaConf.to_container(OmegaConf.load(exp)).get("defaults", [])
        if {"override /model": model} in defaults:
            over.append(f"experiment={exp.stem}")
            break
    if batch:
        over.append(f"data.batch_size={batch}")
    return compose_config(over, "/tmp/aebench-flops").cfg, over[4:]


def analytic_rnn_flops(m: nn.RNNBase, steps: int, n: int) -> int:
    """Forward FLOPs of nn.LSTM/GRU/RNN: per step, layer and item 2 * gates * H * (input + H)."""
    g, h = GATES[type(m).__name__], m.hidden_size
    ins = [m.input_size] + [h] * (m.num_layers - 1)
    return sum(2 * g * h * (i + h) for i in ins) * steps * n


class OpCounter(TorchDispatchMode):
    """Counts aten ops that launch a kernel (not views) outside the cuDNN-able recurrent layers."""

    def __init__(self, tracker: ModuleTracker, rnn_names: set[str]):
        super().__init__()
        self.tracker, self.rnn_names, self.kernels = tracker, rnn_names, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        inside = any(p.split(".", 1)[-1] in self.rnn_names for p in self.tracker.parents)
        if not (inside or func.is_view or func.name().split(".")[0] in NO_KERNEL):
            self.kernels += 1
        return func(*args, **(kwargs or {}))


def count(net: nn.Module, n: int = 2) -> dict:
    """FLOPs per item (forward, backward), recurrent FLOPs (analytic, counted), steps, kernels."""
    from aebench.core.models.keras_lstm import ActivationLSTM

    rnns = {name: m for name, m in net.named_modules() if isinstance(m, nn.RNNBase)}
    steps = {}  # module name -> time steps of its input
    hooks = [m.register_forward_hook(lambda m, i, o, k=k: steps.__setitem__(k, i[0].shape[1]))
             for k, m in net.named_modules() if isinstance(m, (nn.RNNBase, ActivationLSTM))]
    x = torch.rand(n, *ITEM)
    net.train()
    with torch.backends.mkldnn.flags(enabled=False), ModuleTracker() as mt, \
            OpCounter(mt, set(rnns)) as ops:
        with FlopCounterMode(display=False) as fwd:
            out = net(x)
        loss = nn.functional.mse_loss(out, x)
        with FlopCounterMode(display=False) as bwd:
            loss.backward()
    for h in hooks:
        h.remove()
    per_mod = fwd.get_flop_counts()
    counted = sum(sum(per_mod.get(f"{type(net).__name__}.{k}", {}).values()) for k in rnns)
    analytic = sum(analytic_rnn_flops(m, steps[k], n) for k, m in rnns.items())
    mods = dict(net.named_modules())
    return {"fwd": fwd.get_total_flops() / n, "bwd": bwd.get_total_flops() / n,
            "rec_ok": {True: "yes", False: "NO"}[counted == analytic] if rnns else "-",
            "rnn_steps": sum(steps[k] * m.num_layers for k, m in rnns.items()),
            "seq_steps": sum(t * getattr(mods[k], "num_layers", 1) for k, t in steps.items()),
            "kernels": ops.kernels}


def check_counter() -> list[str]:
    """Does FlopCounterMode see an LSTM on the CPU? And does the analytic formula match it?"""
    lstm, cell = nn.LSTM(96, 128, batch_first=True), nn.LSTMCell(96, 128)
    x = torch.rand(1, 32, 96)

    def flops(fn, onednn=True):
        with torch.backends.mkldnn.flags(enabled=onednn), FlopCounterMode(display=False) as f:
            fn()
        return f.get_total_flops()

    def unrolled():
        h = c = torch.zeros(1, 128)
        for t in range(32):
            h, c = cell(x[:, t], (h, c))

    rows = [("nn.LSTM(96, 128), 32 steps, oneDNN on (default)", flops(lambda: lstm(x))),
            ("nn.LSTM(96, 128), 32 steps, oneDNN off", flops(lambda: lstm(x), onednn=False)),
            ("nn.LSTMCell(96, 128) unrolled 32 steps", flops(unrolled))]
    for cls in (nn.GRU, nn.RNN):
        rows.append((f"nn.{cls.__name__}(96, 128), 32 steps, oneDNN on",
                     flops(lambda m=cls(96, 128, batch_first=True): m(x))))
    rows.append(("analytic LSTM: 2 * 4 * 128 * (96 + 128) * 32", analytic_rnn_flops(lstm, 32, 1)))
    return [f"- {what}: {v:,} FLOPs" for what, v in rows]


def main() -> None:
    from aebench.core.config import build

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", help="default: every config with parameters")
    p.add_argument("--batch", type=int, default=None, help="default: the run config's batch size")
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    names = args.models or [f.stem for f in sorted((CONF / "model").glob("*.yaml"))
                            if f.stem not in SKIP]
    print(f"torch {torch.__version__}. FlopCounterMode on the CPU:", *check_counter(), sep="\n")
    peaks, item = ", ".join(f"{k} {v / 1e12:.0f}" for k, v in PEAK.items()), math.prod(ITEM)
    print(f"\nAssumptions: H100 SXM peak {peaks} TFLOP/s dense, {ACHIEVABLE:.0%} of it achieved; "
          f"{LAUNCH_US:g} µs per dependent kernel; host->GPU {H2D_GBPS:g} GB/s; an image is "
          f"{item:,} B as uint8, {4 * item:,} B as float32; {TRAIN_ITEMS:,} train items/epoch.\n")
    print("| model | batch | params | code | fwd MFLOP/img | train MFLOP/img | rec ok | seq steps "
          "fwd+bwd | other kernels | host->GPU KB/step u8 / f32 (µs f32) | compute ms fp32 / tf32 "
          "/ bf16 | launch floor ms | expected ms (fp32) | s/epoch | bound fp32 / tf32 |")
    print("|---" * 15 + "|")
    skipped = []
    for name in names:
        cfg, extra = compose(name, args.batch)
        net = build(cfg.model.net, input_shape=ITEM, bounded=True)
        params = sum(q.numel() for q in net.parameters() if q.requires_grad)
        if not params:
            skipped.append(name)
            continue
        c, bs = count(net), cfg.data.batch_size
        train = c["fwd"] + c["bwd"]
        compute = {k: train * bs / (ACHIEVABLE * v) * 1e3 for k, v in PEAK.items()}  # ms
        floor = (2 * c["rnn_steps"] + c["kernels"]) * LAUNCH_US / 1e3  # ms; 1 launch per step
        h2d_ms = bs * item * 4 / (H2D_GBPS * 1e9) * 1e3  # float32 batch over PCIe
        expected = max(compute["fp32"], floor)
        epoch_s = math.ceil(TRAIN_ITEMS / bs) * expected / 1e3

        def bound(prec):
            times = {"compute": compute[prec], "launch": floor, "input(f32)": h2d_ms}
            return max(times, key=times.get)

        label = name + (f" ({', '.join(extra)})" if extra else "")
        print(f"| {label} | {bs} | {params:,} | {net.code_size:,} | {c['fwd'] / 1e6:,.2f} | "
              f"{train / 1e6:,.2f} | {c['rec_ok']} | {2 * c['seq_steps']} | {c['kernels']} | "
              f"{bs * item / 1e3:,.0f} / {4 * bs * item / 1e3:,.0f} ({h2d_ms * 1e3:.0f}) | "
              f"{' / '.join(f'{v:.3f}' for v in compute.values())} | {floor:.2f} | "
              f"{expected:.2f} | {epoch_s:.2f} | {bound('fp32')} / {bound('tf32')} |")
    if skipped:
        print(f"\nNo trainable parameters (skipped): {', '.join(skipped)}. "
              f"Sequence configs (skipped): {', '.join(SKIP)}.")
    print("One epoch of CIFAR-10 over PCIe: " + ", ".join(
        f"{k} {TRAIN_ITEMS * item * b / 1e6:.0f} MB = "
        f"{TRAIN_ITEMS * item * b / (H2D_GBPS * 1e9) * 1e3:.0f} ms"
        for k, b in (("uint8", 1), ("float32", 4))))


if __name__ == "__main__":
    main()

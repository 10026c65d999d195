"""What each CPU option buys for a bare training step: bf16 autocast, channels_last,
torch.compile, thread count.

    .venv/bin/python benchmarks/cpu_options.py                      # lstm_seq lstm cnn_small
    .venv/bin/python benchmarks/cpu_options.py --models cnn_small --steps 20
    .venv/bin/python benchmarks/cpu_options.py --shared 2 --models lstm cnn_small   # trials sharing the CPU

For each model (its config's batch size; lstm_seq at the reports' 64) the bare loop of
benchmarks/throughput.py runs with one option changed at a time, from the same initial weights
and batches; printed: ms per step (median of rounds, warm-up excluded) and the mean training
loss over the timed steps, next to fp32's, so an option that trains differently shows.

`--shared K`: K processes run the fp32 bare loop at once (as K CPU trials of a sweep would), with
1 and with 2 torch threads each; printed: ms per step in each process and the images/s of all
together, next to one process alone with every core.
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import warnings

import torch
from throughput import bare_steps, build, compose

BATCH = {"lstm_seq": 64, "lstm": 128, "cnn_small": 128, "unet": 128}


def loop(cfg, net, deg, dm, steps: int, autocast=False, channels_last=False, compiled=False):
    """(seconds per step, mean loss) of throughput.bare_steps on a copy of `net`."""
    net = copy.deepcopy(net)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return bare_steps(cfg, net, deg, dm, steps, channels_last=channels_last, autocast=autocast,
                      compiled=compiled, with_loss=True)


def worker(model: str, threads: int, steps: int) -> None:
    """One process of --shared: print {"ms": ms per step} of the fp32 bare loop."""
    torch.set_num_threads(threads)
    cfg = compose(model, BATCH.get(model), (steps + 3) * 256, 64)
    dm, deg, net, _ = build(cfg)
    print(json.dumps({"ms": loop(cfg, net, deg, dm, steps)[0] * 1e3}), flush=True)


def shared(models, k: int, steps: int) -> None:
    """K processes training at once, 1 or 2 threads each, against one process alone."""
    print(f"| model | batch | processes x threads | ms/step per process | img/s all together |")
    print("|---|---|---|---|---|")
    for model in models:
        bs = BATCH.get(model, 128)
        for n, threads in ((1, os.cpu_count() or 2), (k, 1), (k, 2)):
            cmd = [sys.executable, __file__, "--worker", model, str(threads), str(steps)]
            procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(n)]
            ms = [json.loads(p.communicate()[0].strip().splitlines()[-1])["ms"] for p in procs]
            print(f"| {model} | {bs} | {n} x {threads} | "
                  f"{' / '.join(f'{m:.1f}' for m in ms)} | {sum(bs / m * 1e3 for m in ms):.0f} |",
                  flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["lstm_seq", "lstm", "cnn_small"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--shared", type=int, default=0, help="K processes at once (see above)")
    p.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    if args.worker:
        return worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))
    if args.shared:
        return shared(args.models, args.shared, args.steps)
    options = {"fp32 (default)": {}, "bf16 autocast": {"autocast": True},
               "channels_last": {"channels_last": True}, "torch.compile": {"compiled": True}}
    print(f"torch {torch.__version__}")
    print("| model | batch | option | threads | ms/step | vs fp32 | mean loss (fp32's) |")
    print("|---|---|---|---|---|---|---|")
    for model in args.models:
        cfg = compose(model, BATCH.get(model), (args.steps + 3) * 256, 64)
        dm, deg, net, _ = build(cfg)
        bs = cfg.data.batch_size
        runs = [(name, kw, 2) for name, kw in options.items()
                if not (kw.get("channels_last") and len(dm.item_shape) != 3)]
        runs.append(("fp32, 1 thread", {}, 1))
        base = None
        for name, kw, threads in runs:
            torch.set_num_threads(threads)
            try:
                if kw.get("compiled"):
                    t = time.perf_counter()
                    loop(cfg, net, deg, dm, 1, **kw)  # compile time, reported apart
                    compile_s = time.perf_counter() - t
                res = [loop(cfg, net, deg, dm, args.steps, **kw) for _ in range(args.rounds)]
            except Exception as err:  # an option this model/build cannot use: say so
                print(f"| {model} | {bs} | {name} | {threads} | failed: {type(err).__name__} "
                      f"| | |", flush=True)
                continue
            ms = statistics.median(r[0] for r in res) * 1e3
            loss = statistics.median(r[1] for r in res)
            base = base or (ms, loss)
            extra = f" (+{compile_s:.0f} s to compile)" if kw.get("compiled") else ""
            print(f"| {model} | {bs} | {name}{extra} | {threads} | {ms:.1f} | "
                  f"{base[0] / ms:.2f}x | {loss:.5f} ({base[1]:.5f}) |", flush=True)
        torch.set_num_threads(2)


if __name__ == "__main__":
    main()

"""aebench's fast layers against the published ones, timed alternately in one process (CPU).

    .venv/bin/python benchmarks/fast_layers.py                        # blur; cnn_small cnn cnn_bn
    .venv/bin/python benchmarks/fast_layers.py --data-dir /work/data  # real CIFAR-10 batches

1. The blur of one training batch (128 CIFAR-10-sized images, sigma 1.0, no rounding):
   torchvision's gaussian_blur (a 7 x 7 depthwise convolution: aebench's blur before 2026-12-06)
   against aebench's `Blur` (two products with banded matrices), and their largest difference.
2. A bare training step (throughput.bare_steps: blur, forward, MSE, backward, Adam) of each CNN
   config at fp32 and at bf16 autocast (channels_last as configured): the network as aebench
   builds it against `published_layers` of it (Upsample + Conv2d instead of NearestUpConv, ReLU
   before the pooling), from the same weights, on the same batches; and the mean training loss
   of each, which must agree (the same function).
Medians of `--rounds` alternating rounds of `--steps` steps; run it on an idle machine.
"""
from __future__ import annotations

import argparse
import copy
import logging
import statistics
import time
import warnings

import torch
from throughput import bare_steps, build, compose


def blur_times(rounds: int, n: int = 50) -> None:
    from torchvision.transforms.v2.functional import gaussian_blur

    from aebench.core.degradations import Blur

    x = torch.rand(128, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    ours = Blur(sigma=1.0, quantize=False)
    sides = {"torchvision gaussian_blur (7x7 conv)": lambda: gaussian_blur(x, [7, 7], [1.0, 1.0]),
             "aebench Blur (band matrices)": lambda: ours(x)}
    times = {k: [] for k in sides}
    for r in range(rounds + 1):
        for name, fn in sides.items():
            t = time.perf_counter()
            for _ in range(n):
                fn()
            if r:  # round 0 warms up
                times[name].append((time.perf_counter() - t) / n)
    diff = (sides["aebench Blur (band matrices)"]() - gaussian_blur(x, [7, 7], [1.0, 1.0])).abs().max()
    print(f"Blur of 128 x 3 x 32 x 32 (sigma 1.0), {n} calls x {rounds} rounds; largest difference "
          f"{diff.item():.1e}\n")
    print("| blur | ms per batch |\n|---|---|")
    for name, v in times.items():
        print(f"| {name} | {statistics.median(v) * 1e3:.2f} |")


def step_times(models, steps: int, rounds: int, data_dir: str | None) -> None:
    from aebench.core.models.common import published_layers

    print(f"\nBare training step, batch 128, {steps} steps x {rounds} rounds (median ms/step; mean "
          f"loss over the timed steps, from the same weights)\n")
    print("| model | precision | published ms | fast ms | published / fast | loss published / fast |")
    print("|---|---|---|---|---|---|")
    for model in models:
        cfg = (compose(model, 128, 0, 0, "cifar10", data_dir) if data_dir
               else compose(model, 128, (steps + 3) * 128, 64))
        dm, deg, net, module = build(cfg)
        fmt = torch.channels_last if module.channels_last else torch.contiguous_format
        fast = module.net
        slow = published_layers(fast).to(memory_format=fmt)
        for bf16 in (False, True):
            res = {"published": [], "fast": []}
            for r in range(rounds + 1):
                for name, net_ in (("published", slow), ("fast", fast))[::1 if r % 2 else -1]:
                    # from the same weights every time: a copy of the untrained network,
                    # and the same random draws (the VAE samples its code in training)
                    torch.manual_seed(0)
                    out = bare_steps(cfg, copy.deepcopy(net_), deg, dm, steps, module.channels_last,
                                     autocast=bf16, with_loss=True)
                    if r:
                        res[name].append(out)
            ms = {k: statistics.median(t for t, _ in v) * 1e3 for k, v in res.items()}
            loss = {k: statistics.mean(m for _, m in v) for k, v in res.items()}
            print(f"| {model} | {'bf16 autocast' if bf16 else 'fp32'} | {ms['published']:.1f} | "
                  f"{ms['fast']:.1f} | {ms['published'] / ms['fast']:.2f} | "
                  f"{loss['published']:.5f} / {loss['fast']:.5f} |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["cnn_small", "cnn", "cnn_bn"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data-dir", default=None, help="folder holding cifar-10-batches-py/ "
                   "(default: the procedural shapes)")
    args = p.parse_args()
    for name in ("pytorch_lightning", "lightning_fabric", "aebench"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    blur_times(args.rounds)
    step_times(args.models, args.steps, args.rounds, args.data_dir)


if __name__ == "__main__":
    main()

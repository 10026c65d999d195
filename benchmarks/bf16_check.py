"""Is bf16 autocast on the CPU faster, and does it train as well? (The bare loop of throughput.py.)

    .venv/bin/python benchmarks/bf16_check.py --time 5 20          # rounds x steps, alternated
    .venv/bin/python benchmarks/bf16_check.py --quality 600        # steps from the same weights

--time: ms per step of fp32 and bf16 autocast, alternated round by round (order flipped each
round, warm-up excluded), median; run it on an idle machine.
--quality: train N steps twice from the same initial weights and batches, fp32 and bf16
autocast; print the last-50-step training loss and the test PSNR (fp32 inference, clipped to
[0, 1]), next to the PSNR of the blurred input (the baseline of this task).
Models: lstm_seq (batch 64), lstm and cnn_small (128) on the procedural shapes, blur 1.0, 8-bit.
"""
from __future__ import annotations

import argparse
import copy
import logging
import statistics
import warnings

import torch
from hydra.utils import instantiate
from throughput import bare_steps, build, compose

from aebench.core.data.base import to_float

BATCH = {"lstm_seq": 64, "lstm": 128, "cnn_small": 128}


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = ((a.clamp(0, 1) - b) ** 2).flatten(1).mean(1)
    return (10 * torch.log10(1 / mse)).mean().item()


def train(cfg, net, deg, dm, steps: int, bf16: bool) -> float:
    """Last-50-step mean training loss of `steps` steps (fixed batch order)."""
    opt = instantiate(cfg.optimizer)(net.parameters(), lr=cfg.model.lr)
    clip, bs, losses = cfg.model.get("grad_clip_norm"), cfg.data.batch_size, []
    order = torch.randperm(len(dm.train_x), generator=torch.Generator().manual_seed(0))
    for step in range(steps):
        idx = order[(step * bs) % (len(order) - bs + 1):][:bs]
        x = to_float(dm.train_x[idx])
        inp = deg(x, idx, "train")
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = net(inp)
        loss = torch.nn.functional.mse_loss(out.float(), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        losses.append(loss.item())
    return sum(losses[-50:]) / len(losses[-50:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(BATCH))
    p.add_argument("--time", nargs=2, type=int, metavar=("ROUNDS", "STEPS"))
    p.add_argument("--quality", type=int, metavar="STEPS")
    args = p.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    for model in args.models:
        if args.time:
            rounds, steps = args.time
            cfg = compose(model, BATCH[model], (steps + 3) * 256, 64)
            dm, deg, net, _ = build(cfg)
            t = {False: [], True: []}
            for r in range(rounds):
                for bf16 in ((False, True) if r % 2 == 0 else (True, False)):
                    t[bf16].append(bare_steps(cfg, copy.deepcopy(net), deg, dm, steps,
                                              autocast=bf16) * 1e3)
            f, b = statistics.median(t[False]), statistics.median(t[True])
            print(f"{model}: fp32 {f:.1f} ms/step, bf16 {b:.1f} ms/step, {f / b:.2f}x "
                  f"({torch.get_num_threads()} threads)", flush=True)
        if args.quality:
            cfg = compose(model, BATCH[model], 4000, 500)
            dm, deg, net0, _ = build(cfg)
            x = to_float(dm.test_x)
            degraded = deg(x, torch.arange(len(x)), "test")
            for bf16 in (False, True):
                net = copy.deepcopy(net0)
                loss = train(cfg, net, deg, dm, args.quality, bf16)
                with torch.no_grad():
                    score = psnr(net.eval()(degraded), x)
                print(f"{model}: {args.quality} steps {'bf16' if bf16 else 'fp32'}: last-50 loss "
                      f"{loss:.5f}, test PSNR {score:.3f} dB (blurred input {psnr(degraded, x):.2f} "
                      f"dB, {len(x)} images)", flush=True)


if __name__ == "__main__":
    main()

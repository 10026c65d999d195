"""What a sweep launcher costs, and what parallel trials gain, on this machine.

    .venv/bin/python benchmarks/sweep_overhead.py            # about 5 minutes on 2 cores
    .venv/bin/python benchmarks/sweep_overhead.py --quick    # (a) only

(a) Fixed cost per trial: sweeps whose trials train for one step on 16 tiny images, run with
    1 and with 8 trials through one worker; (wall(8) - wall(1)) / 7 is what each extra trial
    costs beyond its training (spawn, imports, config, data, checkpoint, test, teardown), and
    wall(1) minus that is the one-off start of the sweep. Measured for Hydra's basic launcher
    (all trials in one process, one after another), the parallel launcher as it runs (a pool of
    workers that keep their GPU/cores and run trial after trial) and the parallel launcher with
    a fresh process per trial (`+hydra.launcher.ray.remote.max_calls=1`; what the plain
    hydra-ray-launcher does for GPU trials).
(b) A 4-trial sweep of short real trainings (lstm on shapes, latent=32,64,128,256): one after
    another with all cores vs 2 parallel workers with one thread each.
Everything runs through the real entry point, `python -m aebench -m ...`, in a temporary folder.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TINY = ["+trainer.max_steps=1", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
        "data.num_train=16", "data.num_test=16", "data.batch_size=16", "callbacks=none",
        "logger=none", "latent=8", "trainer.enable_model_summary=false"]
LAUNCHERS = {
    "basic (one process, sequential)": [],
    "parallel (workers kept between trials)": ["hydra/launcher=parallel",
                                               "hydra.launcher.ray.init.num_cpus=1"],
    "parallel, fresh process per trial (remote.max_calls=1)": [
        "hydra/launcher=parallel", "hydra.launcher.ray.init.num_cpus=1",
        "+hydra.launcher.ray.remote.max_calls=1"],
}
REAL = ["model=lstm", "data=shapes", "data.num_train=4000", "data.num_test=500",
        "trainer.max_epochs=10", "callbacks=none", "logger=none"]


def sweep(args: list[str], cwd: Path) -> tuple[float, list[dict]]:
    """Run `python -m aebench -m ARGS` in cwd; return (wall seconds, the trials' metrics)."""
    env = dict(os.environ, WANDB_MODE="disabled", PYTHONWARNINGS="ignore")
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "aebench", "-m", *args], cwd=cwd, env=env,
                         capture_output=True, text=True)
    wall = time.perf_counter() - start
    if res.returncode != 0:
        sys.exit(f"sweep failed ({res.returncode}): {' '.join(args)}\n{res.stderr[-3000:]}")
    sweep_dir = sorted((cwd / "multirun").glob("*/*"), key=os.path.getmtime)[-1]
    trials = [json.loads(p.read_text()) for p in sweep_dir.glob("*/metrics.json")]
    return wall, trials


def fixed_costs(tmp: Path) -> dict:
    print("(a) fixed cost per trial (trials train 1 step; one worker)")
    print(f"| launcher | wall, 1 trial (s) | wall, 8 trials (s) | per extra trial (s) | "
          f"one-off start (s) |\n|---|---|---|---|---|")
    out = {}
    for name, launcher in LAUNCHERS.items():
        w1, _ = sweep([*launcher, "seed=1", *TINY], tmp)
        w8, trials = sweep([*launcher, "seed=1,2,3,4,5,6,7,8", *TINY], tmp)
        assert len(trials) == 8
        per = (w8 - w1) / 7
        out[name] = per
        print(f"| {name} | {w1:.1f} | {w8:.1f} | {per:.2f} | {w1 - per:.1f} |", flush=True)
    return out


def parallel_speedup(tmp: Path, values: str) -> None:
    print(f"\n(b) 4 short trainings (lstm on 3,200 shapes training images, 10 epochs, {values})")
    seq, t_seq = sweep([*REAL, values], tmp)
    par, t_par = sweep(["hydra/launcher=parallel", "hydra.launcher.ray.init.num_cpus=2", *REAL,
                        values], tmp)
    train = sum(t["train_seconds"] for t in t_seq) / 4
    print(f"| how | wall (s) | mean training per trial (s) |\n|---|---|---|")
    print(f"| sequential, {os.cpu_count()} threads | {seq:.1f} | {train:.1f} |")
    print(f"| parallel, 2 workers x 1 thread | {par:.1f} | "
          f"{sum(t['train_seconds'] for t in t_par) / 4:.1f} |")
    print(f"speed-up of the parallel sweep: {seq / par:.2f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="only (a)")
    p.add_argument("--only-b", action="store_true", help="only (b)")
    p.add_argument("--sweep", default="latent=32,64,128,256",
                   help="the 4 trials of (b) (default: %(default)s; seed=1,2,3,4: equal trials)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="aebench-bench-") as d:
        if args.only_b:
            return parallel_speedup(Path(d), args.sweep)
        costs = fixed_costs(Path(d))
        kept = costs["parallel (workers kept between trials)"]
        fresh = costs["parallel, fresh process per trial (remote.max_calls=1)"]
        basic = costs["basic (one process, sequential)"]
        print(f"\nOn an 8-GPU machine the parallel launcher keeps 8 workers, one per GPU, each "
              f"paying ~{kept:.1f} s per trial around its training (the measured cost of a kept "
              f"worker; torch, Lightning and CUDA start once per worker), where the basic "
              f"launcher runs the trials one after another on one GPU at ~{basic:.1f} s each "
              f"(a fresh process per trial would pay ~{fresh:.1f} s plus CUDA start-up).\n"
              f"Expected speed-up = 8 x (T + {basic:.1f}) / (T + {kept:.1f}) for trials training "
              f"T seconds (when there are at least 8 trials): "
              + ", ".join(f"T={t} s -> {8 * (t + basic) / (t + kept):.1f}x"
                          for t in (10, 60, 600)))
        if not args.quick:
            parallel_speedup(Path(d), args.sweep)


if __name__ == "__main__":
    main()

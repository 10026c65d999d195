"""How report.html grows with the size of a sweep: its size and the time to write it.

    .venv/bin/python benchmarks/report_scale.py                 # 1,000 trials (about a minute)
    .venv/bin/python benchmarks/report_scale.py -n 300 -n 1000  # several sizes
    .venv/bin/python benchmarks/report_scale.py --trial RUN_DIR # copies of a run you have

One small real trial is trained first (unet_small on 64 procedural shapes, one epoch, no
logger; about 20 s on 2 cores) unless --trial names a finished run folder. A fake sweep of N
trials is then made of copies of it: each copy holds the trial's metrics.json (its test PSNR
moved by a seeded offset, latent and blur varied over 4 x 3 values so that the knob plots
have lines, one trial in 50 failed with an error.txt), .hydra/overrides.yaml and the files
report.html shows or links (reconstructions.png, loss_curve.png, its own report.html).
Checkpoints and W&B files are not copied: no report reads them. Printed per N: the size of
report.html and the seconds `html_report.write_report` took, then the seconds of the whole
end of a sweep (`report.write_leaderboard`: leaderboard.md/.csv, plots, report.html).
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

COPIED = ("reconstructions.png", "loss_curve.png", "report.html", "README.md")
LATENTS, BLURS = (16, 32, 64, 128), (0.5, 1.0, 2.0)


def real_trial(where: Path) -> Path:
    """One small real run: unet_small on 64 shapes, 1 epoch, no logger."""
    from aebench.core.config import compose
    from aebench.running.train import run

    out = where / "real"
    c = compose(["model=unet_small", "data.num_train=64", "data.num_test=32",
                 "data.batch_size=32", "trainer.max_epochs=1", "logger=none",
                 "callbacks=none"], out)
    run(c.cfg, c.choices, c.overrides)
    return out


def fake_sweep(trial: Path, n: int, sweep: Path, seed: int = 0) -> None:
    """N copies of `trial` below `sweep`/0..N-1 (see the module docstring)."""
    rng = random.Random(seed)
    metrics = json.loads((trial / "metrics.json").read_text())
    for i in range(n):
        folder = sweep / str(i)
        (folder / ".hydra").mkdir(parents=True)
        latent, blur = LATENTS[i % len(LATENTS)], BLURS[(i // len(LATENTS)) % len(BLURS)]
        overrides = [f"model={metrics.get('model')}", f"latent={latent}", f"blur={blur}",
                     f"seed={i}"]
        (folder / ".hydra" / "overrides.yaml").write_text(
            "".join(f"- {o}\n" for o in overrides))
        m = dict(metrics, latent=latent, blur=blur, seed=i, overrides=overrides,
                 output_dir=str(folder))
        if i % 50 == 49:
            m = {"status": "failed", "model": metrics.get("model"), "latent": latent,
                 "blur": blur, "overrides": overrides, "output_dir": str(folder),
                 "error": "RuntimeError: a fake failure", "error_file": str(folder / "error.txt")}
            (folder / "error.txt").write_text("Traceback (most recent call last):\n"
                                              "RuntimeError: a fake failure\n")
        else:
            offset = rng.uniform(-2.0, 2.0)
            for key in ("test_psnr", "psnr_gain"):
                if m.get(key) is not None:
                    m[key] = round(m[key] + offset, 4)
            for name in COPIED:
                if (trial / name).is_file():
                    shutil.copyfile(trial / name, folder / name)
        (folder / "metrics.json").write_text(json.dumps(m))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="benchmarks/report_scale.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, action="append", metavar="N",
                        help="trials in the fake sweep (repeat for several; default 1000)")
    parser.add_argument("--trial", type=Path, help="a finished run folder to copy "
                        "(default: train a small one)")
    args = parser.parse_args(argv)
    sizes = args.n or [1000]
    if any(n < 1 for n in sizes):
        parser.error(f"-n must be 1 or more, got {min(sizes)}")
    if args.trial is not None and not (args.trial / "metrics.json").is_file():
        parser.error(f"--trial {args.trial}: no metrics.json there; give a finished run folder")

    from aebench.running.html_report import write_report
    from aebench.running.leaderboard import write_leaderboard

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        trial = args.trial or real_trial(tmp)
        print(f"copies of {trial}")
        print(f"{'trials':>7}  {'report.html':>12}  {'write_report':>12}  {'write_leaderboard':>17}")
        for n in sizes:
            sweep = tmp / f"sweep-{n}"
            fake_sweep(trial, n, sweep)
            start = time.perf_counter()
            page = write_report(sweep)
            html_s = time.perf_counter() - start
            start = time.perf_counter()
            write_leaderboard(sweep)
            board_s = time.perf_counter() - start
            print(f"{n:>7}  {page.stat().st_size / 1e6:>9.2f} MB  {html_s:>10.2f} s  "
                  f"{board_s:>15.2f} s")
            shutil.rmtree(sweep)


if __name__ == "__main__":
    main()

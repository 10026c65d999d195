"""A blind restorer against the Wiener filter told sigma, at every blur and noise of the grid.

    python benchmarks/blind_grid.py RUN --data-dir DIR [--items 10000] [--blurs 0,0.5,1,1.5,2]
        [--noises 0,0.01] [--out rows.json]

RUN is a run folder or pretrained:NAME of a model trained on a blur range (model=wiener_unet_blind,
or any restorer). For each (blur, noise) the CIFAR-10 test items are degraded as a run's test
split is (Blur(sigma, noise_std, 8-bit), fixed per item) and scored (mean per-image PSNR): the
degraded input as is, the Wiener filter told sigma (model=wiener's network, tuned on 500
training images for that blur and noise as a run tunes it; none at blur 0) and the model. A
model with a sigma head (`estimate_sigma`) also gets its estimate's error at each true sigma (mean and mean absolute).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--blurs", default="0,0.5,1.0,1.5,2.0")
    ap.add_argument("--noises", default="0,0.01")
    ap.add_argument("--out", type=Path, help="also write the rows as JSON (scripts/readme_figure.py plots them)")
    args = ap.parse_args(argv)

    import torch

    from aebench.core.config import build, build_parts, compose
    from aebench.running.train import tune
    from aebench.core.data.base import to_float
    from aebench.core.degradations import Blur
    from aebench.core.metrics import psnr_per_image
    from aebench.running.trained import load_net

    loaded = load_net(args.run)
    net = loaded.net.eval()
    cfg = compose(["model=identity", "data=cifar10", f"data.root={args.data_dir}", "logger=none"],
                  "/tmp/blind_grid").cfg
    dm, _, _, _ = build_parts(cfg)  # the data, loaded once for every row
    dm.setup("test")
    wiener_node = compose(["model=wiener"], "/tmp/blind_grid_w").cfg.model.net
    clean = to_float(dm.test_x[:args.items])
    idx = torch.arange(len(clean))

    def batched(fn, x):
        with torch.no_grad():
            return torch.cat([fn(x[i:i + 500]) for i in range(0, len(x), 500)])

    rows = []
    for noise in [float(v) for v in args.noises.split(",")]:
        for sigma in [float(v) for v in args.blurs.split(",")]:
            deg = Blur(sigma, noise_std=noise, quantize=True)
            degraded = deg(clean, idx, "test")
            row = {"blur": sigma, "noise": noise,
                   "input": psnr_per_image(degraded, clean).mean().item(),
                   "model": psnr_per_image(batched(net, degraded).clamp(0, 1), clean).mean().item()}
            if sigma > 0:  # model=wiener's network on this degradation, tuned as a run tunes it
                wnet = build(wiener_node, input_shape=tuple(clean.shape[1:]), blur=deg)
                tune(wnet, dm, deg)
                row["wiener"] = psnr_per_image(batched(wnet, degraded).clamp(0, 1), clean).mean().item()
            if hasattr(net, "estimate_sigma") and getattr(net, "blind", False):
                est = batched(net.estimate_sigma, degraded)
                row["sigma_mean"], row["sigma_mae"] = est.mean().item(), (est - sigma).abs().mean().item()
            rows.append(row)
            print(" ".join(f"{k}={v:.3f}" for k, v in row.items()), flush=True)

    if args.out:
        import json

        args.out.write_text(json.dumps({"run": args.run, "items": len(clean), "rows": rows}, indent=1))
    print(f"\n{args.run}: CIFAR-10 test split ({len(clean)} images), 8-bit, mean per-image PSNR (dB)")
    print("| blur | noise | input as is | Wiener told sigma | model | model - Wiener | sigma estimate (mean / mean abs. error) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        w = r.get("wiener")
        est = f"{r['sigma_mean']:.3f} / {r['sigma_mae']:.3f}" if "sigma_mean" in r else "-"
        wiener = "-" if w is None else f"{w:.2f}"
        gain = "-" if w is None else f"{r['model'] - w:+.2f}"
        # an input returned exactly (blur 0, no noise): PSNR is only the MSE floor's 200 dB
        given = "(exact)" if r["input"] >= 199.99 else f"{r['input']:.2f}"
        print(f"| {r['blur']:g} | {r['noise']:g} | {given} | {wiener} | {r['model']:.2f} "
              f"| {gain} | {est} |")
    return 0


if __name__ == "__main__":
    from aebench.core.errors import ConfigError

    try:
        sys.exit(main())
    except ConfigError as err:  # bad input (a run, the data folder): one line, exit 2
        print(f"{Path(__file__).name}: error: {err}", file=sys.stderr)
        sys.exit(2)

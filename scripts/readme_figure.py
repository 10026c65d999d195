"""The README's pictures: a photograph no model saw, restored; PSNR against blur strength.

    python scripts/readme_figure.py --data-dir DIR [--model pretrained:wiener_unet_blur1]
        [--grid rows.json] [--out docs/img]

restoration.png: matplotlib's sample photograph (grace_hopper.jpg, 512 x 600, never in any
training set here) blurred as the model's runs were (its degradation: blur 1.0, 8-bit), then the
Wiener filter told sigma (its balance tuned on 500 CIFAR-10 training images, as model=wiener is),
then the model, beside the sharp photograph, whole images at full size, each titled with its PSNR
against the sharp one; a zoomed crop below. blind_vs_wiener.png (with --grid, the JSON of
benchmarks/blind_grid.py --out): test PSNR against blur for the input, the Wiener filter told
sigma and the blind model, with and without noise.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--model", default="pretrained:wiener_unet_blur1")
    ap.add_argument("--grid", type=Path)
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    args = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import torch
    from PIL import Image

    from aebench.core.config import build_parts, compose
    from aebench.running.train import tune
    from aebench.core.metrics import psnr_per_image
    from aebench.running.trained import load_net

    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    sharp = torch.from_numpy(np.asarray(Image.open(photo).convert("RGB"), dtype=np.float32) / 255)
    sharp = sharp.permute(2, 0, 1)[None]
    loaded = load_net(args.model)
    degradation = loaded.degradation
    blurred = degradation(sharp, torch.arange(1), "test")
    sigma = degradation.sigma
    wcfg = compose(["model=wiener", "data=cifar10", f"data.root={args.data_dir}", f"blur={sigma}",
                    "logger=none"], "/tmp/readme_figure").cfg
    wdm, wdeg, wiener_tuned, _ = build_parts(wcfg)
    info = tune(wiener_tuned, wdm, wdeg)
    with torch.no_grad():
        from aebench.core.config import build

        wnet = build(wcfg.model.net, input_shape=tuple(sharp.shape[1:]))
        wnet.balance.fill_(info["balance"])
        wiener = wnet(blurred).clamp(0, 1)
        restored = loaded.make(tuple(sharp.shape[1:]))(blurred).clamp(0, 1)
    panels = [("blurred (sigma %g, 8-bit)" % sigma, blurred), ("Wiener filter told sigma", wiener),
              (f"{loaded.name} ({args.model})", restored), ("sharp", sharp)]
    fig, axes = plt.subplots(2, 4, figsize=(16, 9.2))
    h, w = sharp.shape[-2:]
    crop = (slice(h // 5, h // 5 + 128), slice(w // 3, w // 3 + 128))
    for j, (title, img) in enumerate(panels):
        arr = img[0].permute(1, 2, 0).numpy()
        score = "" if img is sharp else f": {psnr_per_image(img, sharp).item():.2f} dB"
        axes[0, j].imshow(arr)
        axes[0, j].set_title(title + score, fontsize=10)
        axes[1, j].imshow(arr[crop], interpolation="nearest")
        for ax in axes[:, j]:
            ax.set_axis_off()
    fig.suptitle(f"A photograph no model saw ({photo.name}, {w}x{h}), restored at full size", fontsize=12)
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / "restoration.png", dpi=72)
    print(f"{args.out / 'restoration.png'}: " + ", ".join(
        f"{t} {psnr_per_image(i, sharp).item():.2f} dB" for t, i in panels[:3]))

    if args.grid:
        grid = json.loads(args.grid.read_text())
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        for ax, noise in zip(axes, sorted({r["noise"] for r in grid["rows"]})):
            rows = [r for r in grid["rows"] if r["noise"] == noise]
            for key, label, style in (("input", "blurred input as is", "k:"),
                                      ("wiener", "Wiener filter told sigma", "C0--"),
                                      ("model", f"blind model ({grid['run']})", "C3-")):
                pts = [(r["blur"], r[key]) for r in rows if r.get(key) is not None]
                ax.plot(*zip(*pts), style, marker="o", label=label)
            ax.set_title(f"noise {noise:g}")
            ax.set_xlabel("blur sigma")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel(f"CIFAR-10 test PSNR, dB ({grid['items']} images, 8-bit)")
        axes[0].legend()
        fig.tight_layout()
        fig.savefig(args.out / "blind_vs_wiener.png", dpi=80)
        print(args.out / "blind_vs_wiener.png")
    return 0


if __name__ == "__main__":
    from aebench.core.errors import ConfigError

    try:
        sys.exit(main())
    except ConfigError as err:  # bad input (a run, the data folder): one line, exit 2
        print(f"{Path(__file__).name}: error: {err}", file=sys.stderr)
        sys.exit(2)

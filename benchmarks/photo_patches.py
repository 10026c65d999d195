"""Photographs that are not CIFAR images, cut into patches, for `python -m aebench.restore`.

    python benchmarks/photo_patches.py OUT_DIR [--size 96] [--per-image 8]

The photographs ship with packages aebench installs: matplotlib's grace_hopper.jpg and
scikit-learn's china.jpg and flower.jpg. Each is cut into `--per-image` patches of
`--size` x `--size` pixels on a fixed grid (no randomness), written as PNG.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image


def photographs() -> list[Path]:
    import matplotlib
    import sklearn

    mpl = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    skl = Path(sklearn.__file__).parent / "datasets" / "images"
    return [mpl, skl / "china.jpg", skl / "flower.jpg"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--per-image", type=int, default=8)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written = 0
    for photo in photographs():
        with Image.open(photo) as img:
            img = img.convert("RGB")
            w, h = img.size
            cols = 4
            rows = (args.per_image + cols - 1) // cols
            for k in range(args.per_image):
                r, c = divmod(k, cols)
                x = (c + 1) * (w - args.size) // (cols + 1)
                y = (r + 1) * (h - args.size) // (rows + 1)
                img.crop((x, y, x + args.size, y + args.size)).save(
                    args.out / f"{photo.stem}_{k}.png")
                written += 1
    print(f"{written} patches of {args.size}x{args.size} in {args.out}")


if __name__ == "__main__":
    main()

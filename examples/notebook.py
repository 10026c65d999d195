"""aebench from Python, as in a notebook: train a small model, restore an image of another size,
plot blurred | restored | sharp. Each `# %%` block is a notebook cell (VS Code, Jupytext).

    python examples/notebook.py [OUT_DIR]     # writes OUT_DIR/run/ and OUT_DIR/restored.png

The settings are the tests' tiniest (64 procedural images, one epoch): the example shows the
calls, not a good model (after one such epoch the restored image is worse than the blurred one);
for one, train longer and on more data (`make run` trains unet_small for its leaderboard).
The tests run this file (tests/test_api.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import aebench

out = Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/notebook")

# %% train: the command line's overrides, as a list; the finished run comes back
run = aebench.train(["model=unet_small", "data=shapes", "data.num_train=64", "data.num_test=32",
                     "data.batch_size=16", "trainer.max_epochs=1", "callbacks=none",
                     "logger=none"], output_dir=out / "run")
print(f"{run.metrics['model']}: test PSNR {run.metrics['test_psnr']:.2f} dB, the blurred input "
      f"{run.metrics['baseline_psnr']:.2f} dB ({run.run_dir})")

# %% a sharp image of another size than the 32 x 32 training images (H x W x 3, uint8)
yy, xx = np.mgrid[0:75, 0:93]
sharp = np.stack([40 + xx * 2, 60 + yy * 2, 200 - xx - yy], axis=-1)
sharp[(yy - 37) ** 2 + (xx - 30) ** 2 < 18 ** 2] = (230, 200, 40)   # a disc
sharp[10:30, 55:85] = (30, 90, 220)                                 # a rectangle
sharp = np.clip(sharp, 0, 255).astype(np.uint8)

# %% load the run's model, blur the image as in training, restore it: same shape and dtype back
model = aebench.load(run.run_dir)
blurred = model.degrade(sharp)
restored = model.restore(blurred)
assert restored.shape == sharp.shape and restored.dtype == np.uint8


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) / 255.0 ** 2
    return 10 * np.log10(1 / max(mse, 1e-12))


print(f"PSNR against the sharp image: blurred {psnr(blurred, sharp):.2f} dB, restored "
      f"{psnr(restored, sharp):.2f} dB")

# %% plot (in a notebook the figure shows inline; here it is written to a file)
import matplotlib  # noqa: E402

matplotlib.use("Agg") if "ipykernel" not in sys.modules else None
import matplotlib.pyplot as plt  # noqa: E402

fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, image, title in zip(axes, (blurred, restored, sharp), ("blurred", "restored", "sharp")):
    ax.imshow(image)
    ax.set_title(f"{title} ({psnr(image, sharp):.1f} dB)" if title != "sharp" else title)
    ax.axis("off")
fig.tight_layout()
fig.savefig(out / "restored.png", dpi=100)
print(f"wrote {out / 'restored.png'}")

# %% more: model.evaluate(["blur=2.0"]) scores it under a stronger blur (nothing trained again),
# model.export("onnx") writes it for use outside aebench (docs/api.md)

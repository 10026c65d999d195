"""What a run leaves behind: metrics.json, reconstructions.png, loss_curve.png, report.html,
its results in the experiment logger, and the summary table."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def write_json(data: dict, path: Path) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def save_reconstructions(examples: dict, path: Path, title: str = "") -> None:
    """Rows: original, degraded, output (images); or one line plot per sequence."""
    clean, degraded, output = examples["clean"], examples["degraded"], examples["output"]
    n = len(clean)
    if clean.ndim == 4:
        fig, axes = plt.subplots(3, n, figsize=(1.3 * n, 4.2), squeeze=False)
        for row, (label, batch) in enumerate([("original", clean), ("degraded", degraded),
                                              ("output", output)]):
            for i in range(n):
                ax = axes[row][i]
                img = batch[i].float().clamp(0, 1).permute(1, 2, 0).numpy()
                ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1,
                          interpolation="nearest")
                ax.set_xticks([]), ax.set_yticks([])
                if i == 0:
                    ax.set_ylabel(label)
    else:
        cols = min(n, 4)
        fig, axes = plt.subplots(1, cols, figsize=(3.5 * cols, 3), squeeze=False)
        for i in range(cols):
            ax = axes[0][i]
            ax.plot(degraded[i, :, 0].numpy(), ".", color="0.6", label="degraded")
            ax.plot(clean[i, :, 0].numpy(), "-", color="k", label="original")
            ax.plot(output[i, :, 0].numpy(), "-", color="C1", label="output")
            ax.set_xlabel("t")
        axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_loss_curve(history: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    epochs = [h["epoch"] + 1 for h in history]
    for key, label in [("train/loss_epoch", "train loss"), ("val/loss", "val loss")]:
        vals = [h.get(key, math.nan) for h in history]
        if any(not math.isnan(v) for v in vals):
            ax.plot(epochs, vals, "o-", label=label)
    base = [h.get("val/baseline_mse") for h in history]
    if base and base[-1] is not None:
        ax.axhline(base[-1], color="0.5", ls="--", label="baseline val MSE")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def publish(metrics: dict, out_dir: Path, logger=None, best_val: dict | None = None) -> Path:
    """After metrics.json and the PNGs are written: the model card, the run's report.html (one
    self-contained page, aebench.html_report) and its results in the experiment logger
    (loggers.log_results: on W&B the summary under metrics.json's names, `best_val` (the tested
    epoch's validation scores), the images). Returns the report's path."""
    from aebench.html_report import write_report
    from aebench.loggers import log_results

    out_dir = Path(out_dir)
    write_model_card(metrics, out_dir)
    report = write_report(out_dir)
    log_results(logger, metrics, out_dir, best_val=best_val)
    return report


#: the classical filters on this project's CIFAR-10 copy, test split (PSNR / SSIM), measured
#: through the entry point (docs/results.md; ../shared/field-notes.md): (blur, noise) -> rows
CLASSICAL_CIFAR10 = {  # model=unsharp / model=wiener tuned per blur (benchmarks/blur_grid.py)
    (0.5, 0.0): {"unsharp masking": (47.67, 0.999), "Wiener deconvolution": (53.91, 0.999)},
    (1.0, 0.0): {"unsharp masking": (30.58, 0.949), "Wiener deconvolution": (34.99, 0.972)},
    (1.5, 0.0): {"unsharp masking": (26.05, 0.856), "Wiener deconvolution": (28.89, 0.909)},
    (2.0, 0.0): {"unsharp masking": (23.74, 0.761), "Wiener deconvolution": (25.51, 0.813)},
    (0.5, 0.01): {"unsharp masking": (36.46, 0.971), "Wiener deconvolution": (36.71, 0.975)},
    (1.0, 0.01): {"unsharp masking": (27.53, 0.871), "Wiener deconvolution": (29.09, 0.901)},
    (1.5, 0.01): {"unsharp masking": (24.25, 0.750), "Wiener deconvolution": (25.92, 0.823)},
    (2.0, 0.01): {"unsharp masking": (22.47, 0.656), "Wiener deconvolution": (24.04, 0.749)},
}


def write_model_card(metrics: dict, out_dir: Path) -> Path:
    """RUN_DIR/README.md: what was trained, how it scored beside its baseline, and the commands
    that reproduce, restore with, evaluate and export it."""
    out_dir = Path(out_dir)
    m = metrics
    run = str(out_dir)
    overrides = " ".join(str(o) for o in m.get("overrides") or [])
    lines = [f"# {m.get('model')} on {m.get('data')} ({m.get('degradation_detail') or m.get('degradation')})",
             "", "| | |", "| --- | --- |"]
    for label, key in [("model", "model"), ("data", "data"), ("degradation", "degradation_detail"),
                       ("epochs / steps", None), ("parameters", "params"), ("code size", "code_size"),
                       ("compression", "compression_ratio"), ("train time", "train_seconds"),
                       ("device", "device"), ("seed", "seed")]:
        if key is None:
            value = f"{m.get('epochs')} / {m.get('global_steps')}"
        else:
            value = m.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                value = f"{value:,}"
            if key == "train_seconds" and value is not None:
                value = f"{value} s"
        lines.append(f"| {label} | {value} |")
    lines += ["", "## Test scores", "", "| | " + " | ".join(
        k.upper() for k in ("psnr", "ssim", "mse", "mae") if f"test_{k}" in m) + " |",
        "| --- |" + " --- |" * sum(f"test_{k}" in m for k in ("psnr", "ssim", "mse", "mae"))]
    keys = [k for k in ("psnr", "ssim", "mse", "mae") if f"test_{k}" in m]
    fmt = {"psnr": "{:.2f} dB", "ssim": "{:.4f}", "mse": "{:.6f}", "mae": "{:.5f}"}
    lines.append("| this model | " + " | ".join(fmt[k].format(m[f"test_{k}"]) for k in keys) + " |")
    lines.append(f"| baseline: {m.get('baseline')} | " + " | ".join(
        fmt[k].format(m[f"baseline_{k}"]) if f"baseline_{k}" in m else "" for k in keys) + " |")
    noise = 0.0
    for part in str(m.get("degradation_detail") or "").split(","):
        if "noise" in part:
            try:
                noise = float(part.split()[-1])
            except ValueError:
                pass
    blur = m.get("blur")  # a number, or a range [lo, hi] (a blind model: no one filter to cite)
    known = CLASSICAL_CIFAR10.get((blur, noise)) if m.get("data") == "cifar10" and \
        m.get("degradation") == "blur" and isinstance(blur, (int, float)) else None
    for name, (psnr, ssim) in (known or {}).items():
        lines.append(f"| {name} (reference, docs/results.md) | {psnr:.2f} dB | {ssim:.3f} |"
                     + " |" * (len(keys) - 2))
    if "psnr_gain" in m:
        lines += ["", f"Gain over the baseline: {m['psnr_gain']:+.2f} dB PSNR."]
    lines += ["", "## Commands", "", "```",
              f"python -m aebench {overrides}    # reproduce (seed {m.get('seed')})".replace("  #", " #"),
              f"python -m aebench.restore {run} IMAGES... --out restored/   # apply to your images",
              f"python -m aebench.evaluate {run} blur=2.0                  # score under another blur",
              f"python -m aebench.export {run} --format onnx               # or torchscript",
              "```", ""]
    path = out_dir / "README.md"
    path.write_text("\n".join(lines))
    return path


def summary_table(metrics: dict):
    """A one-screen rich table: the model next to its baseline."""
    from rich.table import Table

    table = Table(title=f"aebench: {metrics['model']} on {metrics['data']} ({metrics['degradation']})")
    table.add_column("test metric")
    table.add_column("model", justify="right")
    table.add_column(f"baseline ({metrics['baseline']})", justify="right")
    for key, fmt in [("psnr", "{:.2f} dB"), ("ssim", "{:.4f}"), ("mse", "{:.6f}"), ("mae", "{:.5f}")]:
        if f"test_{key}" in metrics:
            table.add_row(key.upper(), fmt.format(metrics[f"test_{key}"]),
                          fmt.format(metrics[f"baseline_{key}"]))
    if "psnr_gain" in metrics:
        table.add_row("PSNR gain", f"{metrics['psnr_gain']:+.2f} dB", "")
    table.add_row("parameters", f"{metrics['params']:,}", "")
    table.add_row("code size", f"{metrics['code_size']:,} numbers/item", "")
    if "compression_ratio" in metrics:
        table.add_row("compression", f"{metrics['input_size']:,} -> {metrics['code_size']:,} "
                      f"({metrics['compression_ratio']:g}x)", "")
    if "probe_accuracy" in metrics:
        table.add_row("linear probe", f"{metrics['probe_accuracy']:.1%} on codes",
                      f"{metrics['probe_accuracy_pixels']:.1%} on pixels")
    if "anomaly_auroc" in metrics:
        table.add_row("anomaly AUROC", f"{metrics['anomaly_auroc']:.3f} "
                      f"({metrics['anomaly_holdout_class']} held out)", "")
    table.add_row("epochs / train time", f"{metrics['epochs']} / {metrics['train_seconds']:.1f} s",
                  "")
    table.add_row("train speed", f"{metrics['train_images_per_second']:.0f} items/s", "")
    table.caption = f"results in {metrics['output_dir']}"
    return table

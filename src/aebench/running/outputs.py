"""What a run leaves behind: metrics.json, reconstructions.png, loss_curve.png, report.html,
its results in the experiment logger, and the summary table."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from aebench.core.metrics import gain_db


def _pyplot():
    """matplotlib's pyplot on the Agg backend (imported when a picture is drawn: the one-line
    summaries below are wanted before the heavy imports)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_json(data: dict, path: Path) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def save_reconstructions(examples: dict, path: Path, title: str = "") -> None:
    """Rows: original, degraded, output (images); or one line plot per sequence."""
    plt = _pyplot()
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
    plt = _pyplot()
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
    if ax.get_legend_handles_labels()[0]:  # a filter row has no losses to label
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def publish(metrics: dict, out_dir: Path, logger=None, best_val: dict | None = None) -> Path:
    """After metrics.json and the PNGs are written: the model card, the run's report.html (one
    self-contained page, aebench.running.html_report) and its results in the experiment logger
    (loggers.log_results: on W&B the summary under metrics.json's names, `best_val` (the tested
    epoch's validation scores), the images). Returns the report's path."""
    from aebench.running.html_report import write_report
    from aebench.running.loggers import log_results

    out_dir = Path(out_dir)
    write_model_card(metrics, out_dir)
    report = write_report(out_dir)
    log_results(logger, metrics, out_dir, best_val=best_val)
    return report


#: the classical filters on this project's CIFAR-10 copy, test split (PSNR / SSIM), measured
#: through the entry point (docs/results.md): (blur, noise) -> rows
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
    known = _classical_cifar10(m)
    for name, (psnr, ssim) in (known or {}).items():
        lines.append(f"| {name} (reference, docs/results.md) | {psnr:.2f} dB | {ssim:.3f} |"
                     + " |" * (len(keys) - 2))
    if "psnr_gain" in m:
        lines += ["", f"Gain over the baseline: {m['psnr_gain']:+.2f} dB PSNR."]
    lines += ["", "## Commands", "", "```",
              f"python -m aebench {overrides}    # reproduce (seed {m.get('seed')})".replace("  #", " #"),
              f"python -m aebench.restore {run} IMAGES... --out restored/   # apply to your images",
              f"python -m aebench.evaluate {run} blur=2.0                  # score under another blur",
              f"python -m aebench.export {run} --format onnx               # or pt2, torchscript",
              "```", ""]
    path = out_dir / "README.md"
    path.write_text("\n".join(lines))
    return path


def config_line(cfg, names: dict, out_dir) -> str:
    """The run's config in one line, printed when it starts: what is trained on what, the knobs
    it uses (after `config.apply_knobs`: the model's own values where none was set), how long,
    and where its results go."""
    knobs = [f"{k}={cfg.get(k)}" for k in ("latent", "depth", "blur", "lr", "loss", "schedule",
                                           "seed") if cfg.get(k) is not None]
    trainer = cfg.get("trainer") or {}
    data = cfg.get("data") or {}
    how = [f"max_epochs={trainer.get('max_epochs')}", f"batch_size={data.get('batch_size')}",
           f"precision={trainer.get('precision')}", f"accelerator={trainer.get('accelerator')}"]
    return (f"aebench: {names.get('model')} on {names.get('data')} ({names.get('degradation')})"
            f" | {' '.join(knobs)} | {' '.join(h for h in how if not h.endswith('=None'))}"
            f" | -> {out_dir}")


#: what the input-as-is baseline is called, by degradation
_INPUT = {"blur": "the blurred input", "noise": "the noisy input"}


def baseline_words(metrics: dict) -> str:
    """The baseline in words: "returning the blurred input", "PCA with the same code size"."""
    base = str(metrics.get("baseline") or "")
    if base.startswith("pca"):
        return f"PCA with the same code size ({metrics.get('code_size', '?'):,} numbers)" \
            if isinstance(metrics.get("code_size"), int) else "PCA with the same code size"
    detail = str(metrics.get("degradation_detail") or "")
    if "blur" in detail and "noise" in detail:
        return "returning the degraded input"
    return "returning " + _INPUT.get(str(metrics.get("degradation")), "the input as is")


def verdict(metrics: dict) -> str | None:
    """The score beside its baseline in plain words: "better than returning the blurred input
    by 7.29 dB" (PSNR; sequences: the baseline's MSE over the model's in dB), then, for
    CIFAR-10 deblurring at a blur whose Wiener score was measured (`CLASSICAL_CIFAR10`), what
    the Wiener filter scores; that clause is left out where no score is known."""
    psnr, base = metrics.get("test_psnr"), metrics.get("baseline_psnr")
    if psnr is not None and base is not None:
        gain = psnr - base
    elif metrics.get("test_mse") and metrics.get("baseline_mse"):
        gain = gain_db(metrics["baseline_mse"], metrics["test_mse"])
    else:
        return None
    words = baseline_words(metrics)
    if abs(gain) < 0.005:
        line = f"as good as {words} (within 0.01 dB)"
    else:
        line = f"{'better' if gain > 0 else 'worse'} than {words} by {abs(gain):.2f} dB"
    known = _classical_cifar10(metrics)
    wiener = (known or {}).get("Wiener deconvolution")
    if wiener and metrics.get("model") != "wiener":
        line += (f"; the Wiener filter scores {wiener[0]:.2f} dB on this task (CIFAR-10's full "
                 "test set, docs/results.md)")
    return line


def _classical_cifar10(metrics: dict) -> dict | None:
    """The classical rows measured for this run's task (CIFAR-10, a fixed blur, noise or not)."""
    blur = metrics.get("blur")  # a number, or a range [lo, hi] (a blind model: no one filter)
    noise = metrics.get("noise_std") or 0.0  # the degradation's, as metrics.json records it
    if metrics.get("data") != "cifar10" or metrics.get("degradation") != "blur" or \
            not isinstance(blur, (int, float)) or isinstance(blur, bool) or \
            not isinstance(noise, (int, float)):
        return None
    return CLASSICAL_CIFAR10.get((float(blur), float(noise)))


def summary_lines(metrics: dict) -> list[str]:
    """What a run prints at its end: the score beside its baseline, the verdict, what was
    trained and how fast, and the folder its results are in (the W&B line follows:
    loggers.run_note)."""
    m = metrics
    base = baseline_words(m).replace("returning ", "")
    head = f"{m.get('model')} on {m.get('data')} ({m.get('degradation_detail') or m.get('degradation')})"
    if m.get("test_psnr") is not None:
        score = f"test PSNR {m['test_psnr']:.2f} dB"
        if m.get("test_ssim") is not None:
            score += f", SSIM {m['test_ssim']:.3f}"
        if m.get("baseline_psnr") is not None:
            score += f" ({base}: {m['baseline_psnr']:.2f} dB"
            score += f", {m['baseline_ssim']:.3f})" if m.get("baseline_ssim") is not None else ")"
    elif m.get("test_mse") is not None:
        score = f"test MSE {m['test_mse']:.6f}"
        if m.get("baseline_mse") is not None:
            score += f" ({base}: {m['baseline_mse']:.6f})"
    else:
        score = "no test score"
    lines = [f"{head}: {score}"]
    said = verdict(m)
    if said:
        lines.append(f"verdict: {said}")
    facts = []
    if m.get("params") is not None:
        facts.append(f"{m['params']:,} parameters" if m["params"] else "no trained parameters")
    if m.get("code_size") is not None:
        code = f"code {m['code_size']:,} numbers per item"
        if m.get("compression_ratio"):
            code += f" ({m['compression_ratio']:g}x smaller than the input)" \
                if m["compression_ratio"] > 1 else ""
        facts.append(code)
    if m.get("params") and m.get("epochs") is not None and m.get("train_seconds") is not None:
        speed = (f", {m['train_images_per_second']:.0f} items/s"
                 if m.get("train_images_per_second") else "")
        facts.append(f"{m['epochs']} epoch{'s' if m['epochs'] != 1 else ''} in "
                     f"{m['train_seconds']:.1f} s{speed}")
    if facts:
        lines.append("; ".join(facts))
    if "probe_accuracy" in m:
        lines.append(f"linear probe: {m['probe_accuracy']:.1%} on the codes, "
                     f"{m.get('probe_accuracy_pixels', float('nan')):.1%} on the pixels")
    if "anomaly_auroc" in m:
        lines.append(f"anomaly AUROC {m['anomaly_auroc']:.3f} "
                     f"({m.get('anomaly_holdout_class')} held out)")
    folder = m.get("output_dir")
    files = [n for n in ("metrics.json", "report.html", "README.md")
             if folder and (Path(folder) / n).is_file()]
    lines.append(f"results: {folder}" + (f" ({', '.join(files)})" if files else ""))
    return lines


def summary_table(metrics: dict):
    """`summary_lines` as one rich renderable (what `rich.console.Console().print` takes)."""
    from rich.text import Text

    return Text("\n".join(summary_lines(metrics)), no_wrap=True, overflow="ignore")

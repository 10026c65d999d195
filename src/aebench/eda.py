"""Data exploration in one command: `aebench eda data=cifar10 data.root=DIR`.

Takes the same config and overrides as training (`data=...`, `data.root=...`, `logger=...`,
`experiment=...`) and writes into `outputs/eda/<date>/<time>/` (or `hydra.run.dir=DIR`):

  stats.json                per split (train, val, test) and for all together: item counts,
                            counts per class, and value statistics, e.g.
                            `splits.test.channel_mean_255` (images: per channel, on the 0-255
                            and on the 0-1 scale, plus overall mean/std/min/max and the channel
                            correlation matrix; sequences: mean/std/min/max and lengths)
  class_balance.png         items per class, one bar per split (labelled data only)
  pixel_histograms.png      training values per channel, 256 bins on the 0-255 scale
  channel_correlation.png   channel x channel correlation over all training pixels (RGB)
  samples.png               a grid of training images with their class names
  degradations.png          the same test images clean and blurred (sigma 0.5, 1, 1.5, 2 by
                            default, the project's Blur with 8-bit rounding), PSNR per row
Sequences (data=sine): stats.json, samples.png (clean and with the configured noise
degradation) and value_histogram.png.

Examples:
  aebench eda data=cifar10 data.root=/data logger=none
  aebench eda data=mnist +eda.sigmas=[1,2,3] +eda.samples=16
  aebench eda data=sine                     # with the default W&B logger

Statistics are accumulated in float64, blockwise, and blocks and splits are merged with Chan's
pairwise update; values that are exact 8-bit levels (k/255) are counted as the integer k, so
a constant image gives exactly its value and a zero spread. "std" is the population standard
deviation over all values. With the W&B logger (the default), the figures and the headline
numbers are logged too (offline without a key or network); logger=none/csv write only files.
"""
from __future__ import annotations

import datetime
import math
import os
import time
from pathlib import Path

import matplotlib
import numpy as np
import torch

from aebench.core.data.base import to_float

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SPLITS = ("train", "val", "test")
SIGMAS = (0.5, 1.0, 1.5, 2.0)  # blur strengths of degradations.png (+eda.sigmas=[...])
NUM_SAMPLES = 32  # training images in samples.png (+eda.samples=N), 8 per row
PER_ROW = 8
BLOCK = 1024  # items per block of the float64 accumulation
FILES = {  # what each figure shows, written into stats.json
    "class_balance.png": "items per class, one bar per split",
    "pixel_histograms.png": "training split: values per channel, 256 bins on the 0-255 scale",
    "channel_correlation.png": "training split: channel x channel correlation over all pixels",
    "samples.png": "the first training images, with their class names",
    "degradations.png": "the first test images, clean and blurred (Blur, 8-bit rounding); "
                        "each row's mean PSNR against the clean images",
}
SEQUENCE_FILES = {
    "samples.png": "the first test sequences, clean and with the configured degradation "
                   "(its fixed evaluation noise)",
    "value_histogram.png": "values of each split (density)",
}


# -- statistics ---------------------------------------------------------------------------

class Moments:
    """Count, per-channel mean, co-moment matrix, min and max of (C, M) blocks, in float64."""

    def __init__(self, channels: int, bins: int = 0):
        self.n = 0
        self.mean = np.zeros(channels)
        self.m2 = np.zeros((channels, channels))  # sum of (x_i - mean_i)(x_j - mean_j)
        self.min = np.full(channels, np.inf)
        self.max = np.full(channels, -np.inf)
        self.hist = np.zeros((channels, bins), dtype=np.int64) if bins else None

    def merge(self, n: int, mean: np.ndarray, m2: np.ndarray) -> None:
        """Chan et al.: add a group of n values with its own mean and co-moments."""
        if n == 0:
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + np.outer(delta, delta) * (self.n * n / total)
        self.n = total

    def add_block(self, v: np.ndarray) -> None:
        if v.shape[1] == 0:
            return
        mean = v.mean(axis=1)
        d = v - mean[:, None]
        self.merge(v.shape[1], mean, d @ d.T)
        self.min = np.minimum(self.min, v.min(axis=1))
        self.max = np.maximum(self.max, v.max(axis=1))
        if self.hist is not None:  # bins centred on the levels 0..255
            for c, row in enumerate(v):
                self.hist[c] += np.histogram(row, bins=256, range=(-0.5, 255.5))[0]

    def add(self, other: "Moments") -> "Moments":
        self.merge(other.n, other.mean, other.m2)
        self.min = np.minimum(self.min, other.min)
        self.max = np.maximum(self.max, other.max)
        if self.hist is not None:
            self.hist += other.hist
        return self

    def std(self) -> np.ndarray:
        return np.sqrt(np.diag(self.m2) / self.n)

    def correlation(self) -> list:
        """Pearson correlation matrix; None where a channel does not vary."""
        sd = np.sqrt(np.diag(self.m2))
        return [[float(np.clip(self.m2[i, j] / (sd[i] * sd[j]), -1, 1))
                 if sd[i] > 0 and sd[j] > 0 else None
                 for j in range(len(sd))] for i in range(len(sd))]

    def overall(self) -> tuple[float, float, float, float]:
        """(mean, std, min, max) over every value of every channel (channels have equal counts)."""
        mean = self.mean.mean()
        var = (np.diag(self.m2) + self.n * (self.mean - mean) ** 2).sum() / (self.n * len(self.mean))
        return float(mean), float(math.sqrt(var)), float(self.min.min()), float(self.max.max())


def image_moments(x: torch.Tensor) -> Moments:
    """Per-channel moments and 256-bin histograms of images (N, C, H, W) on the 0-255 scale."""
    stats = Moments(x.shape[1], bins=256)
    for start in range(0, len(x), BLOCK):
        part = x[start:start + BLOCK]
        if part.dtype == torch.uint8:  # 8-bit data as loaded: the levels themselves
            v = part.double()
        else:
            levels = torch.round(part * 255)
            exact = torch.equal(levels / 255, part)  # stored as k/255: count the integer k
            v = levels.double() if exact else part.double() * 255
        stats.add_block(v.transpose(0, 1).reshape(x.shape[1], -1).numpy())
    return stats


def sequence_moments(x: torch.Tensor) -> Moments:
    """Moments of sequences (N, T, F), one channel per feature, on the data's own scale."""
    stats = Moments(x.shape[-1])
    for start in range(0, len(x), BLOCK):
        stats.add_block(x[start:start + BLOCK].double().reshape(-1, x.shape[-1]).T.numpy())
    return stats


def _floats(values) -> list[float]:
    return [float(v) for v in values]


def image_split_stats(m: Moments) -> dict:
    if m.n == 0:
        return {"count": 0}
    mean, std, lo, hi = m.overall()
    return {
        "channel_mean_255": _floats(m.mean), "channel_std_255": _floats(m.std()),
        "channel_min_255": _floats(m.min), "channel_max_255": _floats(m.max),
        "channel_mean_01": _floats(m.mean / 255), "channel_std_01": _floats(m.std() / 255),
        "mean_255": mean, "std_255": std, "min_255": lo, "max_255": hi,
        "mean_01": mean / 255, "std_01": std / 255, "min_01": lo / 255, "max_01": hi / 255,
        "channel_correlation": m.correlation(),
    }


def sequence_split_stats(m: Moments) -> dict:
    if m.n == 0:
        return {"count": 0}
    mean, std, lo, hi = m.overall()
    out = {"mean": mean, "std": std, "min": lo, "max": hi}
    if len(m.mean) > 1:
        out.update(feature_mean=_floats(m.mean), feature_std=_floats(m.std()))
    return out


def class_counts(y: torch.Tensor, classes: list[str]) -> dict[str, int]:
    counts = torch.bincount(y[y >= 0], minlength=len(classes)).tolist()
    return dict(zip(classes, counts))


def channel_names(c: int) -> list[str]:
    return {1: ["grey"], 3: ["R", "G", "B"]}.get(c, [f"ch{i}" for i in range(c)])


def channel_colours(c: int) -> list[str]:
    return {1: ["0.3"], 3: ["tab:red", "tab:green", "tab:blue"]}.get(c, [f"C{i}" for i in range(c)])


def psnr(clean: torch.Tensor, other: torch.Tensor) -> float:
    """Mean over items of their PSNR (data range 1); inf when every item is identical."""
    from aebench.core.metrics import psnr_of_mse

    mse = ((other.double() - clean.double()) ** 2).flatten(1).mean(1)
    return float(psnr_of_mse(mse, floor=0.0).mean())


# -- figures --------------------------------------------------------------------------------

def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _show(ax, img: torch.Tensor) -> None:
    img = img.float().clamp(0, 1).permute(1, 2, 0).numpy()
    ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([]), ax.set_yticks([])


def plot_class_balance(counts: dict, classes: list[str], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(classes) + 2), 4))
    width = 0.8 / len(counts)
    xs = np.arange(len(classes))
    for i, (split, per_class) in enumerate(counts.items()):
        ax.bar(xs + (i - (len(counts) - 1) / 2) * width, [per_class[c] for c in classes], width,
               label=f"{split} ({sum(per_class.values()):,})")
    ax.set_xticks(xs, classes, rotation=45 if len(classes) > 6 else 0, ha="right"
                  if len(classes) > 6 else "center")
    top = max((max(v.values(), default=0) for v in counts.values()), default=0)
    ax.set_ylim(0, 1.2 * top + 1)  # room for the legend above the bars
    ax.set_ylabel("items")
    ax.set_title(title)
    ax.legend(loc="upper center", ncol=len(counts), fontsize=9)
    _save(fig, path)


def plot_pixel_histograms(m: Moments, path: Path, title: str) -> None:
    names, colours = channel_names(len(m.mean)), channel_colours(len(m.mean))
    fig, ax = plt.subplots(figsize=(7, 4))
    for c in range(len(m.mean)):
        ax.stairs(m.hist[c], np.arange(257) - 0.5, color=colours[c],
                  label=f"{names[c]}: mean {m.mean[c]:.1f}, std {m.std()[c]:.1f}")
    ax.set_yscale("log")
    ax.set_xlim(-0.5, 255.5)
    ax.set_xlabel("value (0-255)")
    ax.set_ylabel("pixels (log scale)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_correlation(corr: list, names: list[str], path: Path, title: str) -> None:
    values = np.array([[np.nan if v is None else v for v in row] for row in corr])
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    im = ax.imshow(values, cmap="coolwarm", vmin=-1, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            v = values[i, j]
            ax.text(j, i, "n/a" if np.isnan(v) else f"{v:.3f}", ha="center", va="center",
                    color="white" if abs(np.nan_to_num(v)) > 0.6 else "black")
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title, fontsize=9)
    _save(fig, path)


def plot_samples(x: torch.Tensor, y: torch.Tensor, classes: list[str], path: Path,
                 title: str) -> None:
    rows = math.ceil(len(x) / PER_ROW)
    fig, axes = plt.subplots(rows, PER_ROW, figsize=(1.3 * PER_ROW, 1.45 * rows + 0.4),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(x):
            ax.axis("off")
            continue
        _show(ax, x[i])
        if 0 <= int(y[i]) < len(classes):
            ax.set_title(classes[int(y[i])], fontsize=8)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def plot_degradations(rows: list[tuple[str, torch.Tensor]], path: Path, title: str) -> None:
    n = len(rows[0][1])
    fig, axes = plt.subplots(len(rows), n, figsize=(1.3 * n + 1.2, 1.35 * len(rows) + 0.4),
                             squeeze=False)
    for r, (label, batch) in enumerate(rows):
        for i in range(n):
            _show(axes[r][i], batch[i])
        axes[r][0].set_ylabel(label, fontsize=8)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def plot_sequences(clean: torch.Tensor, degraded: torch.Tensor, path: Path, title: str) -> None:
    n = len(clean)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        for f in range(clean.shape[-1]):
            ax.plot(degraded[i, :, f].numpy(), ".", ms=3, color="0.55",
                    label="degraded" if f == 0 else None)
            ax.plot(clean[i, :, f].numpy(), "-", color=f"C{f}", label="clean" if f == 0 else None)
        ax.set_xlabel("t (step)", fontsize=8)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def plot_value_histogram(splits: dict[str, torch.Tensor], path: Path, title: str) -> None:
    values = {s: x.double().flatten().numpy() for s, x in splits.items() if x.numel()}
    lo = min(v.min() for v in values.values())
    hi = max(v.max() for v in values.values())
    edges = np.linspace(lo, hi if hi > lo else lo + 1, 61)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for split, v in values.items():
        ax.hist(v, bins=edges, density=True, histtype="step", lw=1.5, label=f"{split} ({len(v):,})")
    ax.set_xlabel("value")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8)
    _save(fig, path)


# -- the job --------------------------------------------------------------------------------

def explore_images(dm, out_dir: Path, data_name: str, options) -> tuple[dict, list[str]]:
    """stats.json content and figure files for image data (N, C, H, W)."""
    from aebench.core.degradations import Blur
    from aebench.core.errors import ConfigError

    split_x = {s: getattr(dm, f"{s}_x") for s in SPLITS}
    split_y = {s: getattr(dm, f"{s}_y") for s in SPLITS}
    c, h, w = split_x["train"].shape[1:]
    names = channel_names(c)
    moments = {s: image_moments(x) for s, x in split_x.items()}
    moments["all"] = Moments(c, bins=256)
    for s in SPLITS:
        moments["all"].add(moments[s])
    classes = [str(v) for v in (getattr(dm, "classes", None) or ())]
    labelled = bool(classes) and any(bool((y >= 0).any()) for y in split_y.values())

    stats = {"kind": "images", "image_shape": [c, h, w], "channels": names, "classes": classes,
             "value_scales": "*_255: 0-255 scale; *_01: 0-1 scale (the tensors the models see)",
             "splits": {}, "notes": [], "files": {}}
    for s in (*SPLITS, "all"):
        count = moments[s].n // (h * w)
        entry = {"count": count, **image_split_stats(moments[s])}
        if labelled:
            ys = [split_y[s]] if s != "all" else list(split_y.values())
            entry["class_counts"] = class_counts(torch.cat(ys), classes)
        stats["splits"][s] = entry

    figures = []
    if labelled:
        counts = {s: stats["splits"][s]["class_counts"] for s in SPLITS}
        plot_class_balance(counts, classes, out_dir / "class_balance.png",
                           f"{data_name}: items per class and split")
        figures.append("class_balance.png")
    else:
        stats["notes"].append("class_balance.png skipped: the data is unlabelled")

    plot_pixel_histograms(moments["train"], out_dir / "pixel_histograms.png",
                          f"{data_name}: training pixel values per channel")
    figures.append("pixel_histograms.png")

    if c > 1:
        plot_correlation(moments["train"].correlation(), names, out_dir / "channel_correlation.png",
                         f"{data_name}: channel correlation\n(training split, all pixels)")
        figures.append("channel_correlation.png")
        stats["channel_correlation"] = {"split": "train", "channels": names,
                                        "matrix": moments["train"].correlation()}
    else:
        stats["notes"].append("channel_correlation.png skipped: the images have one channel")

    n = min(int(options.get("samples", NUM_SAMPLES)), len(split_x["train"]))
    plot_samples(to_float(split_x["train"][:n]), split_y["train"][:n], classes if labelled else [],
                 out_dir / "samples.png", f"{data_name}: {n} training images")
    figures.append("samples.png")

    clean = to_float(split_x["test"][:PER_ROW])
    rows, psnrs = [("clean", clean)], {}
    for sigma in options.get("sigmas", SIGMAS):
        blur = Blur(sigma=float(sigma))
        try:
            blur.check((c, h, w))
        except ConfigError as err:
            stats["notes"].append(f"degradations.png: sigma {float(sigma):g} skipped ({err})")
            continue
        blurred = blur(clean, torch.arange(len(clean)), "test")
        value = psnr(clean, blurred)
        psnrs[str(float(sigma))] = value if math.isfinite(value) else None
        rows.append((f"blur σ={float(sigma):g}\nPSNR {value:.1f} dB", blurred))
    if len(clean):
        plot_degradations(rows, out_dir / "degradations.png",
                          f"{data_name}: {len(clean)} test images, clean and blurred (8-bit)")
        figures.append("degradations.png")
        stats["degradations"] = {
            "split": "test", "images": len(clean), "degradation": "Blur(sigma), 8-bit rounding",
            "psnr_db": psnrs, "psnr_note": "mean per-image PSNR (aebench.core.metrics.psnr_per_image), data range "
                                           "1; null when identical to the clean images"}
    stats["files"] = {f: FILES[f] for f in figures}
    return stats, figures


def explore_sequences(dm, degradation, out_dir: Path, data_name: str, options) -> tuple[dict, list]:
    """stats.json content and figure files for sequence data (N, T, F)."""
    split_x = {s: getattr(dm, f"{s}_x") for s in SPLITS}
    t, f = split_x["train"].shape[1:]
    moments = {s: sequence_moments(x) for s, x in split_x.items()}
    moments["all"] = Moments(f)
    for s in SPLITS:
        moments["all"].add(moments[s])
    stats = {"kind": "sequences", "item_shape": [t, f], "splits": {}, "notes": [], "files": {}}
    for s in (*SPLITS, "all"):
        stats["splits"][s] = {"count": moments[s].n // t, "length": t,
                              **sequence_split_stats(moments[s])}
    stats["notes"].append("no class, channel or blur figures for sequences")

    clean = split_x["test"][:min(int(options.get("samples", 8)), 8)]
    degraded = degradation(clean, torch.arange(len(clean)), "test")
    plot_sequences(clean, degraded.cpu(), out_dir / "samples.png",
                   f"{data_name}: test sequences, clean and {degradation.describe()}")
    plot_value_histogram(split_x, out_dir / "value_histogram.png", f"{data_name}: values per split")
    stats["degradation"] = {"split": "test", "describe": degradation.describe(),
                            "mse": float(((degraded.double() - clean.double()) ** 2).mean())}
    stats["files"] = dict(SEQUENCE_FILES)
    return stats, list(SEQUENCE_FILES)


def headline(stats: dict) -> dict:
    """Flat scalars for W&B's run summary: counts and value statistics per split."""
    out = {}
    for split, entry in stats["splits"].items():
        out[f"{split}/count"] = entry["count"]
        if stats["kind"] == "images" and "channel_mean_255" in entry:
            for name, mean, std in zip(stats["channels"], entry["channel_mean_255"],
                                       entry["channel_std_255"]):
                out[f"{split}/mean_255_{name}"] = mean
                out[f"{split}/std_255_{name}"] = std
            out[f"{split}/mean_255"], out[f"{split}/std_255"] = entry["mean_255"], entry["std_255"]
        elif "mean" in entry:
            out[f"{split}/mean"], out[f"{split}/std"] = entry["mean"], entry["std"]
    for sigma, value in (stats.get("degradations") or {}).get("psnr_db", {}).items():
        if value is not None:
            out[f"test/psnr_blur_{sigma}"] = value
    return out


def _print_summary(stats: dict, data_name: str) -> None:
    splits = stats["splits"]
    counts = " / ".join(f"{splits[s]['count']:,} {s}" for s in SPLITS)
    if stats["kind"] == "images":
        print(f"{data_name}: {counts} images of {'x'.join(map(str, stats['image_shape']))}")
        for s in (*SPLITS, "all"):
            if "channel_mean_255" in splits[s]:
                means = " ".join(f"{n} {v:7.3f}" for n, v in
                                 zip(stats["channels"], splits[s]["channel_mean_255"]))
                stds = " ".join(f"{n} {v:6.3f}" for n, v in
                                zip(stats["channels"], splits[s]["channel_std_255"]))
                print(f"  {s:5s}  mean (0-255) {means}   std {stds}")
    else:
        print(f"{data_name}: {counts} sequences of length {stats['item_shape'][0]}")
        for s in (*SPLITS, "all"):
            if "mean" in splits[s]:
                e = splits[s]
                print(f"  {s:5s}  mean {e['mean']:.4f}  std {e['std']:.4f}  "
                      f"min {e['min']:.4f}  max {e['max']:.4f}")


def run(cfg, data_name: str = "data") -> dict:
    """Load the configured data, write stats.json and the figures into cfg.paths.output_dir;
    return the stats. `data_name` is the data config's name (conf/data/)."""
    from omegaconf import OmegaConf

    from aebench.running import outputs
    from aebench.running.loggers import build_logger, finish_wandb
    from aebench.core.config import build_data, build_degradation, check_top_level

    start = time.perf_counter()
    check_top_level(cfg)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    options = cfg.get("eda") or {}

    datamodule = build_data(cfg)
    images = datamodule.train_x.ndim == 4
    degradation = None if images else build_degradation(cfg, datamodule.item_shape)

    logger_cfg = cfg.get("logger")
    wandb = bool(logger_cfg) and str(logger_cfg.get("_target_", "")).endswith("WandbLogger")
    logger = None
    if wandb:
        logger = build_logger(logger_cfg, OmegaConf.to_container(cfg, resolve=True),
                              name=f"eda-{data_name}", group=None, tags=["eda", data_name],
                              job_type="eda")
    failed = True
    try:
        if images:
            stats, figures = explore_images(datamodule, out_dir, data_name, options)
        else:
            stats, figures = explore_sequences(datamodule, degradation, out_dir, data_name, options)
        stats = {"data": data_name, "output_dir": str(out_dir),
                 "std_note": "population standard deviation (ddof=0) over all values",
                 **stats, "seconds": round(time.perf_counter() - start, 2)}
        outputs.write_json(stats, out_dir / "stats.json")
        if logger is not None:
            for name in figures:
                logger.log_image(key=f"eda/{Path(name).stem}", images=[str(out_dir / name)])
            logger.experiment.summary.update(headline(stats))
        _print_summary(stats, data_name)
        failed = False
    finally:
        note = finish_wandb(logger, failed)
        if note:
            print(note)
    print(f"EDA written to {out_dir} ({stats['seconds']:.1f} s)")
    return stats


def new_run_dir() -> Path:
    """outputs/eda/<date>/<time> under the working directory: a folder no run has used."""
    stamp = datetime.datetime.now().strftime("%Y-%m-%d/%H-%M-%S-%f")
    run_dir = Path.cwd() / "outputs" / "eda" / stamp
    while run_dir.exists():  # another run in the same microsecond
        run_dir = run_dir.with_name(run_dir.name + f"-{os.getpid()}")
    return run_dir


def command(args) -> int:
    """`aebench eda [OVERRIDES] [--cfg job]`: the same config as a
    training run (data=, data.root=, blur=, logger=); `hydra.run.dir=DIR` picks the folder
    (default outputs/eda/<date>/<time>). A run that fails its checks leaves no folder."""
    from aebench.core.errors import remove_new_folder
    from aebench.core.config import check_keys, compose
    from aebench.core.errors import ConfigError

    overrides = list(args.overrides)
    if args.multirun or any(a.startswith("hparams_search=") for a in overrides):
        raise ConfigError("eda runs one job: run it once per data set (no -m / hparams_search)")
    out = next((a.split("=", 1)[1] for a in overrides if a.startswith("hydra.run.dir=")), None)
    overrides = [a for a in overrides if not a.startswith("hydra.run.dir=")]
    check_keys(overrides)
    out_dir = Path(out).absolute() if out else new_run_dir()
    composed = compose(overrides, out_dir)
    if args.cfg:
        from omegaconf import OmegaConf

        print(OmegaConf.to_yaml(composed.cfg), end="")
        return 0
    fresh = not out_dir.exists()
    try:
        run(composed.cfg, str(composed.choices.get("data", "data")))
    except ConfigError:
        if fresh:
            remove_new_folder(out_dir)
        raise
    return 0


def parser():
    """`aebench eda`'s arguments (aebench.core.errors.Parser: one-line errors, examples)."""
    import argparse

    from aebench.core.errors import Parser

    p = Parser("eda", "Explore a data set: per-split statistics (stats.json), class balance, "
               "pixel histograms, channel correlation, samples and degradations, into "
               "outputs/eda/DATE/TIME (or hydra.run.dir=DIR). Same config and overrides as "
               "training.",
               ["aebench eda data=cifar10 data.root=/data logger=none",
                "aebench eda data=mnist +eda.sigmas=[1,2,3] +eda.samples=16",
                "aebench eda data=folder data.root=DIR --cfg job   # the config, nothing run"])
    p.add_argument("overrides", metavar="KEY=VALUE", nargs="*", default=[],
                   help="config overrides, as for training (data=, data.root=, blur=, logger=)")
    p.add_argument("--cfg", choices=("job",), help="print the composed config and exit")
    p.add_argument("-m", "--multirun", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> None:
    """`aebench eda ARGS` and `python -m aebench.eda ARGS` (the same code path)."""
    from aebench.core.errors import run_command

    run_command(parser(), command, argv)


if __name__ == "__main__":
    main()

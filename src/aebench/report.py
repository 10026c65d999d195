"""Sweep leaderboard: every trial below one or more folders in one table, plus plots.

    python -m aebench.report DIR [DIR ...] [--out OUT]

prints the leaderboard as a markdown table on stdout and writes, into OUT (default: the first
DIR), `report.html` (the whole sweep on one self-contained page: aebench.html_report),
`leaderboard.md`, `leaderboard.csv` and the plots `psnr_vs_latent.png`,
`psnr_vs_depth.png`, `psnr_vs_blur.png` (`mse_vs_*.png` for data without PSNR, e.g. sine), one
for each of those knobs that some model was run at two values or more.

From Python (a Hydra callback calls this at the end of every multirun):

    from aebench.report import write_leaderboard
    write_leaderboard("multirun/2026-11-23/10-00-00-123456")   # -> {"markdown": Path, ...}

A trial is a folder holding `metrics.json` (written when the run ends; `status` is "ok" or
"failed", missing means "ok") or only `.hydra/overrides.yaml` (written when it starts: the trial
is still running or was killed, and is listed as "unfinished"). Rows: finished trials best first
(highest test PSNR; lowest test MSE for data without PSNR), then failed ones with their one-line
error, then unfinished ones. Each row shows the trial's baseline and the gain over it.

This module imports neither torch, Lightning nor Hydra, so it runs anywhere the results are.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sys
from pathlib import Path

import yaml

KNOBS = ("latent", "depth", "blur")
SKIP_DIRS = {".hydra", "wandb", "checkpoints", "csv"}
STATUS_ORDER = {"ok": 0, "failed": 1, "unfinished": 2}
BASELINE_LABELS = {"input": "input as is", "pca": "PCA, same code size"}

# (header, key in the trial dict, markdown format); the CSV has the same columns, raw values.
COLUMNS = (
    ("trial", "trial", None),
    ("overrides", "overrides", None),
    ("model", "model", None),
    ("data", "data", None),
    ("degradation", "degradation_detail", None),
    ("latent", "latent", None),
    ("depth", "depth", None),
    ("blur", "blur", "g"),
    ("PSNR", "test_psnr", ".2f"),
    ("SSIM", "test_ssim", ".3f"),
    ("MSE", "test_mse", ".5f"),
    ("baseline", "baseline", None),
    ("baseline PSNR", "baseline_psnr", ".2f"),
    ("baseline MSE", "baseline_mse", ".5f"),
    ("gain (dB)", "psnr_gain", "+.2f"),
    ("params", "params", ","),
    ("code size", "code_size", ","),
    ("time (s)", "train_seconds", ".0f"),
    ("status", "status", None),
    ("error", "error", None),
)


# ----------------------------------------------------------------------------- collecting trials

def _skipped(path: Path, root: Path) -> bool:
    """True for files inside .hydra/, wandb/, checkpoints/ or csv/ (below the searched root)."""
    return any(part in SKIP_DIRS for part in path.relative_to(root).parts[:-1])


def find_trials(dirs, evaluations: bool = False) -> list[Path]:
    """Trial folders below `dirs`: those holding metrics.json or .hydra/overrides.yaml.

    A folder inside another trial folder (its own logs, say) is not a second trial, and a folder
    reached from two of `dirs` is listed once; with `evaluations`, the `python -m aebench.evaluate`
    results inside a trial (eval-<time>/ and eval-<time>/<n>/) are trials too.
    """
    found = set()
    for d in dirs:
        root = Path(d).resolve()
        if not root.is_dir():
            continue
        for path in root.rglob("metrics.json"):
            if not _skipped(path, root):
                found.add(path.parent)
        for path in root.rglob("overrides.yaml"):
            if path.parent.name == ".hydra" and not _skipped(path.parent, root):
                found.add(path.parent.parent)
    trials = []
    for folder in sorted(found, key=lambda p: (len(p.parts), str(p))):
        if not any(t in folder.parents for t in trials):
            trials.append(folder)
    if evaluations:
        trials += [m.parent for t in list(trials) for pattern in ("eval-*/metrics.json",
                                                                  "eval-*/*/metrics.json")
                   for m in t.glob(pattern)]
    return sorted(trials)


class Range(tuple):
    """A knob given as a range, e.g. blur=[0.5,2.0] (a sigma drawn per image): shown as 0.5-2."""

    def __str__(self):
        return "-".join(format(v, "g") for v in self)

    def __format__(self, spec):
        return str(self)


def _order(v):
    """Sort key for knob values: numbers, then ranges (by their low end), then text."""
    if isinstance(v, Range):
        return (1, v[0], v[1])
    return (2, str(v), 0) if isinstance(v, str) else (0, v, 0)


def _parse_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _override_dict(overrides) -> dict:
    """["latent=32", "+foo=bar"] -> {"latent": 32, "foo": "bar"}."""
    out = {}
    for item in overrides or []:
        key, sep, value = str(item).lstrip("+~").partition("=")
        if sep:
            out[key] = _parse_value(value)
    return out


def load_trial(folder: Path) -> dict:
    """One trial as a flat dict: metrics.json's keys plus `dir`, `status` and `overrides`."""
    overrides_file = folder / ".hydra" / "overrides.yaml"
    overrides = []
    if overrides_file.exists():
        try:
            overrides = yaml.safe_load(overrides_file.read_text()) or []
        except (OSError, yaml.YAMLError):
            pass
    metrics_file = folder / "metrics.json"
    try:
        trial = json.loads(metrics_file.read_text()) if metrics_file.exists() else None
    except (OSError, json.JSONDecodeError) as e:
        trial = {"status": "unfinished", "error": f"unreadable metrics.json: {e}"}
    if trial is None:
        # Not ended (yet): what the run is can only be read from its overrides.
        trial = {"status": "unfinished"}
        for key, value in _override_dict(overrides).items():
            if key in ("model", "data", "degradation") + KNOBS:
                trial[key] = value
    trial.setdefault("status", "ok")
    for key in KNOBS:
        if isinstance(trial.get(key), list):
            trial[key] = Range(trial[key])
    if not trial.get("degradation_detail") and trial.get("degradation"):
        trial["degradation_detail"] = trial["degradation"]  # failed runs have only the group name
    trial.setdefault("overrides", overrides)
    trial["dir"] = folder
    # What a pivot row or a plot line is: the model, or for an evaluation of a trained run under
    # another degradation, the model and what it was trained on ("unet (trained: blur 1, 8-bit)").
    trained = (trial.get("trained_with") or {}).get("degradation_detail")
    how = "tuned" if trial.get("tuned") else "trained"  # a filter is tuned at a blur, not trained
    trial["row"] = f"{trial.get('model')} ({how}: {trained})" if trained else trial.get("model")
    return trial


def _sort_key(t: dict):
    """ok (best first), failed, unfinished; ties in job-number order ("2" before "10")."""
    rank = STATUS_ORDER.get(t["status"], len(STATUS_ORDER))
    name = [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", t["trial"])]
    if t["status"] != "ok":
        return (rank, 0, 0.0, name)
    if t.get("test_psnr") is not None:
        return (rank, 0, -t["test_psnr"], name)
    if t.get("test_mse") is not None:
        return (rank, 1, t["test_mse"], name)
    return (rank, 2, 0.0, name)


def collect_trials(dirs, evaluations: bool = False) -> list[dict]:
    """Every trial below `dirs`, in leaderboard order; `trial` is its folder relative to them
    (with `evaluations`, the evaluations inside them too: `find_trials`)."""
    dirs = [Path(d).resolve() for d in dirs]
    root = dirs[0] if len(dirs) == 1 else Path(os.path.commonpath(dirs))
    trials = []
    for folder in find_trials(dirs, evaluations):
        t = load_trial(folder)
        rel = folder.relative_to(root).as_posix() if folder != root else folder.name
        t["trial"] = rel
        trials.append(t)
    common = common_overrides(trials)
    for t in trials:
        t["swept"] = [o for o in t["overrides"] if o not in common]
    return sorted(trials, key=_sort_key)


def common_overrides(trials: list[dict]) -> list[str]:
    """Overrides every trial shares (the sweep's fixed settings), in the first trial's order."""
    if len(trials) < 2:
        return []
    rest = [set(map(str, t.get("overrides") or [])) for t in trials[1:]]
    return [o for o in map(str, trials[0].get("overrides") or []) if all(o in r for r in rest)]


# ----------------------------------------------------------------------------- tables

def _cell(t: dict, key: str, fmt):
    """Markdown text of one cell."""
    v = t.get(key)
    if v is None or v == "":
        return ""
    if key == "overrides":  # in the table, only what differs between trials (see heading)
        v = " ".join(map(str, t.get("swept", v)))
    elif fmt and isinstance(v, (int, float)) and not isinstance(v, bool):
        v = format(v, fmt)
    return " ".join(str(v).split()).replace("|", "\\|")


def _raw(t: dict, key: str):
    """CSV value of one cell: numbers as they are, empty when missing."""
    v = t.get(key)
    if v is None:
        return ""
    if key == "overrides":
        return " ".join(map(str, v))
    return v


def markdown(trials: list[dict]) -> str:
    """The leaderboard as a markdown table (trials in the order given)."""
    lines = ["| " + " | ".join(h for h, _, _ in COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(t, k, f) for _, k, f in COLUMNS) + " |" for t in trials]
    return "\n".join(lines)


def counts(trials: list[dict]) -> dict:
    n = {s: sum(t["status"] == s for t in trials) for s in STATUS_ORDER}
    return {"trials": len(trials), **n}


def write_csv(trials: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([h for h, _, _ in COLUMNS])
        for t in trials:
            w.writerow([_raw(t, k) for _, k, _ in COLUMNS])


# ----------------------------------------------------------------------------- plots

def _baseline_label(name) -> str:
    name = str(name)
    for prefix, label in BASELINE_LABELS.items():
        if name == prefix or (prefix == "pca" and name.startswith("pca")):
            return label
    return name


def _label(head: str, keys: tuple, values: tuple) -> str:
    return ", ".join([head] + [f"{k}={v}" for k, v in zip(keys, values)])


def _by_x(points) -> dict:
    """[(x, y), ...] -> {x: [y, ...]}."""
    by_x: dict = {}
    for x, y in points:
        by_x.setdefault(x, []).append(y)
    return by_x


def _mean_by_x(points) -> tuple[list, list]:
    """[(x, y), ...] -> xs, ys sorted by x, repeated x averaged."""
    by_x = _by_x(points)
    xs = sorted(by_x)
    return xs, [sum(by_x[x]) / len(by_x[x]) for x in xs]


def _by_setting(trials: list[dict], key: str) -> dict[str, list]:
    """The trials grouped by what one pivot table or plot panel shares besides `key`: the data
    and the degradation, less `key`'s own part ("blur 1, noise 0.01, 8-bit" -> "noise 0.01,
    8-bit"). For key=blur, plain reconstructions are left out (they have a top-level blur too,
    but no blur applied)."""
    groups: dict[str, list] = {}
    for t in trials:
        detail = str(t.get("degradation_detail") or "")
        if key == "blur":
            if not (detail or "blur").startswith("blur"):
                continue
            detail = re.sub(r"^blur [^,]*(, )?", "", detail)
        groups.setdefault(f"{t.get('data')}: {detail or 'no degradation'}", []).append(t)
    return groups


def plot_panels(ok: list[dict], knob: str) -> list[tuple]:
    """What `plot_knob` draws: [(setting, {(row, other knob values): [trial, ...]}, ranged
    trials, other knob names)], one entry per panel (see `plot_knob`)."""
    drawn = []
    for setting, ts in sorted(_by_setting(ok, knob).items()):
        points = [t for t in ts if not isinstance(t[knob], Range)]
        by_row: dict[str, list] = {}
        for t in points:
            by_row.setdefault(_row(t), []).append(t)
        others = [k for k in KNOBS if k != knob
                  and any(len({str(t.get(k)) for t in rs}) > 1 for rs in by_row.values())]
        series: dict[tuple, list] = {}
        for t in points:
            series.setdefault((_row(t), tuple(t.get(k) for k in others)), []).append(t)
        series = {k: ts for k, ts in series.items() if len({t[knob] for t in ts}) > 1}
        if series:
            drawn.append((setting, series, [t for t in ts if isinstance(t[knob], Range)], others))
    return drawn


def _colour(plt, i: int):
    """Ten distinct colours, then the ten lighter shades of tab20 (a grid has ~15 lines)."""
    return plt.cm.tab10(i % 10) if i < 10 else plt.cm.tab20((2 * (i - 10) + 1) % 20)


def _row(t: dict) -> str:
    return str(t.get("row") or t.get("model"))


def plot_knob(trials: list[dict], knob: str, out_dir: Path) -> Path | None:
    """Test PSNR (or MSE) against `knob` for the ok trials, with the baselines dashed.

    One panel per data and degradation (less `knob`: blur with and without noise are two
    panels, never averaged together); in a panel one line per pivot row (the model, or a
    trained run evaluated elsewhere) and per value of the other knobs that vary within that row,
    for the rows run at two values of `knob` or more; repeated points (seeds) are averaged. A
    run on a range of `knob` is a bar over the range. None when no row has two values of it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [t for t in trials if t["status"] == "ok" and t.get(knob) is not None]
    metric, base_metric, name, ylabel = "test_psnr", "baseline_psnr", "psnr", "test PSNR (dB)"
    if not any(t.get(metric) is not None for t in ok):
        metric, base_metric, name, ylabel = "test_mse", "baseline_mse", "mse", "test MSE"
    ok = [t for t in ok if t.get(metric) is not None]
    drawn = plot_panels(ok, knob)
    if not drawn:
        return None  # no row was run at two values of it (lstm at 128, cnn at 32: no line)

    heights = [max(3.5, 0.17 * (len(series) + 3) + 1) for _, series, _, _ in drawn]
    fig, axes = plt.subplots(len(drawn), 1, figsize=(10, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, (setting, series, ranged, others) in zip(axes[:, 0], drawn):
        colour = 0
        for (r, rest), ts in sorted(series.items(), key=lambda kv: str(kv[0])):
            xs, ys = _mean_by_x([(t[knob], t[metric]) for t in ts])
            ax.plot(xs, ys, "o-", color=_colour(plt, colour), label=_label(r, others, rest))
            colour += 1
        # The baseline: one dashed line where every row had the same one at each x (the degraded
        # input), else one per model (PCA with each model's code size).
        base = [t for ts in series.values() for t in ts if t.get(base_metric) is not None]
        if base:
            label = " / ".join(sorted({_baseline_label(t.get("baseline")) for t in base}))
            same = all(max(v) - min(v) < 1e-4
                       for v in _by_x((t[knob], t[base_metric]) for t in base).values())
            groups: dict[str, list] = {}
            for t in base:
                groups.setdefault("" if same else str(t.get("model")), []).append(t)
            for model, ts in sorted(groups.items()):
                xs, ys = _mean_by_x([(t[knob], t[base_metric]) for t in ts])
                ax.plot(xs, ys, "--", color="0.45", marker=".",
                        label=f"{label} ({model})" if model else label)
        for t in sorted(ranged, key=lambda t: (_row(t), str(t[knob]))):
            lo, hi = t[knob][0], t[knob][-1]
            ax.hlines(t[metric], lo, hi, colors=[_colour(plt, colour)], linewidth=3, alpha=0.7,
                      label=f"{_row(t)}, {knob} {t[knob]} (a draw per test item)")
            colour += 1
            if t.get(base_metric) is not None:
                ax.hlines(t[base_metric], lo, hi, colors="0.45", linestyles=":", linewidth=2,
                          label=f"{_baseline_label(t.get('baseline'))}, {knob} {t[knob]}")
        xs = sorted({t[knob] for s in series.values() for t in s})
        if knob == "latent":
            ax.set_xscale("log", base=2)
        ax.set_xticks(xs)
        ax.set_xticklabels([format(x, "g") for x in xs])
        ax.minorticks_off()
        ax.set_xlabel(knob)
        ax.set_ylabel(ylabel)
        ax.set_title(setting, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    path = Path(out_dir) / f"{name}_vs_{knob}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- entry points

def write_leaderboard(sweep_dir, out_dir=None, evaluations: bool = False) -> dict:
    """Write leaderboard.md, leaderboard.csv and the knob plots for every trial below sweep_dir.

    `sweep_dir` is a folder or a list of folders (all their trials go in one leaderboard);
    `out_dir` defaults to the (first) sweep folder. Works on partial sweeps: failed and unfinished
    trials are listed, the plots use the ok trials only (none when there are none).
    With `evaluations`, the evaluations inside the trials are rows too (`find_trials`).
    Returns {"markdown": Path, "csv": Path, "plots": [Path, ...], "trials": n, "ok": n,
    "failed": n, "unfinished": n}.
    """
    dirs = [sweep_dir] if isinstance(sweep_dir, (str, os.PathLike)) else list(sweep_dir)
    out = Path(out_dir if out_dir is not None else dirs[0])
    out.mkdir(parents=True, exist_ok=True)
    trials = collect_trials(dirs, evaluations)
    n = counts(trials)

    md_path, csv_path = out / "leaderboard.md", out / "leaderboard.csv"
    where = ", ".join(str(d) for d in dirs)
    heading = (f"Sweep {where}: {n['trials']} trials: {n['ok']} ok, {n['failed']} failed, "
               f"{n['unfinished']} unfinished")
    common = common_overrides(trials)
    if common:
        heading += "\n\nEvery trial: `" + " ".join(common) + "`"
    md_path.write_text(heading + "\n\n" + markdown(trials) + "\n")
    write_csv(trials, csv_path)
    plots = [p for knob in KNOBS if (p := plot_knob(trials, knob, out)) is not None]
    from aebench.html_report import write_report

    html_path = write_report(dirs, out, evaluations)
    return {"markdown": md_path, "csv": csv_path, "html": html_path, "plots": plots,
            "table": console_table(trials), **n}


def console_table(trials: list[dict]) -> str:
    """The leaderboard for a terminal: one line per trial, its scores next to its baseline and
    the gain over it (the whole table is in leaderboard.md / report.html)."""
    psnr = any(t.get("test_psnr") is not None for t in trials)
    head = ["#", "model", "swept", "PSNR" if psnr else "MSE", "SSIM" if psnr else "MAE",
            "baseline", "gain", "params", "train s", "status"]
    rows = []
    for i, t in enumerate(trials, 1):
        if psnr:
            score, second = t.get("test_psnr"), t.get("test_ssim")
            base, gain = t.get("baseline_psnr"), t.get("psnr_gain")
            cells = [_num(score, ".2f"), _num(second, ".3f"),
                     (f"{_baseline_label(t.get('baseline'))} {base:.2f}" if base is not None
                      else ""), _num(gain, "+.2f", " dB")]
        else:
            score, second, base = t.get("test_mse"), t.get("test_mae"), t.get("baseline_mse")
            gain = (10 * math.log10(base / max(score, 1e-12))
                    if score is not None and base else None)
            cells = [_num(score, ".5f"), _num(second, ".4f"),
                     (f"{_baseline_label(t.get('baseline'))} {base:.5f}" if base is not None
                      else ""), _num(gain, "+.2f", " dB")]
        swept = " ".join(o for o in map(str, t.get("swept") or []) if not o.startswith("model="))
        status = t["status"] if t["status"] == "ok" else f"{t['status']}: {t.get('error') or ''}"
        rows.append([str(i), str(t.get("model") or ""), swept, *cells,
                     _num(t.get("params"), ","), _num(t.get("train_seconds"), ".0f"),
                     status[:70]])
    widths = [max(len(r[c]) for r in [head] + rows) for c in range(len(head))]
    right = {0, 3, 4, 6, 7, 8}
    lines = ["  ".join(c.rjust(w) if j in right else c.ljust(w)
                       for j, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in [head] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def pivot(trials: list[dict], key: str, metric: str = "test_psnr") -> str:
    """A markdown table of the finished trials: one row per model (an evaluation of a trained run
    is the row 'MODEL (trained: ...)'), one column per value of the swept `key` (e.g. blur),
    cells = `metric` (the best trial where a model has several at one value); above the models,
    the baseline's score per column (the degraded input or PCA: what every model in that column
    must beat). Trials without `key` are left out. Trials whose degradation differs in more than
    `key` (blur with and without noise) get one table each, headed by what they share."""
    ok = [t for t in trials if t.get("status") == "ok" and t.get(key) is not None
          and isinstance(t.get(metric), (int, float))]
    groups = _by_setting(ok, key)
    if not groups:
        return f"(no finished trial has both {key} and {metric})"
    if len(groups) == 1:
        return _pivot_table(next(iter(groups.values())), key, metric)
    return "\n\n".join(f"**{g}**\n\n" + _pivot_table(ts, key, metric)
                         for g, ts in sorted(groups.items()))


def _pivot_table(ok: list[dict], key: str, metric: str) -> str:
    """One pivot table of trials that share everything but `key` (see `pivot`)."""
    columns = sorted({t[key] for t in ok}, key=_order)
    higher = not metric.endswith(("mse", "mae", "loss"))
    fmt = ".2f" if "psnr" in metric else (".4f" if "ssim" in metric else ".5f")
    base_key = metric.replace("test_", "baseline_", 1)
    best: dict[tuple, dict] = {}
    for t in ok:
        cell = (_row(t), t[key])
        if cell not in best or (t[metric] > best[cell][metric]) == higher:
            best[cell] = t
    models = sorted({m for m, _ in best}, key=lambda m: (-max(
        best[(m, c)][metric] * (1 if higher else -1) for c in columns if (m, c) in best), m))
    lines = [f"| {metric} | " + " | ".join(f"{key}={c:g}" if isinstance(c, float) else f"{key}={c}"
                                            for c in columns) + " |",
             "| --- |" + " ---: |" * len(columns)]
    def baseline(c):  # one value when every model in the column had the same baseline
        values = [t[base_key] for t in ok if t[key] == c and t.get(base_key) is not None]
        if not values:
            return ""
        return _num(values[0], fmt) if max(values) - min(values) < 1e-4 else "differs per model"

    if any(t.get(base_key) is not None for t in ok):
        labels = {_baseline_label(t.get("baseline")) for t in ok if t.get("baseline")}
        label = labels.pop() if len(labels) == 1 else "per model"
        lines.append(f"| baseline: {label} | " + " | ".join(baseline(c) for c in columns) + " |")
    for m in models:
        lines.append(f"| {m} | " + " | ".join(
            _num(best[(m, c)][metric], fmt) if (m, c) in best else "" for c in columns) + " |")
    return "\n".join(lines)


def _num(v, fmt: str, unit: str = "") -> str:
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
        return ""
    return format(v, fmt) + unit


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m aebench.report",
        description="Leaderboard of every trial below DIR(s): a markdown table on stdout, and "
                    "leaderboard.md, leaderboard.csv and plots written into --out.")
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="sweep or run folders")
    parser.add_argument("--out", help="where to write the leaderboard files (default: first DIR)")
    parser.add_argument("--pivot", metavar="KEY", help="print rows = model, columns = the values "
                        "of KEY (e.g. blur, latent) instead of the trial list")
    parser.add_argument("--evaluations", action="store_true",
                        help="also list the `python -m aebench.evaluate` results inside the runs "
                        "(eval-*/), as rows 'MODEL (trained: ...)': a model trained at one blur "
                        "and scored at others")
    parser.add_argument("--metric", default="test_psnr",
                        help="the score in the pivot's cells (default test_psnr; test_ssim, ...)")
    args = parser.parse_args(argv)
    if not find_trials(args.dirs):
        sys.exit(f"aebench.report: no metrics.json (or .hydra/overrides.yaml) found under "
                 f"{', '.join(args.dirs)}")
    result = write_leaderboard(args.dirs, args.out, args.evaluations)
    trials = collect_trials(args.dirs, args.evaluations)
    print(pivot(trials, args.pivot, args.metric) if args.pivot else markdown(trials))
    # On stderr, so that stdout stays a clean markdown table (`... > table.md`).
    files = [result["html"], result["markdown"], result["csv"]] + result["plots"]
    print(f"aebench.report: {result['trials']} trials ({result['ok']} ok, {result['failed']} "
          f"failed, {result['unfinished']} unfinished); wrote {', '.join(f.name for f in files)} "
          f"to {Path(result['markdown']).parent}", file=sys.stderr)


if __name__ == "__main__":
    main()

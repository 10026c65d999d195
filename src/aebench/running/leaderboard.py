"""A sweep's leaderboard: every trial below one or more folders in one table, plus plots.

`write_leaderboard(DIRS, OUT)` writes, into OUT (default: the first DIR), `report.html` (the
whole sweep on one self-contained page: aebench.running.html_report), `leaderboard.md`,
`leaderboard.csv` and the plots `psnr_vs_latent.png`, `psnr_vs_depth.png`, `psnr_vs_blur.png`
(`mse_vs_*.png` for data without PSNR, e.g. sine), one for each of those knobs that some model
was run at two values or more. A sweep calls it at its end (sweep.LeaderboardCallback); the
command is `aebench report DIR` (aebench/report.py).

    from aebench.running.leaderboard import write_leaderboard
    write_leaderboard("multirun/2026-11-23/10-00-00-123456")   # -> {"markdown": Path, ...}

A trial is a folder holding `metrics.json` (written when the run ends; `status` is "ok" or
"failed", missing means "ok") or only `.hydra/overrides.yaml` (written when it starts: the trial
is still running or was killed, and is listed as "unfinished"). Rows: finished trials best first
(highest test PSNR; lowest test MSE for data without PSNR), then failed ones with their one-line
error, then unfinished ones. Each row shows the trial's baseline and the gain over it.

This module imports neither torch, Lightning nor Hydra, so it runs anywhere the results are.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

from aebench.core.metrics import gain_db
from aebench.running.trials import (COLUMNS, PLOT_KNOBS, by_setting, value_order, row_label, baseline_label,
                            collect_trials, common_overrides, counts, find_trials, plot_knob,
                            raw_value)


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


def markdown(trials: list[dict]) -> str:
    """The leaderboard as a markdown table (trials in the order given)."""
    lines = ["| " + " | ".join(h for h, _, _ in COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(t, k, f) for _, k, f in COLUMNS) + " |" for t in trials]
    return "\n".join(lines)


def write_csv(trials: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([h for h, _, _ in COLUMNS])
        for t in trials:
            w.writerow([raw_value(t, k) for _, k, _ in COLUMNS])


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
    plots = [p for knob in PLOT_KNOBS if (p := plot_knob(trials, knob, out)) is not None]
    from aebench.running.html_report import write_report

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
                     (f"{baseline_label(t.get('baseline'))} {base:.2f}" if base is not None
                      else ""), _num(gain, "+.2f", " dB")]
        else:
            score, second, base = t.get("test_mse"), t.get("test_mae"), t.get("baseline_mse")
            gain = gain_db(base, score) if score is not None and base else None
            cells = [_num(score, ".5f"), _num(second, ".4f"),
                     (f"{baseline_label(t.get('baseline'))} {base:.5f}" if base is not None
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
    groups = by_setting(ok, key)
    if not groups:
        return f"(no finished trial has both {key} and {metric})"
    if len(groups) == 1:
        return _pivot_table(next(iter(groups.values())), key, metric)
    return "\n\n".join(f"**{g}**\n\n" + _pivot_table(ts, key, metric)
                         for g, ts in sorted(groups.items()))


def _pivot_table(ok: list[dict], key: str, metric: str) -> str:
    """One pivot table of trials that share everything but `key` (see `pivot`)."""
    columns = sorted({t[key] for t in ok}, key=value_order)
    higher = not metric.endswith(("mse", "mae", "loss"))
    fmt = ".2f" if "psnr" in metric else (".4f" if "ssim" in metric else ".5f")
    base_key = metric.replace("test_", "baseline_", 1)
    best: dict[tuple, dict] = {}
    for t in ok:
        cell = (row_label(t), t[key])
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
        labels = {baseline_label(t.get("baseline")) for t in ok if t.get("baseline")}
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

"""A sweep folder's trials: found, read, put in leaderboard order, counted, and plotted against a
knob. What both leaderboard writers show: `aebench.report` (leaderboard.md, .csv, the terminal
table) and `aebench.running.html_report` (report.html); W&B's leaderboard table (`aebench.running.loggers`) too.

A trial is a folder holding `metrics.json` (written when the run ends; `status` is "ok" or
"failed", missing means "ok") or only `.hydra/overrides.yaml` (written when it starts: the trial
is still running or was killed, and is listed as "unfinished").

This module imports neither torch, Lightning nor Hydra, so it runs anywhere the results are.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

#: libyaml's safe loader where PyYAML has it (10x faster: a 1,000-trial sweep reads 1,000 files)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: the knobs a leaderboard plots results against (psnr_vs_<knob>.png) and W&B's dashboard
#: charts: the top-level values of metrics.json (config.KNOB_PATHS are the knobs that set the model)
PLOT_KNOBS = ("latent", "depth", "blur")
SKIP_DIRS = {".hydra", "wandb", "checkpoints", "csv"}
STATUS_ORDER = {"ok": 0, "failed": 1, "unfinished": 2}
BASELINE_LABELS = {"input": "input as is", "pca": "PCA, same code size"}

# The leaderboard's columns: (header, key in the trial dict, markdown format); the CSV has the same
# columns, raw values (`raw_value`), and so has W&B's leaderboard table.
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
    trials, kept = [], set()
    for folder in sorted(found, key=lambda p: (len(p.parts), str(p))):
        if kept.isdisjoint(folder.parents):  # a set: linear in the trials (1,000-trial sweeps)
            trials.append(folder)
            kept.add(folder)
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


def value_order(v):
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
            overrides = yaml.load(overrides_file.read_text(), Loader=_YAML_LOADER) or []
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
            if key in ("model", "data", "degradation") + PLOT_KNOBS:
                trial[key] = value
    trial.setdefault("status", "ok")
    for key in PLOT_KNOBS:
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
    for t in trials:  # how a trial was run again (resume=true, overwrite=true) is not a setting
        t["swept"] = [o for o in t["overrides"] if o not in common
                      and str(o).split("=")[0].lstrip("+~") not in RERUN_KEYS]
    return sorted(trials, key=_sort_key)


#: overrides that say how a run was started, not what it is: never a swept setting
RERUN_KEYS = ("resume", "overwrite")


def common_overrides(trials: list[dict]) -> list[str]:
    """Overrides every trial shares (the sweep's fixed settings), in the first trial's order."""
    if len(trials) < 2:
        return []
    rest = [set(map(str, t.get("overrides") or [])) for t in trials[1:]]
    return [o for o in map(str, trials[0].get("overrides") or []) if all(o in r for r in rest)]


def raw_value(t: dict, key: str):
    """CSV value of one cell: numbers as they are, empty when missing."""
    v = t.get(key)
    if v is None:
        return ""
    if key == "overrides":
        return " ".join(map(str, v))
    return v


def counts(trials: list[dict]) -> dict:
    n = {s: sum(t["status"] == s for t in trials) for s in STATUS_ORDER}
    return {"trials": len(trials), **n}



# ----------------------------------------------------------------------------- plots

def baseline_label(name) -> str:
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


def by_setting(trials: list[dict], key: str) -> dict[str, list]:
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
    for setting, ts in sorted(by_setting(ok, knob).items()):
        points = [t for t in ts if not isinstance(t[knob], Range)]
        by_row: dict[str, list] = {}
        for t in points:
            by_row.setdefault(row_label(t), []).append(t)
        others = [k for k in PLOT_KNOBS if k != knob
                  and any(len({str(t.get(k)) for t in rs}) > 1 for rs in by_row.values())]
        series: dict[tuple, list] = {}
        for t in points:
            series.setdefault((row_label(t), tuple(t.get(k) for k in others)), []).append(t)
        series = {k: ts for k, ts in series.items() if len({t[knob] for t in ts}) > 1}
        if series:
            drawn.append((setting, series, [t for t in ts if isinstance(t[knob], Range)], others))
    return drawn


def _colour(plt, i: int):
    """Ten distinct colours, then the ten lighter shades of tab20 (a grid has ~15 lines)."""
    return plt.cm.tab10(i % 10) if i < 10 else plt.cm.tab20((2 * (i - 10) + 1) % 20)


def row_label(t: dict) -> str:
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
            label = " / ".join(sorted({baseline_label(t.get("baseline")) for t in base}))
            same = all(max(v) - min(v) < 1e-4
                       for v in _by_x((t[knob], t[base_metric]) for t in base).values())
            groups: dict[str, list] = {}
            for t in base:
                groups.setdefault("" if same else str(t.get("model")), []).append(t)
            for model, ts in sorted(groups.items()):
                xs, ys = _mean_by_x([(t[knob], t[base_metric]) for t in ts])
                ax.plot(xs, ys, "--", color="0.45", marker=".",
                        label=f"{label} ({model})" if model else label)
        for t in sorted(ranged, key=lambda t: (row_label(t), str(t[knob]))):
            lo, hi = t[knob][0], t[knob][-1]
            ax.hlines(t[metric], lo, hi, colors=[_colour(plt, colour)], linewidth=3, alpha=0.7,
                      label=f"{row_label(t)}, {knob} {t[knob]} (a draw per test item)")
            colour += 1
            if t.get(base_metric) is not None:
                ax.hlines(t[base_metric], lo, hi, colors="0.45", linestyles=":", linewidth=2,
                          label=f"{baseline_label(t.get('baseline'))}, {knob} {t[knob]}")
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

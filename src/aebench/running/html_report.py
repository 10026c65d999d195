"""report.html: a sweep's (or one run's) results as one self-contained page, for where W&B
cannot reach (a cluster without internet, no account).

One file: every picture is inlined (base64 PNG), the style is in the page, nothing is fetched
and no JavaScript is needed to read it. It holds

- the leaderboard: each trial against its baseline (the degraded input for restoration, PCA
  with the model's code size for reconstruction) with the gain, classical rows marked, failed
  trials with their error and unfinished ones;
- the gain of each finished trial over its baseline as a bar chart;
- test PSNR (MSE for sequences) against latent / depth / blur, one line per model, the
  baseline dashed (for each knob that takes two values or more);
- the reconstructions and loss curve of the best few trials (`INLINE_BEST`) and of the
  classical rows (`INLINE_CLASSICAL`); every other trial is one row of the leaderboard whose
  model name links to that trial's own report.html (failed trials: the end of error.txt
  for the first few, a link to error.txt for the rest). The page stays small however
  many trials a sweep has (1,000 trials: `benchmarks/report_scale.py`).

Written by every run (into its folder) and at the end of every multirun (into the sweep
folder); `python -m aebench.report DIR` rewrites it. Imports neither torch nor Lightning.
"""
from __future__ import annotations

import base64
import datetime
import html
import io
import os
import tempfile
from pathlib import Path

from aebench.core.metrics import gain_db
from aebench.running.trials import COLUMNS as LEADERBOARD_COLUMNS
from aebench.running.trials import (PLOT_KNOBS, baseline_label, collect_trials, common_overrides, counts,
                            plot_knob)

#: leaderboard columns of the page: (header, key, format). The leaderboard's own (trials.COLUMNS,
#: as in leaderboard.md) by key, beside the page's: the rank, the kind of row, what was swept, the
#: baseline in words, and the gain (drawn in colour, PSNR or MSE ratio)
_PAGE_ONLY = {"rank": ("#", "rank", None), "kind": ("kind", "kind", None),
              "swept": ("swept", "swept", None),
              "baseline_label": ("baseline", "baseline_label", None),
              "gain": ("gain", "gain", None)}
_BOARD = {key: (head, key, fmt) for head, key, fmt in LEADERBOARD_COLUMNS}
COLUMNS = tuple(_PAGE_ONLY.get(key) or _BOARD[key] for key in (
    "rank", "model", "kind", "swept", "data", "degradation_detail", "latent", "depth", "test_psnr",
    "test_ssim", "test_mse", "baseline_label", "baseline_psnr", "baseline_mse", "gain", "params",
    "code_size", "train_seconds", "status"))

#: trials whose pictures are inlined: the best INLINE_BEST finished ones, the first
#: INLINE_CLASSICAL classical rows (filters, identity: the baselines), the first INLINE_FAILED
#: failed ones' error.txt; the rest are linked (their own report.html, error.txt)
INLINE_BEST, INLINE_CLASSICAL, INLINE_FAILED = 5, 5, 5
#: above this many trials the gain chart is one sorted curve instead of a labelled bar each
BARS_MAX = 40


STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:24px;
color:#1d2733;background:#fff;max-width:1500px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde3ea;
padding-bottom:4px} h3{font-size:14px;margin:18px 0 6px}
.meta{color:#566373;font-size:13px;margin:2px 0} code{background:#f1f4f7;padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0}
th,td{border:1px solid #dde3ea;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f1f4f7;font-weight:600} td.t{text-align:left}
tr.classical td{background:#f7f4ea} tr.failed td{background:#fdeeee} tr.unfinished td{background:#f4f4f4;color:#777}
tr.best td{font-weight:600}
.pos{color:#0a7a2f;font-weight:600} .neg{color:#b42318;font-weight:600}
.err{color:#b42318;white-space:normal;text-align:left;max-width:520px}
.plots img{max-width:600px;margin:4px 10px 4px 0;border:1px solid #eef1f4;vertical-align:top}
.trial{margin:10px 0 18px} .trial img{max-width:100%;border:1px solid #eef1f4;margin:2px 8px 2px 0;
vertical-align:top} .trial .recon{max-width:880px} .trial .loss{max-width:420px}
pre{background:#f7f7f7;padding:8px;font-size:11.5px;overflow:auto;max-height:320px}
.legend{font-size:12px;color:#566373}
a{color:#1d5fa8}
"""


def _img(path: Path | None = None, data: bytes | None = None, alt: str = "", cls: str = "") -> str:
    if data is None:
        if path is None or not Path(path).is_file():
            return ""
        data = Path(path).read_bytes()
    b64 = base64.b64encode(data).decode("ascii")
    return (f'<img class="{cls}" alt="{html.escape(alt)}" '
            f'src="data:image/png;base64,{b64}">')


def _kind(t: dict) -> str:
    if t.get("status") != "ok":
        return ""
    return "classical" if t.get("params") == 0 else "learned"


def _fmt(t: dict, key: str, fmt) -> str:
    v = t.get(key)
    if key == "gain":
        g = t.get("psnr_gain")
        unit = " dB"
        if g is None and t.get("test_mse") and t.get("baseline_mse"):
            g = gain_db(t["baseline_mse"], t["test_mse"])  # MSE ratio in dB
        if g is None:
            return "<td></td>"
        return f'<td class="{"pos" if g > 0 else "neg"}">{g:+.2f}{unit}</td>'
    if v is None or v == "":
        return "<td></td>"
    if key == "model" and t.get("link"):
        return (f'<td class="t"><a href="{html.escape(t["link"])}">{html.escape(str(v))}</a>'
                "</td>")
    if key == "swept":
        v = " ".join(map(str, v))
    elif fmt and isinstance(v, (int, float)) and not isinstance(v, bool):
        v = format(v, fmt)
    cls = "t" if key in ("model", "kind", "swept", "data", "degradation_detail",
                         "baseline_label", "status") else ""
    return f'<td class="{cls}">{html.escape(str(v))}</td>'


def _columns(trials: list[dict]) -> list[tuple]:
    """The page's columns less those that say nothing here: one value for every trial (said
    once above the table instead), or empty everywhere."""
    keep = []
    for col in COLUMNS:
        key = col[1]
        if key in ("data", "degradation_detail", "baseline_label", "kind", "status"):
            values = {str(t.get(key)) for t in trials if t.get(key) not in (None, "")}
            if key == "status" and values == {"ok"}:
                continue
            if key in ("data", "degradation_detail") and len(values) <= 1 and len(trials) > 1:
                continue
        elif key == "swept":
            if not any(_swept(t) for t in trials):
                continue
        elif key not in ("rank", "model", "gain") and all(
                t.get(key) in (None, "") for t in trials):
            continue
        keep.append(col)
    return keep


def _swept(t: dict) -> list[str]:
    """What differs between this trial and the others, less the model (it has its column)."""
    return [o for o in map(str, t.get("swept") or []) if not o.startswith("model=")]


def leaderboard_html(trials: list[dict], links: dict | None = None) -> str:
    """The leaderboard table; `links` maps a trial's rank (1-based) to the page its model name
    links to (`trial_link`)."""
    columns = _columns(trials)
    links = links or {}
    rows = []
    best_seen = False
    for i, t in enumerate(trials, 1):
        t = dict(t, rank=i, kind=_kind(t), swept=_swept(t), link=links.get(i),
                 baseline_label=baseline_label(t["baseline"]) if t.get("baseline") else "")
        cls = [t["status"]] if t["status"] != "ok" else (["classical"] if t["kind"] == "classical"
                                                          else [])
        if t["status"] == "ok" and not best_seen:
            cls.append("best")
            best_seen = True
        cells = "".join(_fmt(t, k, f) for _, k, f in columns)
        rows.append(f'<tr class="{" ".join(cls)}">{cells}</tr>')
        if t.get("error"):
            rows.append(f'<tr class="{t["status"]}"><td></td><td class="err" colspan="'
                        f'{len(columns) - 1}">{html.escape(str(t["error"]))}</td></tr>')
    head = "".join(f"<th>{html.escape(h)}</th>" for h, _, _ in columns)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def gain_chart(trials: list[dict]) -> bytes | None:
    """Horizontal bars: each finished trial's gain over its baseline (dB), best on top."""
    ok = [t for t in trials if t["status"] == "ok"]
    gains = []
    for t in ok:
        if t.get("psnr_gain") is not None:
            gains.append((t, t["psnr_gain"]))
        elif t.get("test_mse") and t.get("baseline_mse"):
            gains.append((t, gain_db(t["baseline_mse"], t["test_mse"])))
    if len(gains) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = sorted({baseline_label(t.get("baseline")) for t, _ in gains})
    unit = "" if ok[0].get("psnr_gain") is not None else " of MSE"
    if len(gains) > BARS_MAX:
        return _gain_curve(plt, gains, f"gain over the baseline ({', '.join(base)}), dB{unit}")
    labels = [" ".join([str(t.get("model"))] + _swept(t)) for t, _ in gains]
    values = [g for _, g in gains]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(values) + 1.2))
    colors = ["#8c6d1f" if t.get("params") == 0 else ("#0a7a2f" if g > 0 else "#b42318")
              for (t, _), g in zip(gains, values)]
    y = list(range(len(values)))[::-1]
    ax.barh(y, values, color=colors)
    ax.set_yticks(y)
    ax.set_yticklabels([lab[:48] for lab in labels], fontsize=8)
    ax.axvline(0, color="k", lw=0.8)
    for yi, v in zip(y, values):
        ax.text(v, yi, f" {v:+.2f}", va="center", ha="left" if v >= 0 else "right", fontsize=7)
    ax.set_xlabel(f"gain over the baseline ({', '.join(base)}), dB{unit}")
    ax.set_title("learned (green/red) and classical (brown) rows", fontsize=8)
    lo, hi = min(values + [0]), max(values + [0])
    pad = 0.15 * (hi - lo or 1)
    ax.set_xlim(lo - pad, hi + pad)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def _gain_curve(plt, gains: list[tuple], label: str) -> bytes:
    """Every finished trial's gain, best first, as one curve (a sweep too large for a labelled
    bar per trial): learned rows as dots, classical rows as brown diamonds, zero marked."""
    ranked = sorted(gains, key=lambda tg: -tg[1])
    fig, ax = plt.subplots(figsize=(7, 3.2))
    xs = range(1, len(ranked) + 1)
    learned = [(x, g) for x, (t, g) in zip(xs, ranked) if t.get("params") != 0]
    classical = [(x, g) for x, (t, g) in zip(xs, ranked) if t.get("params") == 0]
    if learned:
        ax.plot(*zip(*learned), ".", ms=3, color="#0a7a2f", label="learned")
    if classical:
        ax.plot(*zip(*classical), "D", ms=4, color="#8c6d1f", label="classical")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("rank (leaderboard order of the finished trials)")
    ax.set_ylabel(label, fontsize=8)
    ax.set_title(f"{len(ranked)} finished trials", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def _knob_plots(trials: list[dict]) -> list[tuple[str, bytes]]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for knob in PLOT_KNOBS:
            path = plot_knob(trials, knob, Path(tmp))
            if path is not None:
                out.append((path.stem, path.read_bytes()))
    return out


def _tail(path, lines: int = 25) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except (OSError, TypeError):
        return ""
    return "\n".join(text.splitlines()[-lines:])


def trial_section(i: int, t: dict) -> str:
    folder = Path(t["dir"])
    title = f"{i}. {t.get('model')}"
    if _swept(t):
        title += " — " + " ".join(_swept(t))
    parts = [f'<div class="trial"><h3>{html.escape(title)}</h3>']
    if t["status"] == "ok":
        line = []
        if t.get("test_psnr") is not None:
            line.append(f"test PSNR {t['test_psnr']:.2f} dB / SSIM {t.get('test_ssim', 0):.3f}")
            if t.get("baseline_psnr") is not None:
                line.append(f"{baseline_label(t.get('baseline'))} "
                            f"{t['baseline_psnr']:.2f} dB")
        elif t.get("test_mse") is not None:
            line.append(f"test MSE {t['test_mse']:.5f}")
            if t.get("baseline_mse") is not None:
                line.append(f"{baseline_label(t.get('baseline'))} {t['baseline_mse']:.5f}")
        if t.get("epochs") is not None:
            line.append(f"{t['epochs']} epochs, {t.get('train_seconds', 0):.0f} s")
        parts.append(f'<p class="meta">{html.escape("; ".join(line))} · <code>'
                     f'{html.escape(str(folder))}</code></p>')
        parts.append(_img(folder / "reconstructions.png", alt="reconstructions", cls="recon"))
        if t.get("params"):  # classical rows are not trained: no loss curve
            parts.append(_img(folder / "loss_curve.png", alt="loss curve", cls="loss"))
    else:
        parts.append(f'<p class="meta">{html.escape(t["status"])}: '
                     f'{html.escape(str(t.get("error") or "no metrics.json yet"))}</p>')
        tail = _tail(t.get("error_file") or folder / "error.txt")
        if tail:
            parts.append(f"<details><summary>error.txt (last lines)</summary><pre>"
                         f"{html.escape(tail)}</pre></details>")
    parts.append("</div>")
    return "".join(parts)


def inlined(trials: list[dict]) -> set[int]:
    """Ranks (1-based, leaderboard order) of the trials shown with their pictures: the best
    INLINE_BEST finished trials, the first INLINE_CLASSICAL classical rows (params 0: the
    filters and the input as is, the baselines a model must beat) and the first INLINE_FAILED
    trials that did not finish (their error)."""
    best = [i for i, t in enumerate(trials, 1) if t["status"] == "ok"][:INLINE_BEST]
    classical = [i for i, t in enumerate(trials, 1)
                 if t["status"] == "ok" and t.get("params") == 0][:INLINE_CLASSICAL]
    broken = [i for i, t in enumerate(trials, 1) if t["status"] != "ok"][:INLINE_FAILED]
    return set(best) | set(classical) | set(broken)


def trial_link(t: dict, out: Path) -> str | None:
    """Where a trial's leaderboard row links, relative to the page's folder `out`: its own
    report.html, else (a failed trial) its error.txt; None when it has neither."""
    folder = Path(t["dir"])
    for name in ("report.html", "error.txt"):
        if (folder / name).is_file():
            return Path(os.path.relpath(folder / name, out)).as_posix()
    return None


def _setting(trials: list[dict]) -> str:
    datas = sorted({str(t["data"]) for t in trials if t.get("data")})
    degs = sorted({str(t["degradation_detail"]) for t in trials if t.get("degradation_detail")})
    return f"data: {', '.join(datas) or '?'} · degradation: {', '.join(degs) or '?'}"


def render(trials: list[dict], where: str, out: Path | None = None) -> str:
    """The page for `trials` (leaderboard order); `where` names the searched folders, `out` is
    the folder the page is written to (links to the trials' own pages are relative to it)."""
    n = counts(trials)
    single = n["trials"] == 1
    links = {} if single or out is None else {
        i: link for i, t in enumerate(trials, 1) if (link := trial_link(t, Path(out)))}
    shown = set(range(1, n["trials"] + 1)) if single else inlined(trials)
    title = "aebench run" if single else "aebench sweep"
    common = common_overrides(trials)
    body = [f"<h1>{title}</h1>",
            f'<p class="meta"><code>{html.escape(where)}</code> · written '
            f'{datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}</p>',
            f'<p class="meta">{n["trials"]} trial{"s" if n["trials"] != 1 else ""}: {n["ok"]} ok, '
            f'{n["failed"]} failed, {n["unfinished"]} unfinished'
            + (f' · every trial: <code>{html.escape(" ".join(common))}</code>' if common else "")
            + "</p>",
            f'<p class="meta">{html.escape(_setting(trials))}</p>',
            "<h2>Leaderboard</h2>",
            '<p class="legend">Best first (test PSNR; test MSE for data without PSNR). Each row '
            "is scored on the test split at its best checkpoint, next to its baseline on the same "
            "items: the degraded input as is (restoration) or PCA with the model's code size "
            "(reconstruction). gain = model − baseline (dB). Classical rows (shaded) are tuned "
            "on training images, never trained.</p>",
            leaderboard_html(trials, links)]
    chart = gain_chart(trials)
    plots = _knob_plots(trials)
    if chart or plots:
        body.append("<h2>Plots</h2><div class=\"plots\">")
        if chart:
            body.append(_img(data=chart, alt="gain over the baseline"))
        body += [_img(data=data, alt=name) for name, data in plots]
        body.append("</div>")
    body.append("<h2>Trials</h2>" if not single else "<h2>Results</h2>")
    if len(shown) < n["trials"]:
        body.append(f'<p class="legend">Pictures of the best {INLINE_BEST} trials, the classical '
                    f"rows and the first trials that did not finish ({len(shown)} of "
                    f"{n['trials']}); every trial's model name in the leaderboard links to its "
                    "own report.html (a failed trial's: its error.txt).</p>")
    body += [trial_section(i, t) for i, t in enumerate(trials, 1) if i in shown]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}: {html.escape(os.path.basename(where))}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")


def write_report(dirs, out_dir=None, evaluations: bool = False) -> Path:
    """Write report.html for every trial below `dirs` (a folder or a list), into `out_dir`
    (default: the first folder), the evaluations inside them too with `evaluations`. Returns its path."""
    dirs = [dirs] if isinstance(dirs, (str, os.PathLike)) else list(dirs)
    out = Path(out_dir if out_dir is not None else dirs[0])
    out.mkdir(parents=True, exist_ok=True)
    trials = collect_trials(dirs, evaluations)
    path = out / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render(trials, ", ".join(str(Path(d).resolve()) for d in dirs), out))
    os.replace(tmp, path)
    return path

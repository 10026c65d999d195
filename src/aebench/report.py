"""Collect finished runs into one table: `python -m aebench.report DIR [DIR ...]`.

Finds every metrics.json below the given folders and prints a markdown table, one row per run
(sorted by test PSNR, or by test MSE for sequences), each next to its baseline.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = ("model", "data", "degradation", "epochs", "time (s)", "params", "code size",
           "MSE", "PSNR", "SSIM", "baseline", "baseline MSE", "baseline PSNR", "baseline SSIM",
           "gain (dB)", "device")


def collect(dirs) -> list[dict]:
    runs = []
    for d in dirs:
        for path in sorted(Path(d).rglob("metrics.json")):
            m = json.loads(path.read_text())
            m["_path"] = str(path.parent)
            runs.append(m)
    return runs


def _fmt(v, digits):
    return "" if v is None else f"{v:.{digits}f}"


def row(m: dict) -> list[str]:
    return [str(m.get("model")), str(m.get("data")), m.get("degradation_detail") or "",
            str(m.get("epochs")), f"{m.get('train_seconds', 0):.0f}", f"{m.get('params', 0):,}",
            f"{m.get('code_size', 0):,}", _fmt(m.get("test_mse"), 5), _fmt(m.get("test_psnr"), 2),
            _fmt(m.get("test_ssim"), 3), str(m.get("baseline")), _fmt(m.get("baseline_mse"), 5),
            _fmt(m.get("baseline_psnr"), 2), _fmt(m.get("baseline_ssim"), 3),
            _fmt(m.get("psnr_gain"), 2), str(m.get("device"))]


def markdown(runs: list[dict]) -> str:
    runs = sorted(runs, key=lambda m: (-m["test_psnr"]) if "test_psnr" in m else m["test_mse"])
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(row(m)) + " |" for m in runs]
    return "\n".join(lines)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        sys.exit("usage: python -m aebench.report DIR [DIR ...]  (folders holding metrics.json files)")
    runs = collect(argv)
    if not runs:
        sys.exit(f"aebench.report: no metrics.json found under {', '.join(argv)}")
    print(markdown(runs))


if __name__ == "__main__":
    main()

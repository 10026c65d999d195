"""`python -m aebench.report DIR`: every finished run below DIR in one table, best first."""
from __future__ import annotations

import json
import subprocess
import sys


def test_report_lists_every_run_best_first_next_to_its_baseline(tmp_path):
    for name, psnr in (("a", 21.5), ("b", 30.25)):
        run = tmp_path / "sweep" / name
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps({
            "model": f"m{name}", "data": "cifar10", "degradation_detail": "blur 1, 8-bit",
            "epochs": 2, "train_seconds": 3.0, "params": 1000, "code_size": 8, "test_mse": 0.01,
            "test_psnr": psnr, "test_ssim": 0.5, "baseline": "input", "baseline_mse": 0.003,
            "baseline_psnr": 25.54, "baseline_ssim": 0.84, "psnr_gain": psnr - 25.54,
            "device": "cpu"}))
    res = subprocess.run([sys.executable, "-m", "aebench.report", str(tmp_path)],
                         capture_output=True, text=True, check=True)
    rows = res.stdout.splitlines()[2:]
    assert [r.split(" | ")[0] for r in rows] == ["| mb", "| ma"]
    assert "30.25" in rows[0] and "25.54" in rows[0] and "4.71" in rows[0]
    empty = subprocess.run([sys.executable, "-m", "aebench.report", str(tmp_path / "none")],
                           capture_output=True, text=True)
    assert empty.returncode != 0 and "no metrics.json" in empty.stderr

"""`python -m aebench.report DIR` and `write_leaderboard`: every trial below DIR in one table,
best first, next to its baseline; a sweep also gets leaderboard.md/.csv and plots."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

from aebench.running.leaderboard import write_leaderboard


def _trial(folder, overrides, metrics=None):
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps({"overrides": overrides, **metrics}))


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
    header, _, *rows = res.stdout.splitlines()
    cols = [c.strip() for c in header.strip("|").split("|")]
    cells = [[c.strip() for c in r.strip("|").split("|")] for r in rows]
    assert [r[cols.index("model")] for r in cells] == ["mb", "ma"]
    best = dict(zip(cols, cells[0]))
    assert (best["PSNR"], best["baseline"], best["baseline PSNR"], best["gain (dB)"]) == (
        "30.25", "input", "25.54", "+4.71")
    assert (tmp_path / "leaderboard.md").exists() and "leaderboard.md" in res.stderr
    empty = subprocess.run([sys.executable, "-m", "aebench.report", str(tmp_path / "none")],
                           capture_output=True, text=True)
    assert empty.returncode != 0 and "no metrics.json" in empty.stderr


def test_sweep_leaderboard_orders_ok_failed_unfinished_and_plots_the_varying_knobs(tmp_path):
    sweep = tmp_path / "multirun" / "2026-11-23" / "10-00-00-123456"
    common = {"model": "lstm", "data": "cifar10", "degradation": "blur", "depth": 1,
              "baseline": "input", "epochs": 1, "device": "cpu", "params": 1000,
              "train_seconds": 2.0, "test_ssim": 0.7, "test_mse": 0.01, "baseline_ssim": 0.8}
    psnrs = {(16, 1.0): 24.0, (16, 2.0): 22.0, (64, 1.0): 27.0, (64, 2.0): 23.0}
    for job, ((latent, blur), psnr) in enumerate(psnrs.items()):
        base = 25.0 if blur == 1.0 else 21.0
        _trial(sweep / str(job), [f"latent={latent}", f"blur={blur}"], {
            **common, "latent": latent, "blur": blur, "code_size": latent, "test_psnr": psnr,
            "baseline_psnr": base, "baseline_mse": 0.02, "psnr_gain": psnr - base,
            "degradation_detail": f"blur {blur:g}, 8-bit"})
        (sweep / str(job) / "wandb" / "run").mkdir(parents=True)  # not a trial of its own
        (sweep / str(job) / "wandb" / "run" / "metrics.json").write_text("{}")
    _trial(sweep / "4", ["latent=8", "loss=bce"], {
        "status": "failed", "model": "lstm", "data": "cifar10", "degradation": "blur",
        "latent": 8, "depth": 1, "blur": 1.0, "error": "ConfigError: loss=bce | needs [0, 1]",
        "error_file": str(sweep / "4" / "error.txt")})
    _trial(sweep / "5", ["latent=128", "blur=1.0"])  # started, never ended

    out = write_leaderboard(sweep)

    assert {k: out[k] for k in ("trials", "ok", "failed", "unfinished")} == {
        "trials": 6, "ok": 4, "failed": 1, "unfinished": 1}
    md = out["markdown"].read_text()
    assert "6 trials: 4 ok, 1 failed, 1 unfinished" in md
    rows = [r for r in md.splitlines() if r.startswith("| ")][2:]
    assert [r.split(" | ")[0] for r in rows] == ["| 2", "| 0", "| 3", "| 1", "| 4", "| 5"]
    assert "ConfigError: loss=bce \\| needs [0, 1]" in rows[4] and "failed" in rows[4]
    assert "latent=128 blur=1.0" in rows[5] and "unfinished" in rows[5]
    with open(out["csv"], newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["trial"] for r in table] == ["2", "0", "3", "1", "4", "5"]
    assert table[0]["PSNR"] == "27.0" and table[0]["gain (dB)"] == "2.0"
    assert table[4]["error"].startswith("ConfigError") and table[5]["PSNR"] == ""
    assert [p.name for p in out["plots"]] == ["psnr_vs_latent.png", "psnr_vs_blur.png"]
    assert all(p.stat().st_size > 10_000 for p in out["plots"])
    assert not (sweep / "psnr_vs_depth.png").exists()


def test_report_pivots_a_sweep_rows_model_columns_a_swept_key(tmp_path):
    """`--pivot blur`: one row per model, one column per blur, the blurred input's score above."""
    from conftest import run_main

    from aebench.report import main

    base = {1.0: 25.54, 2.0: 21.15}
    scores = {("unet", 1.0): [35.1, 35.7], ("unet", 2.0): [21.8], ("wiener", 1.0): [34.99],
              ("wiener", 2.0): [25.51]}
    job = 0
    for (model, blur), psnrs in scores.items():
        for psnr in psnrs:  # two unet trials at blur 1.0: the better one is shown
            _trial(tmp_path / "sweep" / str(job), [f"model={model}", f"blur={blur}"], {
                "model": model, "blur": blur, "data": "cifar10", "baseline": "input",
                "test_psnr": psnr, "baseline_psnr": base[blur], "test_ssim": 0.9})
            job += 1
    res = run_main(main, [str(tmp_path / "sweep"), "--pivot", "blur"], tmp_path)
    assert res.returncode == 0, res.stderr
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in res.stdout.splitlines()]
    assert rows[0] == ["test_psnr", "blur=1", "blur=2"]
    assert rows[2] == ["baseline: input as is", "25.54", "21.15"]
    assert rows[3] == ["unet", "35.70", "21.80"] and rows[4] == ["wiener", "34.99", "25.51"]


def test_pivot_shows_a_blur_range_and_evaluations_as_their_own_rows(tmp_path):
    """A model trained on blur=[0.5,2.0] is a column '0.5-2'; with --evaluations, the scores of a
    trained run under other blurs (eval-*/) are a row 'MODEL (trained: ...)', and the blur plot
    draws the range as a segment."""
    from conftest import run_main

    from aebench.report import main

    _trial(tmp_path / "g" / "blind", ["model=unet", "blur=[0.5,2.0]"], {
        "model": "unet", "blur": [0.5, 2.0], "data": "cifar10", "baseline": "input",
        "degradation_detail": "blur 0.5-2, 8-bit", "test_psnr": 30.0, "baseline_psnr": 25.0})
    for i, (blur, psnr, base) in enumerate([(0.5, 36.0, 34.9), (2.0, 26.0, 21.2)]):
        _trial(tmp_path / "g" / "blind" / "eval-x" / str(i), [f"blur={blur}"], {
            "model": "unet", "blur": blur, "data": "cifar10", "baseline": "input",
            "degradation_detail": f"blur {blur:g}, 8-bit",
            "test_psnr": psnr, "baseline_psnr": base, "evaluated_run": "g/blind",
            "trained_with": {"degradation_detail": "blur 0.5-2, 8-bit", "blur": [0.5, 2.0]}})
    plain = run_main(main, [str(tmp_path / "g"), "--pivot", "blur"], tmp_path)
    assert "unet (trained" not in plain.stdout  # evaluations only when asked for
    res = run_main(main, [str(tmp_path / "g"), "--pivot", "blur", "--evaluations"], tmp_path)
    assert res.returncode == 0, res.stderr
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in res.stdout.splitlines()]
    assert rows[0] == ["test_psnr", "blur=0.5", "blur=2", "blur=0.5-2"]
    assert rows[2] == ["baseline: input as is", "34.90", "21.20", "25.00"]
    assert ["unet (trained: blur 0.5-2, 8-bit)", "36.00", "26.00", ""] in rows
    assert ["unet", "", "", "30.00"] in rows
    assert (tmp_path / "g" / "psnr_vs_blur.png").is_file()
    _trial(tmp_path / "g" / "blind" / "eval-y", ["blur=2.0", "degradation.noise_std=0.01"], {
        "model": "unet", "blur": 2.0, "data": "cifar10", "baseline": "input",
        "degradation_detail": "blur 2, noise 0.01, 8-bit", "test_psnr": 24.0,
        "trained_with": {"degradation_detail": "blur 0.5-2, 8-bit"}})
    res = run_main(main, [str(tmp_path / "g"), "--pivot", "blur", "--evaluations"], tmp_path)
    tables = res.stdout.split("**cifar10: ")  # with and without noise: a table each
    assert [t.split("**")[0] for t in tables[1:]] == ["8-bit", "noise 0.01, 8-bit"]
    assert "| unet (trained: blur 0.5-2, 8-bit) | 24.00 |" in tables[2]
    assert "0.5-2" in (tmp_path / "g" / "leaderboard.md").read_text()


def test_blur_plot_keeps_noise_levels_apart_and_labels_lines_by_model(tmp_path):
    """A grid with and without noise: one panel per noise level, never a line averaging a clean
    and a noisy score; a model's own defaults (latent, depth) do not split or label its line."""
    from aebench.running.trials import collect_trials, plot_panels

    for model, latent in (("unet", 128), ("wiener", None)):
        for noise in (0.0, 0.01):
            for blur in (1.0, 2.0):
                detail = f"blur {blur:g}" + (", noise 0.01" if noise else "") + ", 8-bit"
                _trial(tmp_path / f"{model}_{blur}_{noise}", [f"model={model}", f"blur={blur}"], {
                    "model": model, "latent": latent, "depth": 2 if latent else None,
                    "blur": blur, "data": "cifar10", "degradation": "blur",
                    "degradation_detail": detail, "baseline": "input",
                    "test_psnr": 30.0 + blur - 10 * noise + (latent is None),
                    "baseline_psnr": 25.0 - blur})
    panels = plot_panels([t for t in collect_trials([tmp_path]) if t["status"] == "ok"], "blur")
    assert [p[0] for p in panels] == ["cifar10: 8-bit", "cifar10: noise 0.01, 8-bit"]
    for setting, series, _, others in panels:
        assert others == [] and sorted(r for r, _ in series) == ["unet", "wiener"]
        unet = sorted((t["blur"], t["test_psnr"]) for t in series[("unet", ())])
        noisy = "noise" in setting
        assert unet == [(1.0, 31.0 - 0.1 * noisy), (2.0, 32.0 - 0.1 * noisy)]
    assert write_leaderboard(tmp_path)["plots"][0].name == "psnr_vs_blur.png"


def test_a_trial_run_again_with_resume_is_listed_by_its_settings_only(tmp_path):
    """A sweep resumed after a lost trial: `resume=true` is how it ran, not a swept setting."""
    from aebench.running.trials import collect_trials

    for i, extra in enumerate(([], ["resume=true"], ["overwrite=true"])):
        _trial(tmp_path / str(i), ["model=cnn", f"seed={i}", *extra], {"test_psnr": 20.0 + i})
    assert sorted(map(tuple, (t["swept"] for t in collect_trials([tmp_path])))) == [
        ("seed=0",), ("seed=1",), ("seed=2",)]

"""aebench.evaluate: a trained run scored elsewhere, never retrained, same baselines as a fresh run."""
from __future__ import annotations

import json
import os

import pytest

from trained_runs import exit_code, FAST, trained_run


def evaluate_main(*argv) -> int:
    return exit_code("aebench.evaluate", *argv)


def test_blur_2_gives_the_baselines_of_a_fresh_run_at_blur_2(tmp_path):
    from aebench.core.config import compose
    from aebench.evaluate import evaluate_run
    from aebench.running.train import run

    trained = trained_run("cnn")  # trained at blur 1.0
    before = {p.name: p.stat().st_mtime_ns for p in trained.iterdir()}
    own = json.loads((trained / "metrics.json").read_text())
    ev = evaluate_run(trained, ["blur=2.0"])
    # a fresh run at blur 2.0 (the identity row: nothing to train, same data and test split)
    os.environ.setdefault("WANDB_MODE", "disabled")
    fresh = compose(["data=shapes", "model=identity", *FAST, "blur=2.0"], tmp_path / "fresh")
    ref = run(fresh.cfg, fresh.choices, fresh.overrides)
    for key in ("baseline_psnr", "baseline_ssim", "baseline_mse"):
        assert ev[key] == pytest.approx(ref[key], abs=1e-6), key
    assert ev["baseline_psnr"] < own["baseline_psnr"] - 1  # blur 2 is harder than blur 1
    assert ev["degradation_detail"] == "blur 2, 8-bit" and ev["blur"] == 2.0
    # the same keys as the run's own metrics.json, the model's scores recomputed, nothing trained
    assert set(own) - {"val_psnr", "val_mse"} <= set(ev)
    assert ev["params"] == own["params"] and ev["epochs"] == own["epochs"]
    out = trained / [p for p in ev["output_dir"].split("/")][-1]
    assert (out / "metrics.json").is_file() and not (out / "checkpoints").exists()
    assert {p.name: p.stat().st_mtime_ns for p in trained.iterdir() if p.name in before} == before


def test_scored_at_its_own_blur_a_run_repeats_its_test_score_at_its_precision(tmp_path):
    """Even when its preset has changed since (here: to bf16-mixed), a run is evaluated at the
    precision it ran at, so that its own degradation gives back its own test score."""
    import shutil

    from aebench.evaluate import evaluate_run

    run_dir = tmp_path / "run"
    shutil.copytree(trained_run("cnn"), run_dir, ignore=shutil.ignore_patterns("eval-*"))
    own = json.loads((run_dir / "metrics.json").read_text())
    changed = {**own, "overrides": [*own["overrides"], "trainer.precision=bf16-mixed"]}
    (run_dir / "metrics.json").write_text(json.dumps(changed))  # what the run is recomposed from
    ev = evaluate_run(run_dir, [])
    assert ev["precision"] == own["precision"] == "32-true"
    assert ev["test_psnr"] == pytest.approx(own["test_psnr"], abs=1e-5)


def test_sweep_of_evaluations_writes_a_leaderboard(capsys):
    trained = trained_run("wiener")
    tuned = json.loads((trained / "metrics.json").read_text())["tuned"]
    code = evaluate_main(trained, "-m", "blur=0.5,2.0", "degradation.noise_std=0,0.01")
    out = capsys.readouterr().out
    assert code == 0
    sweep = sorted(trained.glob("eval-*"))[-1]
    rows = [json.loads((sweep / str(i) / "metrics.json").read_text()) for i in range(4)]
    assert [(r["blur"], r["eval_overrides"][1]) for r in rows] == [
        (0.5, "degradation.noise_std=0"), (0.5, "degradation.noise_std=0.01"),
        (2.0, "degradation.noise_std=0"), (2.0, "degradation.noise_std=0.01")]
    assert all(r["tuned"] == tuned for r in rows)  # the filter as tuned, not tuned again
    board = (sweep / "leaderboard.md").read_text()
    assert "4 trials: 4 ok" in board and (sweep / "psnr_vs_blur.png").is_file()
    assert "| blur=2.0 degradation.noise_std=0 |" in out or "blur=2.0" in out


@pytest.mark.parametrize("arg", ["model=cnn", "latent=16", "model.net.depth=2"])
def test_overrides_that_change_the_model_are_refused(capsys, arg):
    assert evaluate_main(trained_run("wiener"), arg) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "evaluate scores the run's own model" in err[0]


def test_a_model_trained_on_a_blur_range_is_scored_at_one_blur(capsys):
    """blur=[0.5,2.0] trains through the real run path (metrics.json keeps the range), and the
    blind model is then scored at a fixed blur without retraining."""
    trained = trained_run("cnn", ("blur=[0.5,2.0]",))
    own = json.loads((trained / "metrics.json").read_text())
    assert own["blur"] == [0.5, 2.0] and own["degradation_detail"] == "blur 0.5-2, 8-bit"
    assert evaluate_main(trained, "blur=1.5") == 0
    ev = json.loads(sorted(trained.glob("eval-*/metrics.json"))[-1].read_text())
    assert ev["blur"] == 1.5 and ev["trained_with"]["blur"] == [0.5, 2.0]
    assert ev["test_psnr"] != own["test_psnr"] and ev["baseline_psnr"] != own["baseline_psnr"]

"""The real entry point, as a user runs it: `python -m aebench ...` in a fresh folder."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from conftest import FAST, FAST_SHAPES, ROOT
from fakedata import write_cifar10, write_image_folder, write_mnist


def _metrics(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for name in ("reconstructions.png", "loss_curve.png"):
        assert (run_dir / name).stat().st_size > 1000, name
    assert list((run_dir / "checkpoints").glob("*.ckpt"))
    return metrics


def _finite(metrics: dict, keys) -> None:
    for key in keys:
        assert isinstance(metrics[key], (int, float)) and math.isfinite(metrics[key]), key


IMAGE_KEYS = ["test_mse", "test_psnr", "test_ssim", "baseline_mse", "baseline_psnr",
              "baseline_ssim", "psnr_gain", "params", "code_size", "train_seconds",
              "train_images_per_second"]


def test_default_job_trains_tests_and_leaves_results(run_cli, tmp_path):
    """Defaults (shapes, lstm, blur, W&B): offline without a key under CI, no prompt."""
    res = run_cli(*FAST, *FAST_SHAPES, "hydra.run.dir=out", env={"WANDB_MODE": ""})
    assert res.returncode == 0, res.stderr[-3000:]
    m = _metrics(tmp_path / "out")
    _finite(m, IMAGE_KEYS)
    assert (m["model"], m["data"], m["degradation"], m["baseline"]) == \
        ("lstm", "shapes", "blur", "input")
    assert m["latent"] == 8 and "latent=8" in m["overrides"]
    assert len(list((tmp_path / "out" / "wandb").glob("offline-run-*"))) == 1
    assert "wandb sync" in res.stdout and "PSNR" in res.stdout
    # the model card: what ran, its scores beside the baseline, the commands to use it
    card = (tmp_path / "out" / "README.md").read_text()
    assert f"{m['test_psnr']:.2f} dB" in card and f"{m['baseline_psnr']:.2f} dB" in card
    for command in ("python -m aebench trainer.max_epochs=1", "aebench.restore", "aebench.evaluate",
                    "aebench.export"):
        assert command in card, command


@pytest.mark.parametrize("data,extra", [
    ("cifar10", ["model=lstm", "blur=[0.5,2.0]"]),  # a blind model: a range in the model card
    ("mnist", ["model=cnn", "degradation=none", "depth=2"]),
    ("folder", ["model=rnn", "data.channels=1", "data.size=16", "blur=0.5"]),
])
def test_each_image_data_set_runs_end_to_end(run_cli, tmp_path, data, extra):
    root = tmp_path / "userdata"
    if data == "cifar10":
        write_cifar10(root, n_train=40, n_test=16)  # checksums differ from the official files
    elif data == "mnist":
        write_mnist(root, n_train=40, n_test=16)
    else:
        root = root / "images"
        write_image_folder(root, classes=("mri", "sat"), n_per_class=15, size=(20, 24))
    res = run_cli(f"data={data}", f"data.root={root}", "data.batch_size=8", *FAST, *extra,
                  "logger=csv", "hydra.run.dir=out")
    assert res.returncode == 0, res.stderr[-3000:]
    m = _metrics(tmp_path / "out")
    _finite(m, IMAGE_KEYS)
    if data == "mnist":
        assert m["baseline"] == "pca392" and m["item_shape"] == [1, 28, 28]  # code 8 x 7 x 7
    if data == "folder":
        assert m["item_shape"] == [1, 16, 16]
    if data == "cifar10":
        assert m["blur"] == [0.5, 2.0] and "blur 0.5-2" in (tmp_path / "out" / "README.md").read_text()


@pytest.mark.parametrize("data", ["sine", "sine_report"])
def test_sine_denoising_reports_mse_and_mae_against_the_noisy_input(run_cli, tmp_path, data):
    res = run_cli(f"data={data}", *FAST, "logger=csv", "hydra.run.dir=out")
    assert res.returncode == 0, res.stderr[-3000:]
    m = _metrics(tmp_path / "out")
    _finite(m, ["test_mse", "test_mae", "baseline_mse", "baseline_mae"])
    assert m["degradation"] == "noise" and "test_psnr" not in m
    assert 0.007 < m["baseline_mse"] < 0.013  # noise std 0.1


def test_multirun_sweeps_latent_into_separate_jobs_and_wandb_runs(run_cli, tmp_path):
    res = run_cli("-m", "latent=8,16", *FAST[:2], *FAST_SHAPES)
    assert res.returncode == 0, res.stderr[-3000:]
    sweeps = list((tmp_path / "multirun").glob("*/*"))
    assert len(sweeps) == 1, sweeps
    jobs = sorted(p for p in sweeps[0].iterdir() if p.is_dir() and p.name.isdigit())
    assert [_metrics(j)["latent"] for j in jobs] == [8, 16]
    runs = [list((j / "wandb").glob("offline-run-*")) for j in jobs]
    assert [len(r) for r in runs] == [1, 1] and runs[0][0].name != runs[1][0].name


@pytest.mark.parametrize("args,names", [
    (["latent=0"], "latent=0"),
    (["depth=-1"], "depth=-1"),
    (["blur=-0.5"], "blur=-0.5"),
    (["blur=[2.0,0.5]"], "blur=[2.0, 0.5] is not accepted"),
    (["model=wiener", "blur=[0.5,2.0]"], "model=wiener needs one blur sigma"),
    (["schedule=warm", *FAST_SHAPES], "model.schedule='warm' is not accepted; choose one of: constant"),
    (["model=transformer"], "model=transformer"),
    (["-m", "data=shapes,imagenet"], "data=imagenet"),
    (["data=cifar10", "data.root=nowhere", "data.download=false"], "nowhere"),
    (["model=cnn", "loss=bce", *FAST_SHAPES], "out_activation=sigmoid"),
    (["latent=1.5"], "latent=1.5"),
    (["trainer.max_epochs=0"], "trainer.max_epochs=0"),
    (["data.batch_size=0"], "data.batch_size=0"),
    (["model=cnn", "data=sine"], "model=cnn needs images"),
    (["degradation=jpeg"], "degradation=jpeg"),
    (["callbacks.model_checkpoint.dirpath=/tmp/elsewhere", *FAST_SHAPES], "outside this run"),
    (["data=cifar10", "data.downlod=false"], "did you mean data.download?"),
    (["-m", "model.net.latnt=4,8"], "did you mean model.net.latent?"),
    (["lattent=3"], "lattent is not a key of this config; did you mean latent?"),
    (["-m", "blurr=1,2"], "did you mean blur?"),
    (["trainer=gpu", *FAST_SHAPES], "needs a CUDA GPU"),
    (["-m", "hparams_search=shapes_lstm", "hydra.sweeper.storage=sqlite:////proc/no/optuna.db"],
     "cannot create /proc/no"),
])
def test_user_errors_are_one_line_before_training(run_cli, tmp_path, args, names):
    if args == ["trainer=gpu", *FAST_SHAPES]:
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    # the first case through a real `python -m aebench` process: the printed contract itself
    res = run_cli(*args, "logger=csv", subprocess_run=args == ["latent=0"])
    assert res.returncode == 2, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("aebench: error:"), res.stderr[-2000:]
    assert names in lines[0] and "Traceback" not in res.stderr
    # nothing left behind: no run folder (not even Hydra's cli.log), no sweep folder
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "multirun").exists()


def test_configs_ship_inside_a_non_editable_install(tmp_path):
    """A wheel carries conf/ as aebench/conf, and the entry point composes from it."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(ROOT)], check=True,
                   capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("aebench-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        assert "aebench/conf/config.yaml" in zf.namelist()
        assert "aebench/conf/model/lstm.yaml" in zf.namelist()
        assert "aebench/py.typed" in zf.namelist()  # the API's type hints reach checkers
        zf.extractall(tmp_path / "site")
    env = {"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}
    where = subprocess.run([sys.executable, "-c", "import aebench; print(aebench.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, env=env, check=True)
    assert where.stdout.startswith(str(tmp_path / "site"))  # not the source tree
    res = subprocess.run([sys.executable, "-m", "aebench", "model=cnn", "latent=64", "--cfg", "job"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert "aebench.core.models.cnn.ConvAutoencoder" in res.stdout and "latent: 64" in res.stdout


def test_wandb_never_prompts_or_waits_without_a_key_or_a_network(monkeypatch, tmp_path):
    from aebench.running.loggers import wandb_mode

    for var in ("WANDB_MODE", "WANDB_API_KEY", "CI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc with a key
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    import wandb  # noqa: F401 - its first import (~1 s here) is not the wait this is about

    start = time.perf_counter()
    assert wandb_mode() == "offline" and time.perf_counter() - start < 1.0  # no key: at once
    monkeypatch.setenv("WANDB_API_KEY", "0" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "https://10.255.255.1:9")  # a server that never answers
    start = time.perf_counter()
    assert wandb_mode() == "offline" and time.perf_counter() - start < 3.0

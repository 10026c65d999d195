"""The Python API (`import aebench`): train, load, restore, degrade, evaluate; cheap to import;
the example in examples/ runs; the wheel installs and runs in a clean venv (slow)."""
from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import aebench
from trained_runs import trained_run

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_cheap_and_says_its_version():
    code = ("import sys, aebench; heavy = [m for m in ('torch', 'pytorch_lightning', 'hydra', "
            "'omegaconf', 'numpy') if m in sys.modules]; print(aebench.__version__, heavy, "
            "sorted(n for n in ('train', 'load', 'Model', 'Run', 'ConfigError') "
            "if n in dir(aebench)))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=60, check=True)
    assert res.stdout.split(maxsplit=1) == [
        aebench.__version__, "[] ['ConfigError', 'Model', 'Run', 'load', 'train']\n"]
    from importlib.metadata import version

    assert version("aebench") == aebench.__version__  # pyproject reads it from __init__.py


def test_train_is_the_api_function_and_checks_its_overrides():
    import aebench.running.train as module  # importing the running module changes nothing

    assert aebench.train is aebench.api.train and module.run is not aebench.train
    with pytest.raises(aebench.ConfigError, match="runs one run"):
        aebench.train(["-m", "latent=8,16"])
    with pytest.raises(aebench.ConfigError, match="did you mean latent"):
        aebench.train(["lattent=3"], output_dir="/nonexistent/never-made")


def test_the_example_trains_restores_and_plots(tmp_path, monkeypatch, capsys):
    """examples/notebook.py as a user runs it: aebench.train returns the run (metrics.json as a
    dict, its folder), load + degrade + restore keep shape and dtype, the plot is written."""
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setattr(sys, "argv", ["notebook.py", str(tmp_path)])
    ns = runpy.run_path(str(ROOT / "examples" / "notebook.py"), run_name="__main__")
    run = ns["run"]
    assert isinstance(run, aebench.Run) and run.run_dir == tmp_path / "run"
    assert run.metrics == json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert ns["restored"].shape == ns["sharp"].shape == (75, 93, 3)
    assert (tmp_path / "restored.png").stat().st_size > 1000
    assert "PSNR against the sharp image" in capsys.readouterr().out


def test_restore_keeps_shape_dtype_and_type_and_matches_the_command():
    from aebench.restore import Restorer, luma
    from aebench.running.trained import load_net

    model = aebench.load(trained_run("cnn"))
    assert model.item_shape == (3, 32, 32) and model.name == "cnn"
    restorer = Restorer(load_net(trained_run("cnn")), torch.device("cpu"))
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (37, 23, 3), dtype=np.uint8)  # odd sides
    out = model.restore(image)
    assert out.shape == image.shape and out.dtype == np.uint8
    x = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    expected = (restorer.image(x) * 255).round().permute(1, 2, 0).numpy()
    assert np.abs(out.astype(int) - expected).max() <= 1
    grey = image[..., 0]  # H x W: greyscale in, greyscale out
    out = model.restore(grey)
    assert out.shape == grey.shape and out.dtype == np.uint8
    g = torch.from_numpy(grey).float()[None] / 255
    expected = (luma(restorer.image(g.expand(3, -1, -1))) * 255).round()[0].numpy()
    assert np.abs(out.astype(int) - expected).max() <= 1
    batch = rng.random((2, 20, 30, 3), dtype=np.float32)
    out = model.restore(batch)
    assert out.shape == batch.shape and out.dtype == np.float32
    t = torch.rand(2, 3, 9, 11, dtype=torch.float64)  # channels first, torch in, torch out
    out = model.restore(t, channels_last=False)
    assert isinstance(out, torch.Tensor) and out.shape == t.shape and out.dtype == t.dtype
    rgba = np.dstack([image, np.full((37, 23), 7, np.uint8)])
    assert (model.restore(rgba)[..., 3] == 7).all()  # alpha given back unchanged
    from PIL import Image

    back = model.restore(Image.fromarray(grey))  # a PIL image: a PIL image of its mode
    assert back.mode == "L" and back.size == (23, 37)
    assert np.abs(np.asarray(back).astype(int) - expected).max() <= 1


@pytest.mark.parametrize("bad, says", [
    (np.full((8, 8, 3), 200.0), "must be in [0, 1]"),
    (np.zeros((8, 8, 7), np.uint8), "7 channels"),
    (np.zeros((2, 2, 8, 8, 3), np.uint8), "not accepted"),
    (np.zeros((8, 8), bool), "dtype"),
])
def test_bad_images_are_one_config_error(bad, says):
    with pytest.raises(aebench.ConfigError) as err:
        aebench.load(trained_run("cnn")).restore(bad)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_evaluate_returns_the_evaluation_metrics():
    run = trained_run("cnn")
    scores = aebench.load(run).evaluate(["blur=2.0"])  # an evaluation's metrics.json, in the run
    assert scores["degradation_detail"] == "blur 2, 8-bit" and scores["status"] == "ok"
    assert Path(scores["output_dir"]).parent == run
    written = json.loads((Path(scores["output_dir"]) / "metrics.json").read_text())
    assert written["test_psnr"] == scores["test_psnr"] and written.keys() == scores.keys()


def test_sequences_degrade_and_restore():
    model = aebench.load(trained_run("sine"))
    waves = np.sin(np.linspace(0, 9, 80)).astype(np.float32)[None]  # (N, T), longer than trained
    noisy = model.degrade(waves)
    assert noisy.shape == waves.shape and not np.allclose(noisy, waves)
    out = model.restore(noisy)
    assert out.shape == waves.shape and out.dtype == np.float32 and np.isfinite(out).all()


def test_a_run_reference_resolves_through_one_function(monkeypatch, tmp_path):
    """`SCHEME:NAME` references (pretrained weights) resolve in trained.resolve_run, which every
    command and aebench.load go through."""
    from aebench.running import trained

    monkeypatch.setitem(trained.REFERENCES, "zoo", lambda name: trained_run(name))
    assert aebench.load("zoo:cnn").run_dir == trained_run("cnn")
    with pytest.raises(aebench.ConfigError, match="no such folder.*zoo:NAME"):
        aebench.load(tmp_path / "missing")


@pytest.mark.slow
def test_the_wheel_installs_and_runs_in_a_clean_venv(tmp_path):
    """A non-editable install: the wheel into a new venv (its dependencies from this one's
    site-packages, no download), then `aebench --version` and a one-epoch run from its script."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(ROOT)], check=True,
                   capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("aebench-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        assert {"aebench/py.typed", "aebench/api.py", "aebench/conf/config.yaml"} <= \
            set(zf.namelist())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    site = next(venv.glob("lib/python*/site-packages"))
    here = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "torch").is_dir())
    (site / "dependencies.pth").write_text(here + "\n")  # torch & co., not this source tree
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "WANDB_MODE": "disabled"}
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import aebench; print(aebench.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert where.stdout.startswith(str(site))
    version = subprocess.run(["aebench", "--version"], capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == f"aebench {aebench.__version__}"
    res = subprocess.run(["aebench", "model=cnn", "data=shapes", "data.num_train=64",
                          "data.num_test=32", "data.batch_size=16", "trainer.max_epochs=1",
                          "callbacks=none", "logger=none", "latent=8",
                          f"hydra.run.dir={tmp_path / 'run'}"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "ok"

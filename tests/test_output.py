"""What a run prints: library noise known to be harmless filtered (and nothing else), the config
in one line, the score beside its baseline with a plain verdict, the run folder."""
from __future__ import annotations

import io
import logging
import sys
import warnings

import pytest

from aebench.core import noise
from aebench.running.outputs import config_line, summary_lines, verdict

#: the library lines a newcomer's run printed (issue 23), as the libraries write them
NOISY = [
    "The `srun` command is available on your system but is not used. HINT: If your intention is "
    "to run Lightning on SLURM, prepend your python command with `srun` like so: srun python ...",
    "💡 Tip: For seamless cloud logging and experiment tracking, try installing [litlogger]"
    "(https://pypi.org/project/litlogger/) to enable LitLogger",
    "`Trainer(limit_train_batches=1.0)` was configured so 100% of the batches per epoch will be used..",
    "`Trainer(limit_val_batches=1.0)` was configured so 100% of the batches will be used..",
    "`Trainer(limit_test_batches=1.0)` was configured so 100% of the batches will be used..",
    "`isinstance(treespec, LeafSpec)` is deprecated, use `isinstance(treespec, TreeSpec) and "
    "treespec.is_leaf()` instead.",
    "No artists with labels found to put in legend.  Note that artists whose label start with an "
    "underscore are ignored when legend() is called with no argument.",
    "wandb: WARNING The anonymous setting has no effect and will be removed in a future version.\n",
]
#: lines that must still print
MEANINGFUL = [
    "GPU available: True (cuda), used: True",
    "`Trainer.fit` stopped: `max_time={'minutes': 3}` reached.",
    "The number of training batches (1) is smaller than the logging interval "
    "Trainer(log_every_n_steps=10).",
    "aebench: error: data.root=/nope does not exist",
    "`Trainer(limit_train_batches=0.1)` was configured so 10% of the batches per epoch will be used.",
]


def test_noise_is_recognised_and_nothing_else():
    # (deprecations are recognised by their category: next test)
    assert all(noise.is_noise(line) for line in NOISY[:5] + NOISY[6:])
    assert not any(noise.is_noise(line) for line in MEANINGFUL)


def test_install_filters_lightning_logs_warnings_and_wandb_stderr(monkeypatch, caplog):
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        noise.install()
        noise.install()  # twice changes nothing
        warnings.warn(NOISY[5], FutureWarning)  # torch's deprecation, as Lightning meets it
        warnings.warn("a library API is deprecated", DeprecationWarning)
        warnings.warn(NOISY[0], UserWarning)  # the srun hint (PossibleUserWarning)
        warnings.warn(NOISY[6], UserWarning)
        warnings.warn(MEANINGFUL[2], UserWarning)
    assert [str(w.message) for w in caught] == [MEANINGFUL[2]]

    rank_zero = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    with caplog.at_level(logging.INFO, logger="pytorch_lightning.utilities.rank_zero"):
        for line in NOISY[1:5] + MEANINGFUL[:2]:
            rank_zero.info(line)
    assert [r.getMessage() for r in caplog.records] == MEANINGFUL[:2]
    assert rank_zero.filters.count(noise._FILTER) == 1

    sys.stderr.write(NOISY[7])  # W&B's warning, written as wandb writes it
    sys.stderr.write("wandb: ERROR something real\n")
    assert buf.getvalue() == "wandb: ERROR something real\n"
    assert sys.stderr.isatty() is False and isinstance(sys.stderr, noise.QuietStream)


# -- the end of a run ---------------------------------------------------------------------------
RUN = {"model": "lstm", "data": "cifar10", "degradation": "blur",
       "degradation_detail": "blur 1, 8-bit", "blur": 1.0, "baseline": "input",
       "test_psnr": 18.78, "test_ssim": 0.41, "baseline_psnr": 25.54, "baseline_ssim": 0.84,
       "params": 260192, "code_size": 128, "compression_ratio": 24.0, "epochs": 10,
       "train_seconds": 72.4, "train_images_per_second": 6900.0, "output_dir": "/runs/x"}


def test_verdict_in_plain_words():
    assert verdict(RUN) == ("worse than returning the blurred input by 6.76 dB; the Wiener "
                            "filter scores 34.99 dB on this task (CIFAR-10's full test set, "
                            "docs/results.md)")
    # a task without a measured Wiener score: the clause is left out
    shapes = dict(RUN, data="shapes", test_psnr=28.10, baseline_psnr=26.43)
    assert verdict(shapes) == "better than returning the blurred input by 1.67 dB"
    assert "Wiener" not in verdict(dict(RUN, blur=[0.5, 2.0]))  # a range: no one filter
    assert "Wiener" not in verdict(dict(RUN, model="wiener", test_psnr=34.99))
    recon = {"model": "cnn", "data": "mnist", "degradation": "none", "baseline": "pca392",
             "test_psnr": 28.76, "baseline_psnr": 39.99, "code_size": 392}
    assert verdict(recon) == "worse than PCA with the same code size (392 numbers) by 11.23 dB"
    sine = {"model": "lstm_sine", "data": "sine", "degradation": "noise", "baseline": "input",
            "test_mse": 0.001, "baseline_mse": 0.01}
    assert verdict(sine) == "better than returning the noisy input by 10.00 dB"
    assert verdict({"model": "x"}) is None


def test_summary_lines_and_config_line(tmp_path):
    lines = summary_lines(RUN)
    assert lines[0] == ("lstm on cifar10 (blur 1, 8-bit): test PSNR 18.78 dB, SSIM 0.410 "
                        "(the blurred input: 25.54 dB, 0.840)")
    assert lines[1].startswith("verdict: worse than returning the blurred input by 6.76 dB")
    assert lines[2] == ("260,192 parameters; code 128 numbers per item (24x smaller than the "
                        "input); 10 epochs in 72.4 s, 6900 items/s")
    assert lines[-1] == "results: /runs/x"
    (tmp_path / "metrics.json").write_text("{}")
    (tmp_path / "report.html").write_text("")
    assert summary_lines(dict(RUN, output_dir=str(tmp_path)))[-1] == (
        f"results: {tmp_path} (metrics.json, report.html)")  # what is there
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"latent": 128, "depth": 1, "blur": 1.0, "lr": None, "seed": 42,
                            "trainer": {"max_epochs": 10, "precision": "auto"},
                            "data": {"batch_size": 128}})
    line = config_line(cfg, {"model": "lstm", "data": "cifar10", "degradation": "blur"}, "/o")
    assert line == ("aebench: lstm on cifar10 (blur) | latent=128 depth=1 blur=1.0 seed=42 | "
                    "max_epochs=10 batch_size=128 precision=auto | -> /o")
    assert "\n" not in line


@pytest.mark.parametrize("history", [[], [{"epoch": 0}]])
def test_loss_curve_of_a_filter_row_draws_no_empty_legend(tmp_path, history):
    from aebench.running.outputs import save_loss_curve

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "No artists with labels" would raise here
        save_loss_curve(history, tmp_path / "loss.png")
    assert (tmp_path / "loss.png").is_file()


# -- data=folder says how many images went where ------------------------------------------------
def test_folder_logs_its_split_when_loaded(tmp_path, caplog):
    from fakedata import write_image_folder

    from aebench.core.data.folder import FolderDataModule

    write_image_folder(tmp_path, classes=("cat", "ant"), n_per_class=10, size=(20, 24))
    dm = FolderDataModule(root=str(tmp_path), size=16, channels=1, test_fraction=0.2,
                          val_fraction=0.25, seed=3)
    with caplog.at_level(logging.INFO, logger="aebench"):
        dm.setup()
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("folder:")]
    assert line == (f"folder: 20 images from {tmp_path} (2 classes: ant, cat), resized to 16x16 "
                    "greyscale (bilinear, aspect ratio not kept): 12 train / 4 val / 4 test "
                    "(test: a seeded 20% of the 20 images; val: a seeded 25% of the images left "
                    "for training)")


def test_optimized_metric_missing_is_said_only_in_an_optuna_sweep(monkeypatch, caplog):
    from omegaconf import OmegaConf

    from aebench.running import sweep

    cfg = OmegaConf.create({"optimized_metric": "val_psnr"})
    filter_row = {"test_psnr": 30.0}  # a filter is tuned, never validated: no val_psnr
    with caplog.at_level(logging.WARNING, logger="aebench"):
        assert sweep.objective(cfg, filter_row) is None  # a plain run or a basic sweep
        assert not caplog.records
        monkeypatch.setattr(sweep, "optuna_sweep", lambda: True)
        assert sweep.objective(cfg, filter_row) is None
    assert "optimized_metric=val_psnr is not in this run's metrics" in caplog.text
    assert sweep.objective(cfg, {"val_psnr": 31.5}) == 31.5

"""A job's numbers are right: computed on the test split, against the right baseline, repeatable."""
from __future__ import annotations

import json

import pytest
import torch
from conftest import FAST, FAST_SHAPES
from hydra.utils import instantiate

from aebench.core.baselines import PCABaseline
from aebench.running.train import run

TINY = [*FAST, *FAST_SHAPES, "logger=none"]


def _per_image_psnr(pred, target):
    mse = ((pred - target) ** 2).flatten(1).mean(1)
    return (10 * torch.log10(1 / mse)).mean().item()


def test_test_metrics_are_computed_on_the_degraded_test_split(compose_cfg, tmp_path):
    cfg = compose_cfg(*TINY, "degradation.noise_std=0.02")
    metrics = run(cfg)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test_psnr"] == \
        metrics["test_psnr"]
    dm = instantiate(cfg.data)
    dm.setup()
    clean = dm.test_x
    degraded = instantiate(cfg.degradation)(clean, torch.arange(len(clean)), "test")
    assert abs(_per_image_psnr(degraded, clean) - metrics["baseline_psnr"]) < 1e-3
    net = instantiate(cfg.model.net, input_shape=dm.item_shape, bounded=True)
    state = torch.load(metrics["best_checkpoint"], map_location="cpu", weights_only=False)
    net.load_state_dict({k[4:]: v for k, v in state["state_dict"].items() if k.startswith("net.")})
    with torch.no_grad():
        out = net(degraded).clamp(0, 1)
    assert abs(_per_image_psnr(out, clean) - metrics["test_psnr"]) < 1e-3
    assert abs(metrics["psnr_gain"] - (metrics["test_psnr"] - metrics["baseline_psnr"])) < 1e-4
    for name in ("reconstructions.png", "loss_curve.png"):
        assert (tmp_path / "run" / name).stat().st_size > 1000


def test_same_seed_repeats_exactly_and_another_seed_differs(compose_cfg, train_run):
    a = train_run(*TINY, "seed=3", out="a")
    b = train_run(*TINY, "seed=3", out="b")
    c = train_run(*TINY, "seed=4", out="c")
    assert a["test_mse"] == b["test_mse"] and a["test_ssim"] == b["test_ssim"]
    assert c["test_mse"] != a["test_mse"]


def test_plain_reconstruction_is_scored_against_pca_with_the_code_size(compose_cfg, train_run):
    metrics = train_run(*TINY, "degradation=none", "data.size=16")  # PCA of 768, not 3,072 numbers
    assert metrics["baseline"] == "pca8" and metrics["code_size"] == 8
    assert metrics["baseline_psnr"] < 60  # 8 components cannot reproduce the images exactly


def test_pca_baseline_keeps_exactly_the_top_components():
    torch.manual_seed(0)
    basis = torch.linalg.qr(torch.randn(12, 3))[0]                 # a 3-d subspace of R^12
    x = (torch.randn(200, 3) * torch.tensor([5.0, 2.0, 1.0])) @ basis.T + 0.5
    pca3, pca1 = PCABaseline((12,), 3), PCABaseline((12,), 1)
    for pca in (pca3, pca1):
        pca.fit([(x[:100],), (x[100:],)])
    assert torch.allclose(pca3(x), x, atol=1e-4)
    err1 = ((pca1(x) - x) ** 2).sum(1).mean()
    assert abs(err1 - (2.0 ** 2 + 1.0 ** 2)) < 1.0   # only the largest direction is kept


def test_recurrent_models_train_with_their_gradient_norm_clipped(compose_cfg):
    """model=lstm sets grad_clip_norm=1.0: the optimizer only ever sees clipped gradients."""
    import pytorch_lightning as pl

    seen = []

    class RecordingSGD(torch.optim.SGD):
        def step(self, closure=None):
            loss = closure() if closure is not None else None  # Lightning clips inside the closure
            seen.append(torch.linalg.vector_norm(
                torch.stack([p.grad.norm() for g in self.param_groups for p in g["params"]])).item())
            super().step()
            return loss

    # near-constant sequences of 10..20 (sine peaks): unclipped gradient norms are far above 1
    cfg = compose_cfg(*TINY[:3], "logger=none", "model=lstm", "data=sine", "data.num_sequences=40",
                      "data.amp_range=[10,20]", "data.phase_range=[1.5,1.6]", "data.t_end=0.1")
    dm = instantiate(cfg.data)
    dm.setup()
    net = instantiate(cfg.model.net, input_shape=dm.item_shape, bounded=False)
    module = instantiate(cfg.model, net=net, degradation=instantiate(cfg.degradation),
                         optimizer=lambda params, lr: RecordingSGD(params, lr=lr))
    assert module.hparams.grad_clip_norm == 1.0
    pl.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
               enable_model_summary=False, limit_val_batches=0, accelerator="cpu").fit(module, dm)
    assert len(seen) == 3 and max(seen) <= 1.0 + 1e-4


def test_schedule_sets_the_learning_rate_over_the_run(compose_cfg):
    """schedule=cosine ends the run at lr ~0, onecycle warms up then anneals, constant keeps lr."""
    import pytorch_lightning as pl

    from aebench.core.config import build_parts

    lrs = {}
    for schedule in ("constant", "cosine", "onecycle"):
        cfg = compose_cfg(*TINY, "model=cnn_small", "lr=0.01", f"schedule={schedule}", out=schedule)
        dm, _, _, module = build_parts(cfg)
        seen = []

        class Record(pl.Callback):
            def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
                seen.append(trainer.optimizers[0].param_groups[0]["lr"])

        pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False, limit_val_batches=0, accelerator="cpu",
                   callbacks=[Record()]).fit(module, dm)
        lrs[schedule] = seen
    assert set(lrs["constant"]) == {0.01}
    assert lrs["cosine"][0] == 0.01 and lrs["cosine"][-1] < 0.002
    one = lrs["onecycle"]
    assert one[0] < 0.001 and max(one) > 0.009 and one[-1] < 0.001 and len(one) == len(lrs["cosine"])


def test_precision_auto_is_bf16_only_on_a_cpu_with_native_bf16(train_run):
    from aebench.running.train import auto_precision

    metrics = train_run(*TINY, "trainer.precision=auto")
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert metrics["precision"] == ("bf16-mixed" if native else "32-true")
    assert 0 < metrics["test_psnr"] < 100
    assert auto_precision("gpu") == "32-true"  # a GPU keeps fp32 unless asked


def test_training_losses_logged_are_each_steps_loss_and_the_epochs_mean(compose_cfg, tmp_path):
    """train/loss_step, written every log_every_n_steps steps, is that step's loss;
    train/loss_epoch is the mean over the epoch's items (what the loss curve and W&B show)."""
    import csv

    import pytorch_lightning as pl

    from aebench.core.config import build_parts

    dm, _deg, _net, module = build_parts(compose_cfg(*FAST, *FAST_SHAPES, "data.num_train=88"))
    losses = []  # (global step, epoch, loss, batch size)

    class Record(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            losses.append((trainer.global_step - 1, trainer.current_epoch,
                           float(outputs["loss"]), len(batch[0])))

    trainer = pl.Trainer(max_epochs=2, log_every_n_steps=3, limit_val_batches=0,
                         logger=pl.loggers.CSVLogger(tmp_path, name="csv"), callbacks=[Record()],
                         enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(module, datamodule=dm)
    rows = list(csv.DictReader(open(tmp_path / "csv" / "version_0" / "metrics.csv")))
    logged = {int(r["step"]): float(r["train/loss_step"]) for r in rows if r["train/loss_step"]}
    assert sorted({n for *_, n in losses}) == [6, 16]  # 70 training items: 4 x 16 + 6 an epoch
    assert set(logged) == {s for s, *_ in losses if (s + 1) % 3 == 0} == {2, 5, 8}
    for step, _epoch, loss, _n in losses:
        if step in logged:
            assert abs(logged[step] - loss) < 1e-6
    epochs = [float(r["train/loss_epoch"]) for r in rows if r["train/loss_epoch"]]
    for e in (0, 1):
        items = [(loss, n) for _s, ep, loss, n in losses if ep == e]
        assert abs(epochs[e] - sum(v * n for v, n in items) / sum(n for _, n in items)) < 1e-6
    assert abs(module.history[1]["train/loss_epoch"] - epochs[1]) < 1e-6
    assert float(trainer.callback_metrics["train/loss_step"]) == losses[-1][2]  # progress bar


def test_a_fixed_blur_is_applied_to_the_training_set_once_with_the_same_values(compose_cfg):
    """A blur with no noise gives every epoch the same degraded items: computed once at the
    start of training (uint8), read per step; training is exactly what per-batch blurring gives."""
    import pytorch_lightning as pl

    from aebench.core.config import build_parts

    runs = []
    for once in (True, False):
        pl.seed_everything(5, verbose=False)
        dm, deg, _net, module = build_parts(compose_cfg(*TINY, "model=cnn_small", "seed=5",
                                                        "trainer.max_epochs=2"))
        if not once:
            module._degrade_train_set = lambda: None  # every batch blurred in its step
        seen, losses = [], []

        class Record(pl.Callback):
            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                seen.append(pl_module._train_degraded is not None)
                losses.append(float(outputs["loss"]))

        pl.Trainer(max_epochs=2, limit_val_batches=0, logger=False, callbacks=[Record()],
                   enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False).fit(module, datamodule=dm)
        runs.append((seen, losses, [p.detach().clone() for p in module.net.parameters()]))
    assert all(runs[0][0]) and not any(runs[1][0]) and len(runs[0][1]) == 8
    assert runs[0][1] == runs[1][1]  # every step's loss, exactly
    assert all(torch.equal(a, b) for a, b in zip(runs[0][2], runs[1][2]))


def test_noise_and_drawn_blur_strengths_stay_fresh_at_every_step():
    from aebench.core.degradations import Blur, NoDegradation, Noise

    assert Blur(1.0).same_every_epoch() and Blur(0.0).same_every_epoch()
    for deg in (Blur([0.5, 2.0]), Blur(1.0, noise_std=0.01), Blur(1.0, quantize=False),
                Noise(0.1, quantize=True), NoDegradation()):
        assert not deg.same_every_epoch(), deg.describe()


def test_a_fused_optimizer_still_clips_under_mixed_precision(compose_cfg):
    # the Keras presets use Adam's fused kernel; Lightning's mixed-precision plugin refuses to
    # clip gradients with it, so a clipping model gets the unfused kernel instead of an error
    import pytorch_lightning as pl

    from aebench.core.config import build_parts

    dm, _deg, _net, module = build_parts(compose_cfg(*TINY, "model=cnn_small", "+optimizer.fused=true",
                                                     "+model.grad_clip_norm=1.0"))
    trainer = pl.Trainer(max_steps=2, precision="bf16-mixed", limit_val_batches=0, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(module, datamodule=dm)
    assert trainer.global_step == 2 and not trainer.optimizers[0].defaults["fused"]


def test_the_best_validation_epoch_is_the_one_tested_and_reported(compose_cfg, monkeypatch):
    """Three epochs whose validation losses are 0.3, 0.1, 0.2: the middle one is tested (its
    checkpoint), metrics.json's best_val_loss / val_psnr / val_mse are that epoch's, and the
    epoch history (loss_curve.png) still holds all three."""
    from aebench.core.module import AutoencoderModule

    forced, seen = [0.3, 0.1, 0.2], {}
    log = AutoencoderModule.log

    def log_forced(self, name, value, *args, **kwargs):
        if name == "val/loss":
            value = torch.tensor(forced[self.current_epoch])
        if name in ("val/psnr", "val/mse"):
            seen[(name, self.current_epoch)] = float(value)
        seen["module"] = self
        return log(self, name, value, *args, **kwargs)
    monkeypatch.setattr(AutoencoderModule, "log", log_forced)
    metrics = run(compose_cfg(*TINY, "model=cnn", "trainer.max_epochs=3"))
    assert metrics["epochs"] == 3
    assert metrics["best_val_loss"] == pytest.approx(0.1)
    assert metrics["best_checkpoint"].endswith("epoch001.ckpt")
    assert len({seen["val/psnr", e] for e in range(3)}) == 3  # the epochs can be told apart
    assert metrics["val_psnr"] == pytest.approx(seen["val/psnr", 1], rel=1e-6)
    assert metrics["val_mse"] == pytest.approx(seen["val/mse", 1], rel=1e-6)
    # testing on epoch 1's checkpoint takes its weights only: the loss curve keeps every epoch
    assert [row["epoch"] for row in seen["module"].history] == [0, 1, 2]

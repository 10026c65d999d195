"""The fast paths change speed, never values: SSIM as torchmetrics defines it, channels_last CNNs."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torchmetrics.image import StructuralSimilarityIndexMeasure

from aebench.core.metrics import SSIM


@pytest.mark.parametrize("shape", [(64, 3, 32, 32), (50, 1, 28, 28), (7, 3, 17, 23)])
def test_ssim_equals_torchmetrics_to_1e5(shape):
    g = torch.Generator().manual_seed(0)
    target = torch.rand(shape, generator=g)
    for noise in (0.0, 0.02, 0.3):
        preds = (target + noise * torch.randn(shape, generator=g)).clamp(0, 1)
        ours, ref = SSIM(data_range=1.0), StructuralSimilarityIndexMeasure(data_range=1.0)
        for i in range(0, shape[0], 16):  # several updates, as in an epoch
            ours.update(preds[i:i + 16], target[i:i + 16])
            ref.update(preds[i:i + 16], target[i:i + 16])
        assert float(ours.compute()) == pytest.approx(float(ref.compute()), abs=1e-5)


def test_channels_last_cnn_gives_the_same_outputs_and_gradients():
    from functools import partial

    from aebench.core.degradations import Blur
    from aebench.core.models.cnn_small import SmallConvAutoencoder
    from aebench.core.module import AutoencoderModule

    torch.manual_seed(0)
    net = SmallConvAutoencoder(input_shape=(3, 32, 32), latent=8)
    x = torch.rand(4, 3, 32, 32)
    outs = []
    for fast in (False, True):
        m = AutoencoderModule(copy.deepcopy(net), Blur(1.0), partial(torch.optim.Adam, lr=1e-3),
                              channels_last=fast)
        out = m(x)
        out.sum().backward()
        assert out.is_contiguous()  # metrics can flatten it
        outs.append((out.detach(), m.net.encoder[0].weight.grad))
    assert torch.allclose(outs[0][0], outs[1][0], atol=1e-5)
    assert torch.allclose(outs[0][1], outs[1][1], atol=1e-4)


@pytest.mark.parametrize("model", ["cnn_small", "cnn", "cnn_bn", "cnn_deep", "convlstm", "vae"])
def test_fast_cnn_layers_compute_the_published_model(model):
    """Same outputs and gradients as the published layers (float64: to rounding), same keys."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from aebench.core.models.common import published_layers

    torch.manual_seed(0)
    spec = OmegaConf.load(Path(__file__).parents[1] / "conf" / "model" / f"{model}.yaml").net
    net = instantiate(spec, input_shape=(3, 32, 32), bounded=True).double()
    ref = published_layers(net)
    assert str(net) != str(ref)  # it has fast layers to undo
    x = torch.rand(6, 3, 32, 32, dtype=torch.double)
    x[:, :, :4] = 0  # flat regions: ties in the pooling windows
    grads = []
    for m in (net, ref):
        torch.manual_seed(1)  # the VAE's sampling
        out = m(x)
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        grads.append((out.detach(), *(p.grad for p in m.parameters())))
    assert len(grads[0]) == len(grads[1])
    assert all(torch.allclose(a, b, rtol=1e-9, atol=1e-12) for a, b in zip(*grads))
    assert net.state_dict().keys() == ref.state_dict().keys()  # checkpoints load either way


@pytest.mark.parametrize("every", [1, 3])
def test_nan_loss_names_its_first_step_however_seldom_it_is_read(compose_cfg, every):
    # on a GPU the loss is read every log_every_n_steps steps (no host sync per step); the step
    # reported must still be the first bad one, and no epoch may end with it unnoticed
    import pytorch_lightning as pl
    from conftest import FAST, FAST_SHAPES

    from aebench.core.config import build_parts

    dm, _deg, _net, module = build_parts(compose_cfg(*FAST, *FAST_SHAPES, "model=cnn_small",
                                                     "logger=none", "data.num_train=200"))
    module.nan_check_every = every
    steps = []

    class PoisonAtStep1(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            steps.append(batch_idx)
            if batch_idx == 1:
                with torch.no_grad():
                    next(pl_module.net.parameters()).fill_(float("nan"))

    trainer = pl.Trainer(max_epochs=1, logger=False, accelerator="cpu", limit_val_batches=0,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[PoisonAtStep1()])
    with pytest.raises(FloatingPointError, match="at step 1;"):
        trainer.fit(module, datamodule=dm)
    assert len(steps) == (2 if every == 1 else 4)  # found at step 1, or at the next check (3)


def test_bf16_mixed_changes_the_network_only_never_the_degradation_baseline_or_metrics(compose_cfg):
    # under trainer.precision=bf16-mixed Lightning runs every step in autocast; the blur, the
    # baseline and SSIM (matrix products) must still be float32: scores equal fp32's
    import pytorch_lightning as pl
    from conftest import FAST, FAST_SHAPES

    from aebench.core.config import build_parts

    scores = {}
    for precision in ("32-true", "bf16-mixed"):
        dm, _deg, _net, module = build_parts(compose_cfg(*FAST, *FAST_SHAPES, "model=identity",
                                                         "logger=none"))
        trainer = pl.Trainer(precision=precision, logger=False, accelerator="cpu",
                             enable_progress_bar=False, enable_model_summary=False)
        scores[precision] = trainer.test(module, datamodule=dm, verbose=False)[0]
    for key in ("test/ssim", "test/psnr", "test/baseline_ssim", "test/baseline_psnr"):
        assert scores["bf16-mixed"][key] == pytest.approx(scores["32-true"][key], abs=1e-6), key
    assert scores["bf16-mixed"]["test/ssim"] == pytest.approx(
        scores["bf16-mixed"]["test/baseline_ssim"], abs=1e-6)  # identity: its output is its input



def test_bf16_forward_casts_each_weight_once_not_once_per_time_step():
    # Lightning's bf16 autocast has its cast cache off: an nn.RNN would re-cast its weights at
    # every time step (+1.3 ms per rnn step at batch 128, docs/performance.md); the module's
    # forward casts each weight once, with the same values
    from collections import Counter
    from functools import partial

    from torch.utils._python_dispatch import TorchDispatchMode

    from aebench.core.degradations import NoDegradation
    from aebench.core.models.recurrent import RecurrentAutoencoder
    from aebench.core.module import AutoencoderModule

    class Casts(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.of = Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.aten._to_copy.default and (kwargs or {}).get("dtype") == torch.bfloat16:
                self.of[args[0].data_ptr()] += 1
            return func(*args, **(kwargs or {}))

    torch.manual_seed(0)
    m = AutoencoderModule(RecurrentAutoencoder((3, 8, 8), cell="rnn", latent=6, decoder_hidden=6),
                          NoDegradation(), partial(torch.optim.Adam, lr=1e-3))
    x = torch.rand(4, 3, 8, 8)
    counts, outs = [], []
    for f in (m.net, m):  # the bare network, then the module's forward
        with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False), Casts() as casts:
            outs.append(f(x).float())
        counts.append([casts.of[p.data_ptr()] for p in m.parameters()])
    assert max(counts[0]) > 1  # without it: weights cast again at each of the 8 rows
    assert counts[1] == [1] * len(counts[1])
    assert torch.equal(outs[0], outs[1])

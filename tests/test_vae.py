"""model=vae: the network samples only in training, the objective is recon + kl_weight * KL, a job runs."""
from __future__ import annotations

import math

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from conftest import FAST, FAST_SHAPES
from torch.utils.data import DataLoader, TensorDataset

from aebench.core.degradations import Degradation
from aebench.core.errors import ConfigError
from aebench.core.models.vae import ConvVAE
from aebench.core.config import build
from aebench.core.vae_module import VAEModule, kl_per_element, vae_loss


def _net(shape=(3, 16, 16), latent=5, depth=2):
    torch.manual_seed(0)
    return ConvVAE(shape, latent=latent, depth=depth, base_channels=4)


# -- the network --------------------------------------------------------------------------
@pytest.mark.parametrize("shape,depth", [((3, 16, 16), 2), ((1, 28, 28), 2), ((3, 32, 32), 1)])
def test_eval_forward_is_the_decoded_posterior_mean_and_training_samples(shape, depth):
    net = _net(shape, latent=5, depth=depth)
    x = torch.rand(4, *shape)
    assert net.code_size == 5 and net.encode(x).shape == (4, 5)
    net.eval()
    with torch.no_grad():
        a, b = net(x), net(x)
        mu, logvar = net.posterior(x)
        assert a.shape == x.shape and torch.equal(a, b)
        assert torch.equal(net.encode(x), mu) and logvar.shape == mu.shape
        assert torch.allclose(a, net.decode(mu))
    net.train()
    with torch.no_grad():
        c, d = net(x), net(x)
    assert c.shape == x.shape and not torch.allclose(c, d) and not torch.allclose(c, a)


def test_gradients_reach_every_parameter_in_training_mode():
    net = _net().train()
    x = torch.rand(4, 3, 16, 16)
    mu, logvar = net.posterior(x)
    loss, _, _ = vae_loss(net.decode(net.reparameterize(mu, logvar)), x, mu, logvar,
                          F.mse_loss, 1e-3)
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"
    net.zero_grad()
    ((net(x) - x) ** 2).mean().backward()  # forward() itself samples through logvar in training
    assert net.to_logvar.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("shape,depth,match", [((50, 1), 1, "needs images"),
                                               ((1, 28, 28), 3, "depth=3 .* use depth <= 2"),
                                               ((3, 15, 15), 1, "even sides")])
def test_unsupported_shapes_are_config_errors(compose_cfg, shape, depth, match):
    cfg = compose_cfg("model=vae", "latent=8", f"depth={depth}")
    with pytest.raises(ConfigError, match=match):
        build(cfg.model.net, input_shape=shape, bounded=True)


def test_config_reaches_network_and_module(compose_cfg):
    cfg = compose_cfg("model=vae", "latent=12", "depth=2", "model.kl_weight=0.25")
    net = build(cfg.model.net, input_shape=(3, 32, 32), bounded=True)
    module = build(cfg.model, net=net, degradation=Degradation())
    assert isinstance(net, ConvVAE) and net.code_size == 12 and net.feature_shape == (64, 8, 8)
    assert isinstance(module, VAEModule) and module.kl_weight == 0.25
    assert module.hparams.kl_weight == 0.25 and module.hparams.loss == "mse"
    for bad in ("-1", "nan", "true"):
        with pytest.raises(ConfigError, match="kl_weight"):
            build(compose_cfg("model=vae", f"model.kl_weight={bad}").model, net=net,
                  degradation=Degradation())


# -- the objective ------------------------------------------------------------------------
def test_kl_matches_torch_distributions_per_item_divided_by_item_size():
    torch.manual_seed(1)
    mu, logvar = torch.randn(6, 4), torch.randn(6, 4)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(4), torch.ones(4))
    per_item = torch.distributions.kl_divergence(q, p).sum(1)
    assert torch.allclose(kl_per_element(mu, logvar, 48), per_item.mean() / 48)
    assert kl_per_element(torch.zeros(3, 4), torch.zeros(3, 4), 10) == 0  # q == prior


def _module(kl_weight, loss="mse"):
    net = _net((1, 8, 8), latent=3, depth=1)
    return VAEModule(net, Degradation(), lambda params, lr: torch.optim.SGD(params, lr=lr), lr=0.1,
                     loss=loss, kl_weight=kl_weight)


@pytest.mark.filterwarnings("ignore:You are trying to:UserWarning")  # self.log() with no Trainer
def test_training_step_loss_is_recon_plus_weighted_kl_computed_by_hand():
    module, w = _module(kl_weight=0.3), 0.3
    x = torch.rand(5, 1, 8, 8)
    batch = (x, torch.zeros(5), torch.arange(5))
    torch.manual_seed(7)
    loss = module.training_step(batch, 0)

    net = module.net
    torch.manual_seed(7)
    h = torch.relu(net.encoder[0](x)).flatten(1)
    mu, logvar = net.to_mu(h), net.to_logvar(h)
    z = mu + torch.exp(logvar / 2) * torch.randn(5, 3)
    out = net.decode(z)
    recon = ((out - x) ** 2).sum() / x.numel()
    kl = sum(0.5 * sum(mu[i, j] ** 2 + torch.exp(logvar[i, j]) - 1 - logvar[i, j]
                       for j in range(3)) for i in range(5)) / 5 / 64
    assert torch.allclose(loss, recon + w * kl, rtol=1e-5, atol=1e-7)
    assert kl > 0 and abs(loss - recon) > 1e-6  # the KL term really is in the loss

    plain = _module(kl_weight=0)  # the same initial weights (seeded in _net)
    torch.manual_seed(7)
    assert torch.allclose(plain.training_step(batch, 0), recon)


def test_fit_logs_recon_and_kl_that_add_up_to_the_loss():
    module, w = _module(kl_weight=0.5), 0.5
    x = torch.rand(16, 1, 8, 8)
    data = DataLoader(TensorDataset(x, torch.zeros(16), torch.arange(16)), batch_size=8)
    trainer = pl.Trainer(max_steps=2, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0, accelerator="cpu")
    trainer.fit(module, train_dataloaders=data)
    m = trainer.callback_metrics
    assert float(m["train/kl_epoch"]) > 0
    assert abs(float(m["train/loss_epoch"])
               - (float(m["train/recon_epoch"]) + w * float(m["train/kl_epoch"]))) < 1e-6


@pytest.mark.filterwarnings("ignore:You are trying to:UserWarning")
def test_training_step_keeps_the_parents_nan_check():
    module = _module(kl_weight=1e-3)
    with torch.no_grad():
        module.net.to_mu.bias.fill_(float("nan"))
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(FloatingPointError, match="training loss became nan"):
        module.training_step((x, torch.zeros(2), torch.arange(2)), 0)


# -- a whole job --------------------------------------------------------------------------
def test_a_vae_job_returns_finite_test_metrics(compose_cfg, train_run):
    metrics = train_run("model=vae", *FAST, *FAST_SHAPES, "logger=none")
    assert metrics["model"] == "vae" and metrics["code_size"] == 8
    for key in ("test_psnr", "test_ssim", "test_mse", "baseline_psnr", "psnr_gain"):
        assert math.isfinite(metrics[key]), key
    assert metrics["baseline"] == "input"

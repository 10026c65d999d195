"""Every network, built from its config, works on every kind of data it supports."""
from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from conftest import CONF

from aebench.core.errors import ConfigError
from aebench.core.config import build

SHAPES = {"cifar": (3, 32, 32), "mnist": (1, 28, 28), "sine": (50, 1)}


MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("data", list(SHAPES))
def test_model_output_shape_and_gradients(compose_cfg, model, data):
    """Every conf/model/*.yaml: shape in = shape out, finite, gradients reach every parameter;
    or a one-line ConfigError for data it does not take."""
    cfg = compose_cfg(f"model={model}", "latent=8", "depth=2")
    shape = SHAPES[data]
    torch.manual_seed(0)
    try:
        net = build(cfg.model.net, input_shape=shape, bounded=data != "sine")
    except ConfigError as err:
        assert len(str(err).splitlines()) == 1 and str(shape) in str(err)
        return
    x = torch.rand(4, *shape)
    out = net(x)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    assert net.encode(x).flatten(1).shape[1] == net.code_size
    if not list(net.parameters()):  # a non-learned row
        return
    ((out - x) ** 2).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"


@pytest.mark.parametrize("model,keras,extra", [("lstm", 259_168, 2 * 4 * 128),
                                               ("rnn", 74_080, 2 * 128)])
def test_default_recurrent_models_match_the_reports_keras_counts(compose_cfg, model, keras, extra):
    """PyTorch keeps two bias vectors per gate: 4h more per LSTM layer, h more per RNN layer."""
    cfg = compose_cfg(f"model={model}")
    net = instantiate(cfg.model.net, input_shape=(3, 32, 32), bounded=True)
    assert sum(p.numel() for p in net.parameters()) == keras + extra


def test_latent_and_depth_reach_the_network(compose_cfg):
    cfg = compose_cfg("model=cnn", "latent=4", "depth=2")
    net = instantiate(cfg.model.net, input_shape=(3, 32, 32), bounded=True)
    assert net.code_size == 4 * 8 * 8
    cfg = compose_cfg("model=lstm", "latent=32", "depth=3")
    net = instantiate(cfg.model.net, input_shape=(3, 32, 32), bounded=True)
    assert net.code_size == 32 and net.encoder.num_layers == 3 and net.decoder.num_layers == 3


@pytest.mark.slow
def test_default_cnn_learns_mostly_black_images_instead_of_collapsing(compose_cfg):
    """MNIST-like data (dark background, thin bright strokes) must not drive every output to 0."""
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    x = torch.zeros(256, 1, 28, 28)
    for i, (r, c) in enumerate(torch.randint(4, 20, (256, 2), generator=g).tolist()):
        x[i, 0, r:r + 6, c:c + 2] = 1.0
        x[i, 0, r + 2:r + 4, c:c + 6] = 0.8
    cfg = compose_cfg("model=cnn", "latent=8", "depth=2")
    net = instantiate(cfg.model.net, input_shape=(1, 28, 28), bounded=True)
    opt = instantiate(cfg.optimizer)(net.parameters(), lr=cfg.model.lr)
    for _ in range(60):
        b = x[torch.randint(0, len(x), (64,), generator=g)]
        loss = ((net(b) - b) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        mse = ((net(x).clamp(0, 1) - x) ** 2).mean()
    assert mse < 0.5 * (x ** 2).mean()  # all-black output scores (x**2).mean()


@pytest.mark.parametrize("name,target,degradation", [
    ("cifar10_lstm_blur", "aebench.core.data.cifar10.CIFAR10DataModule", "aebench.core.degradations.Blur"),
    ("mnist_cnn_recon", "aebench.core.data.mnist.MNISTDataModule", "aebench.core.degradations.NoDegradation"),
    ("sine_denoise", "aebench.core.data.sine.SineDataModule", "aebench.core.degradations.Noise"),
])
def test_experiment_presets_select_their_groups_and_still_take_overrides(compose_cfg, name, target,
                                                                         degradation):
    cfg = compose_cfg(f"experiment={name}", "latent=16")
    assert cfg.data._target_ == target and cfg.degradation._target_ == degradation
    assert cfg.model.net.latent == 16  # a command-line override beats the preset


@pytest.mark.parametrize("name", sorted(p.stem for p in (CONF / "experiment").glob("*.yaml")))
def test_every_experiment_preset_composes_to_real_classes(compose_cfg, name):
    from hydra.utils import get_class

    cfg = compose_cfg(f"experiment={name}")
    for node in (cfg.data, cfg.model, cfg.model.net, cfg.degradation):
        assert get_class(node._target_)
    assert cfg.trainer.max_epochs >= 1

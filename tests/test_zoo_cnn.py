"""The convolutional zoo built from its configs: cnn_small, cnn_bn, cnn_deep, unet, convlstm."""
from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from aebench.core.errors import ConfigError
from aebench.core.config import build

ZOO = ["cnn_small", "cnn_bn", "cnn_deep", "unet", "convlstm"]


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# The published models are pinned at their own latent (the top-level default is 128).
@pytest.mark.parametrize("model,overrides,shape,count", [
    ("cnn_small", [], (3, 32, 32), 11_011),   # = Keras
    ("cnn_bn", [], (1, 28, 28), 12_393),       # Keras 12,585: see below
    ("cnn_deep", [], (1, 28, 28), 185_217),  # = Keras
    ("unet", [], (3, 32, 32), 466_595),
    ("convlstm", ["latent=128", "depth=1"], (3, 32, 32), 565_571),
])
def test_default_parameter_counts(compose_cfg, model, overrides, shape, count):
    cfg = compose_cfg(f"model={model}", *overrides)
    net = instantiate(cfg.model.net, input_shape=shape, bounded=True)
    assert n_params(net) == count


def test_cnn_bn_matches_keras_once_batchnorm_moving_statistics_are_counted(compose_cfg):
    """Keras counts BatchNormalization's moving mean and variance as (non-trainable) parameters;
    PyTorch keeps them as buffers: 2 x (32+16+16+32) = 192 numbers, 12,393 + 192 = 12,585."""
    cfg = compose_cfg("model=cnn_bn", "latent=8")
    net = instantiate(cfg.model.net, input_shape=(1, 28, 28), bounded=True)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert [m.num_features for m in bns] == [32, 16, 16, 32]
    moving = sum(m.running_mean.numel() + m.running_var.numel() for m in bns)
    assert n_params(net) + moving == 12_585


@pytest.mark.parametrize("model,overrides,shape,code_size", [
    ("cnn_small", ["latent=4"], (3, 32, 32), 4 * 16 * 16),
    ("cnn_bn", ["latent=4"], (1, 28, 28), 4 * 7 * 7),
    ("cnn_deep", ["latent=16"], (1, 28, 28), 16 * 7 * 7),
    ("unet", ["latent=16", "depth=3"], (3, 32, 32), 16 * 4 * 4),
    ("unet", ["latent=16", "depth=1"], (1, 28, 28), 16 * 14 * 14),
    ("convlstm", ["latent=32", "depth=2"], (3, 32, 32), 32),
])
def test_latent_and_depth_reach_the_network(compose_cfg, model, overrides, shape, code_size):
    cfg = compose_cfg(f"model={model}", *overrides)
    net = instantiate(cfg.model.net, input_shape=shape, bounded=True)
    assert net.code_size == code_size
    x = torch.rand(2, *shape)
    assert net.encode(x).flatten(1).shape[1] == code_size
    assert net(x).shape == x.shape


def test_depth_sets_unet_levels_and_convlstm_layers(compose_cfg):
    net = instantiate(compose_cfg("model=unet", "depth=3").model.net, input_shape=(3, 32, 32))
    assert len(net.downs) == len(net.ups) == 3
    net = instantiate(compose_cfg("model=convlstm", "depth=2").model.net, input_shape=(3, 32, 32))
    assert net.rnn_encoder.num_layers == net.rnn_decoder.num_layers == 2


@pytest.mark.parametrize("model", ["cnn_small", "cnn_bn", "cnn_deep"])
def test_fixed_architectures_ignore_depth(compose_cfg, model):
    counts = [n_params(instantiate(compose_cfg(f"model={model}", f"depth={d}").model.net,
                                   input_shape=(1, 28, 28))) for d in (1, 3)]
    assert counts[0] == counts[1]


@pytest.mark.parametrize("model", ZOO)
def test_sequences_are_refused(compose_cfg, model):
    cfg = compose_cfg(f"model={model}")
    with pytest.raises(ConfigError, match=r"needs images \(C, H, W\).*\(50, 1\)"):
        build(cfg.model.net, input_shape=(50, 1), bounded=False)


@pytest.mark.parametrize("model,overrides,shape,match", [
    ("cnn_small", [], (1, 27, 27), "27x27"),
    ("cnn_bn", [], (1, 30, 30), "30x30"),
    ("cnn_deep", [], (3, 32, 30), "32x30"),
    ("convlstm", [], (3, 30, 30), "30x30"),
    ("unet", ["depth=3"], (1, 28, 28), r"depth=3 .*28x28.*depth <= 2"),
])
def test_image_sides_that_do_not_divide_are_refused(compose_cfg, model, overrides, shape, match):
    cfg = compose_cfg(f"model={model}", *overrides)
    with pytest.raises(ConfigError, match=match):
        build(cfg.model.net, input_shape=shape, bounded=True)


def test_published_models_keep_their_sigmoid_and_cnn_deep_its_bce(compose_cfg):
    for model in ("cnn_small", "cnn_bn", "cnn_deep"):
        cfg = compose_cfg(f"model={model}")
        assert isinstance(instantiate(cfg.model.net, input_shape=(1, 28, 28)).decoder[-1],
                          nn.Sigmoid)
    assert compose_cfg("model=cnn_deep").model.loss == "bce"
    cfg = compose_cfg("model=cnn_small", "model.net.out_activation=identity")
    assert isinstance(instantiate(cfg.model.net, input_shape=(1, 28, 28)).decoder[-1], nn.Identity)


def test_unet_adds_its_correction_to_the_input(compose_cfg):
    cfg = compose_cfg("model=unet", "depth=2")
    net = instantiate(cfg.model.net, input_shape=(3, 32, 32), bounded=True)
    nn.init.zeros_(net.head.weight)
    nn.init.zeros_(net.head.bias)
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(net(x), x)


"""The reports' Keras LSTM models and their repaired sine / GRU variants, built from their configs."""
from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from aebench.core.errors import ConfigError
from aebench.core.models.keras_lstm import ActivationLSTM
from aebench.core.config import build

CIFAR, MNIST, SINE = (3, 32, 32), (1, 28, 28), (50, 1)


def params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# (config, input shape, PyTorch count, Keras count). nn.LSTM keeps two bias vectors (bias_ih,
# bias_hh): 4*units more per nn.LSTM layer than Keras; ActivationLSTM keeps one, as Keras.
# nn.GRU keeps two as Keras' GRU(reset_after=True) does, so those counts agree.
DEFAULT_COUNTS = [
    ("lstm_seq", CIFAR, 171_616, 170_848),          # + 4 x (128 + 64)
    ("lstm_deep", CIFAR, 2_699_648, 2_695_552),     # + 4 x (512 + 256 + 256); output layer as Keras
    ("lstm_stack", MNIST, 271_132, 269_468),        # + 4 x (128 + 64 + 32 + 64 + 128)
    ("lstm_sine_report", SINE, 17_160, 17_160),     # every layer an ActivationLSTM
    ("lstm_sine", SINE, 76_097, None),              # no Keras original
    ("gru", CIFAR, 198_240, 198_240),               # Keras GRU with reset_after=True (its default)
]


@pytest.mark.parametrize("model,shape,torch_count,keras_count", DEFAULT_COUNTS)
def test_default_parameter_counts(compose_cfg, model, shape, torch_count, keras_count):
    cfg = compose_cfg(f"model={model}")
    net = instantiate(cfg.model.net, input_shape=shape, bounded=shape != SINE)
    assert params(net) == torch_count
    if keras_count is not None:
        lstm_units = sum(m.hidden_size for m in net.modules() if isinstance(m, nn.LSTM))
        assert torch_count - keras_count == 4 * lstm_units


@pytest.mark.parametrize("model,latent,depth,lr", [
    ("lstm_seq", 64, 2, 1e-3), ("lstm_deep", 256, 2, 1e-4), ("lstm_stack", 32, 3, 1e-3),
    ("lstm_sine_report", 64, 1, 1e-3), ("lstm_sine", 16, 1, 3e-3), ("gru", 128, 1, 1e-3),
])
def test_a_model_config_sets_its_defaults_and_the_command_line_still_wins(compose_cfg, model,
                                                                          latent, depth, lr):
    cfg = compose_cfg(f"model={model}")
    assert (cfg.latent, cfg.depth, cfg.lr) == (latent, depth, lr)
    assert cfg.model.grad_clip_norm == 1.0
    cfg = compose_cfg(f"model={model}", "latent=5", "depth=4", "lr=0.02")
    assert (cfg.model.net.latent, cfg.model.net.depth, cfg.model.lr) == (5, 4, 0.02)


def widths(layers) -> list[int]:
    return [layer.hidden_size for layer in layers]


def test_latent_and_depth_reach_the_stacked_models(compose_cfg):
    cfg = compose_cfg("model=lstm_stack", "latent=8", "depth=3")
    net = instantiate(cfg.model.net, input_shape=MNIST, bounded=True)
    assert widths(net.encoder) == [32, 16, 8] and widths(net.decoder) == [16, 32]
    assert net.code_size == 8 and net.encode(torch.rand(2, *MNIST)).shape == (2, 8)
    cfg = compose_cfg("model=lstm_stack", "latent=8", "depth=1")
    net = instantiate(cfg.model.net, input_shape=MNIST, bounded=True)
    assert widths(net.encoder) == [8] and widths(net.decoder) == [8]  # never Linear after repeat

    cfg = compose_cfg("model=lstm_seq", "latent=8", "depth=3")
    net = instantiate(cfg.model.net, input_shape=CIFAR, bounded=True)
    assert widths(net.encoder) == [32, 16, 8] and len(net.decoder) == 0
    assert net.code_size == 32 * 8 and net.encode(torch.rand(2, *CIFAR)).shape == (2, 32, 8)


def test_latent_and_depth_reach_the_keras_models(compose_cfg):
    cfg = compose_cfg("model=lstm_deep", "latent=8", "depth=3")
    net = instantiate(cfg.model.net, input_shape=CIFAR, bounded=True)
    assert widths(net.encoder) == [32, 16, 8] and widths(net.decoder) == [8, 8]
    assert net.output_layer.hidden_size == 96 and isinstance(net.output_layer.act, nn.Sigmoid)
    assert net.code_size == 8
    net = instantiate(cfg.model.net, input_shape=SINE, bounded=False)
    assert isinstance(net.output_layer.act, nn.Identity)  # auto: linear on unbounded data

    cfg = compose_cfg("model=lstm_sine_report", "latent=8", "depth=2")
    net = instantiate(cfg.model.net, input_shape=SINE, bounded=False)
    assert widths(net.encoder) == [16, 8] and widths(net.decoder) == [8]
    assert all(isinstance(m, ActivationLSTM) and isinstance(m.act, nn.ReLU)
               for m in [*net.encoder, *net.decoder])
    assert isinstance(net.output_layer.act, nn.Sigmoid) and net.code_size == 8


@pytest.mark.parametrize("model", ["lstm_sine", "gru"])
def test_latent_and_depth_reach_the_row_sequence_models(compose_cfg, model):
    cfg = compose_cfg(f"model={model}", "latent=8", "depth=3")
    net = instantiate(cfg.model.net, input_shape=SINE, bounded=False)
    assert net.encoder.hidden_size == 8 and net.code_size == 8
    assert net.encoder.num_layers == 3 and net.decoder.num_layers == 3
    assert isinstance(net.encoder, nn.GRU if model == "gru" else nn.LSTM)


def test_activation_lstm_with_tanh_is_nn_lstm():
    """The trust check for the custom layer: same weights, same function as nn.LSTM."""
    torch.manual_seed(0)
    ref = nn.LSTM(5, 7, batch_first=True)
    layer = ActivationLSTM(5, 7, nn.Tanh())
    with torch.no_grad():
        layer.weight_ih.copy_(ref.weight_ih_l0)
        layer.weight_hh.copy_(ref.weight_hh_l0)
        layer.bias.copy_(ref.bias_ih_l0 + ref.bias_hh_l0)
    x = torch.randn(3, 11, 5)
    expected, _ = ref(x)
    out, _ = layer(x)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    assert params(layer) == params(ref) - 4 * 7  # one bias vector, as Keras


def test_activation_lstm_uses_its_activation_on_candidate_and_output():
    layer = ActivationLSTM(1, 1, nn.Sigmoid())
    with torch.no_grad():  # gates open (i = f = o = sigmoid(large)), candidate pre-activation 0
        layer.weight_ih.zero_()
        layer.weight_hh.zero_()
        layer.bias.copy_(torch.tensor([50.0, 50.0, 0.0, 50.0]))
    out, _ = layer(torch.zeros(1, 3, 1))
    c = torch.tensor([0.5, 1.0, 1.5])  # c_t = c_{t-1} + sigmoid(0)
    torch.testing.assert_close(out.flatten(), torch.sigmoid(c))


def test_the_report_sine_model_cannot_output_negative_values(compose_cfg):
    cfg = compose_cfg("model=lstm_sine_report")
    net = instantiate(cfg.model.net, input_shape=SINE, bounded=False)
    out = net(torch.randn(8, *SINE))
    assert (out > 0).all() and (out < 1).all()


@pytest.mark.parametrize("model", ["lstm_seq", "lstm_deep", "lstm_stack", "lstm_sine_report"])
def test_unsupported_shapes_and_values_are_config_errors(compose_cfg, model):
    cfg = compose_cfg(f"model={model}", "latent=4")
    with pytest.raises(ConfigError, match=r"input_shape=\(784,\) is not accepted"):
        build(cfg.model.net, input_shape=(784,), bounded=True)
    with pytest.raises(ConfigError, match="depth=0"):
        build(cfg.model.net, input_shape=SINE, bounded=False, depth=0)
    if model in ("lstm_deep", "lstm_sine_report"):
        with pytest.raises(ConfigError, match="model.net.activation='gelu'"):
            build(cfg.model.net, input_shape=SINE, bounded=False, activation="gelu")


def test_init_keras_starts_from_keras_initialisers():
    """The faithful ports' init=keras: glorot kernels, orthogonal recurrent weights, zero biases but
    LSTM forget gates at 1 (PyTorch's two bias vectors sum to Keras' one); init=torch is PyTorch's."""
    from aebench.core.models.stacked import StackedLSTMAutoencoder

    torch.manual_seed(0)
    net = StackedLSTMAutoencoder((3, 32, 32), latent=64, depth=2, bottleneck=False, init="keras")
    lstm = net.encoder[0]
    u = lstm.hidden_size
    w = lstm.weight_hh_l0  # (4u, u): orthonormal columns, as Keras' (u, 4u) orthogonal kernel's rows
    assert torch.allclose(w.T @ w, torch.eye(u), atol=1e-4)
    assert torch.equal(lstm.bias_ih_l0[u:2 * u], torch.ones(u))
    assert lstm.bias_ih_l0[:u].abs().sum() == 0 and lstm.bias_hh_l0.abs().sum() == 0
    limit = (6 / (96 + 4 * u)) ** 0.5  # glorot-uniform on Keras' (96, 4u) kernel
    assert lstm.weight_ih_l0.abs().max() <= limit and lstm.weight_ih_l0.abs().max() > 0.9 * limit
    assert net.head.bias.abs().sum() == 0
    torch_init = StackedLSTMAutoencoder((3, 32, 32), latent=64, depth=2, bottleneck=False)
    assert torch_init.encoder[0].bias_hh_l0.abs().sum() > 0
    with pytest.raises(ConfigError, match="model.net.init='glorot' is not accepted; choose one of: keras, torch"):
        StackedLSTMAutoencoder((3, 32, 32), init="glorot")

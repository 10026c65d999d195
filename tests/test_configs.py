"""Every config in conf/ composes and builds what it describes, and every model runs one training
step on every data set it accepts: generated from the files, so a new config cannot land untested."""
from __future__ import annotations

import itertools
import math
import re

import pytest
import torch
from fakedata import write_cifar10, write_image_folder, write_mnist

from aebench.core.config import build, build_parts, compose, options
from aebench.core.errors import ConfigError

TINY = ["logger=none", "data.batch_size=8", "trainer.max_epochs=1"]
SMALL = {"shapes": ["data.num_train=24", "data.num_test=8"],
         "sine": ["data.num_sequences=40"], "sine_report": ["data.num_sequences=40"]}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """The three on-disk formats, a few items each (the shapes and sine data are generated)."""
    root = tmp_path_factory.mktemp("userdata")
    write_cifar10(root, n_train=24, n_test=8)
    write_mnist(root, n_train=24, n_test=8)
    write_image_folder(root / "folder", classes=("a", "b"), n_per_class=8, size=(32, 32))
    return root


def data_args(name: str, root) -> list[str]:
    if name in ("cifar10", "mnist"):
        return [f"data={name}", f"data.root={root}", "data.download=false"]
    if name == "folder":
        return ["data=folder", f"data.root={root / 'folder'}"]
    return [f"data={name}", *SMALL.get(name, [])]


PAIRS = list(itertools.product(options("model"), options("data")))

#: the pairs a model refuses, and the words its one-line refusal must hold: every other pair must
#: build and train (a model that stops accepting CIFAR-10 fails here, it is not skipped)
IMAGE_MODELS = ("cnn", "cnn_bn", "cnn_deep", "cnn_small", "convlstm", "unet", "unet_attn",
                "unet_small", "unsharp", "vae", "wiener", "wiener_unet", "wiener_unet_blind")
SEQUENCE_DATA = ("sine", "sine_report")
REFUSED = {(m, d): "needs images (C, H, W)" for m in IMAGE_MODELS for d in SEQUENCE_DATA}


def pair_config(model: str, data: str, root, out):
    """The config `python -m aebench model=MODEL data=DATA ...` composes to (config.compose with
    both groups: what crosses groups, e.g. wiener's blur operator from the degradation that the
    data set's config chose, is composed as a user gets it)."""
    return compose([f"model={model}", *data_args(data, root), *TINY], out).cfg


def test_the_refusal_table_names_real_options():
    for model, data in REFUSED:
        assert model in options("model") and data in options("data"), (model, data)


@pytest.mark.parametrize("model,data", PAIRS, ids=[f"{m}-{d}" for m, d in PAIRS])
def test_every_model_runs_a_training_step_on_every_data_set_it_accepts(model, data, data_root,
                                                                       tmp_path):
    cfg = pair_config(model, data, data_root, tmp_path)
    if (model, data) in REFUSED:  # refused in one line, before anything trains
        with pytest.raises(ConfigError, match=re.escape(REFUSED[(model, data)])) as err:
            build_parts(cfg)
        assert "\n" not in str(err.value)
        return
    dm, _deg, net, module = build_parts(cfg)  # any refusal here is a failure
    x, y, idx = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    if any(p.requires_grad for p in net.parameters()):
        optimizer = module.configure_optimizers()
        loss = module.training_step((x, y, idx), 0)
        loss.backward()
        optimizer.step()
        assert math.isfinite(loss.item())
    with torch.no_grad():
        out = module(module.degradation(x, idx, "val"))
    assert out.shape == x.shape and torch.isfinite(out).all()


@pytest.mark.parametrize("model", options("model"))
def test_every_model_takes_images_or_sequences(model, tmp_path):
    """No model config that no data set can use (the pair test above would skip it everywhere)."""
    for data in ("shapes", "sine"):
        try:
            build_parts(compose([f"model={model}", *data_args(data, None), *TINY], tmp_path).cfg)
            return
        except ConfigError:
            continue
    pytest.fail(f"model={model} runs neither on images (data=shapes) nor on sequences (data=sine)")


# the Keras notebooks' recurrent models: their presets are faithful ports (issue 15)
KERAS_RECURRENT_PORTS = ("cifar10_lstm_seq_blur", "cifar10_lstm_blur", "cifar10_rnn_blur",
                         "mnist_lstm_stack_recon")
GROUPS = ["degradation", "data", "optimizer", "logger", "callbacks", "analysis", "trainer",
          "experiment", "hparams_search"]
CHOICES = [(g, o) for g in GROUPS for o in options(g)]


@pytest.mark.parametrize("group,option", CHOICES, ids=[f"{g}={o}" for g, o in CHOICES])
def test_every_config_of_every_group_composes_and_builds(group, option, data_root, tmp_path):
    args = [f"{group}={option}"]
    if group == "data" or (group == "experiment" and option.startswith(("cifar10", "mnist"))):
        name = option if group == "data" else option.split("_")[0]
        args = [*args, *[a for a in data_args(name, data_root) if not a.startswith("data=")]]
    elif group == "experiment" and option.startswith("sine"):
        args.append("data.num_sequences=40")
    composed = compose(args, tmp_path)
    cfg = composed.cfg
    assert composed.choices.get(group) == option
    node = cfg.get(group) if group not in ("experiment", "hparams_search") else None
    if group == "data":
        dm = build(node)
        dm.setup("fit")
        assert len(dm.train_x) > 0 and len(dm.test_x) > 0
    elif group == "degradation":
        x = torch.rand(4, 3, 16, 16)
        assert build(node)(x, torch.arange(4), "test").shape == x.shape
    elif group == "optimizer":
        assert isinstance(build(node)([torch.nn.Parameter(torch.zeros(2))], lr=1e-3),
                          torch.optim.Optimizer)
    elif group == "logger":
        assert (build(node, _partial_=True) if node else None) is not None or option == "none"
    elif group == "callbacks":
        assert all(build(c) is not None for c in node.values())
    elif group == "analysis":
        assert (build(node) if node else None) is not None or option == "none"
    elif group == "trainer":
        if option == "gpu" and not torch.cuda.is_available():
            from aebench.running.train import check_accelerator

            with pytest.raises(ConfigError, match="needs a CUDA GPU"):
                check_accelerator(cfg)
        else:
            assert build(node, logger=False, enable_progress_bar=False) is not None
    elif group == "experiment":
        dm, _deg, net, module = build_parts(cfg)
        assert net.code_size > 0
        if option in KERAS_RECURRENT_PORTS:  # as Keras built them: linear output, no clipping,
            assert isinstance(net.out, torch.nn.Identity) and module.hparams.grad_clip_norm is None
            lstms = [m for m in net.modules() if isinstance(m, torch.nn.LSTM)]
            for lstm in lstms:  # Keras' unit forget bias (PyTorch's gate order: i, f, g, o)
                h = lstm.hidden_size
                assert torch.all(lstm.bias_ih_l0[h:2 * h] == 1) and torch.all(lstm.bias_hh_l0 == 0)
    else:  # an Optuna search: its study and parameters live in Hydra's part of the config
        from hydra import compose as hydra_compose
        from hydra import initialize_config_dir

        from aebench.core.config import CONF_DIR

        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            full = hydra_compose("config", [f"{group}={option}"], return_hydra_config=True)
        sweeper = full.hydra.sweeper
        assert sweeper.study_name and sweeper.params and sweeper.n_trials > 0
        assert cfg.optimized_metric in ("val_psnr", "val_mse")

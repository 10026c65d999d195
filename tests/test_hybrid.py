"""The hybrid restorer (model=wiener_unet): the run's own blur inverted inside the network."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import FAST, FAST_SHAPES

from aebench.core.config import build
from aebench.core.degradations import Blur, gaussian_kernels
from aebench.core.errors import ConfigError


def test_blur_otf_is_the_kernel_the_blur_applies():
    """Blur.otf is the transfer function of exactly the kernel Blur convolves with."""
    blur = Blur(1.3)
    shape = (40, 34)
    k1 = gaussian_kernels(torch.tensor([1.3], dtype=torch.float64), blur.kernel_size)[0]
    kernel = torch.outer(k1, k1)
    arr = torch.zeros(shape, dtype=torch.float64)
    n = len(k1)
    arr[:n, :n] = kernel
    arr = torch.roll(arr, (-(n // 2), -(n // 2)), (0, 1))
    expected = torch.fft.rfft2(arr)
    otf = blur.otf(shape, dtype=torch.float64)[0]
    assert torch.allclose(otf, expected.real, atol=1e-12) and expected.imag.abs().max() < 1e-12


def test_starts_as_the_wiener_filter_of_the_runs_blur(compose_cfg):
    """Before training, wiener_unet returns model=wiener's deconvolution at the same balance (to
    its initial correction, ~1e-4):
    the physics comes from the degradation of the run (blur=1.5 here), not a copy of it."""
    cfg = compose_cfg("model=wiener_unet", "blur=1.5")
    net = build(cfg.model.net, input_shape=(3, 32, 32))
    wiener = build(compose_cfg("model=wiener", "blur=1.5").model.net, input_shape=(3, 32, 32))
    blurred = Blur(1.5)(torch.rand(4, 3, 32, 32))
    balance = float(net.log_balance.exp()[net.anchor])
    with torch.no_grad():
        assert torch.allclose(net(blurred), wiener(blurred, balance), atol=1e-3)


def test_restores_any_image_size(compose_cfg):
    net = build(compose_cfg("model=wiener_unet").model.net, input_shape=(3, 32, 32))
    for h, w in ((37, 23), (17, 64), (9, 9)):
        assert net(torch.rand(2, 3, h, w)).shape == (2, 3, h, w)


def test_a_blur_range_needs_the_blind_variant(compose_cfg):
    cfg = compose_cfg("model=wiener_unet", "blur=[0,2]")
    with pytest.raises(ConfigError, match="model=wiener_unet_blind"):
        build(cfg.model.net, input_shape=(3, 32, 32))
    blind = build(compose_cfg("model=wiener_unet_blind", "blur=[0,2]").model.net, input_shape=(3, 32, 32))
    sigma = blind.estimate_sigma(torch.rand(5, 3, 32, 32))
    assert sigma.shape == (5,) and bool(((sigma >= 0) & (sigma <= 2)).all())


def test_the_blind_head_learns_from_the_image_loss(compose_cfg):
    """The transfer function is differentiable in sigma: the image loss reaches the sigma head."""
    net = build(compose_cfg("model=wiener_unet_blind", "blur=[0,2]").model.net,
                input_shape=(3, 32, 32))
    x = torch.rand(3, 3, 32, 32)
    torch.nn.functional.mse_loss(net(Blur(1.0)(x)), x).backward()
    grads = [p.grad for p in net.head.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_noise_std_range_draws_a_fixed_std_per_evaluation_item():
    deg = Blur(1.0, noise_std=[0.0, 0.02], eval_seed=7)
    idx = torch.arange(300)
    stds = deg.noise_stds(300, idx, "test")
    assert torch.equal(stds, deg.noise_stds(300, idx, "test"))  # the same every epoch
    assert 0 <= stds.min() < 0.005 and 0.015 < stds.max() <= 0.02
    x = torch.full((4, 3, 16, 16), 0.5)
    assert torch.equal(deg(x, idx[:4], "val"), deg(x, idx[:4], "val"))
    assert "noise 0-0.02" in deg.describe() and not deg.same_every_epoch()
    with pytest.raises(ConfigError, match=r"noise_std=\[0.02, 0.0\]"):
        Blur(1.0, noise_std=[0.02, 0.0])


def test_cosine_schedule_runs_over_the_time_budget(train_run, tmp_path):
    """With trainer.max_time the learning rate reaches ~0 when the time is up, not after
    max_epochs' steps (which a time-budgeted run never reaches)."""
    metrics = train_run("model=wiener_unet", "data=shapes", *FAST_SHAPES, "data.num_train=512",
                             "trainer.max_epochs=1000", "+trainer.max_time=00:00:00:02",
                             "schedule=cosine", "latent=16", "callbacks=default")
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    lr = ckpt["optimizer_states"][0]["param_groups"][0]["lr"]
    assert metrics["epochs"] < 1000 and lr < 0.05 * metrics.get("lr", 2e-3), lr


def test_pretrained_reference_loads_safetensors_without_a_checkpoint(tmp_path, monkeypatch, compose_cfg):
    """`pretrained:NAME` is a folder shaped like a run's, its weights in safetensors."""
    from safetensors.torch import save_file

    import aebench.running.pretrained as pretrained
    from aebench.running.trained import load_net, read_run

    net = build(compose_cfg("model=wiener_unet").model.net, input_shape=(3, 32, 32))
    with torch.no_grad():
        net.out.bias.fill_(0.25)  # recognisable weights
    folder = tmp_path / "tiny"
    folder.mkdir()
    save_file(net.state_dict(), str(folder / "weights.safetensors"))
    (folder / "metrics.json").write_text(json.dumps(
        {"status": "ok", "overrides": ["model=wiener_unet", "blur=1.0"], "item_shape": [3, 32, 32],
         "model": "wiener_unet", "test_psnr": 40.0, "baseline_test_psnr": 25.0}))
    monkeypatch.setattr(pretrained, "HERE", tmp_path)
    assert read_run("pretrained:tiny").checkpoint.name == "weights.safetensors"
    loaded = load_net("pretrained:tiny")
    assert float(loaded.net.out.bias[0]) == 0.25
    assert "tiny" in pretrained.table()
    with pytest.raises(ConfigError, match="pretrained:tiny"):
        read_run("pretrained:nosuch")
    assert not math.isnan(loaded.net(torch.rand(1, 3, 20, 30)).sum().item())


@pytest.mark.parametrize("name", __import__("aebench.running.pretrained", fromlist=["names"]).names())
def test_every_shipped_model_loads_and_restores_any_size(name):
    """Each pretrained:NAME loads from safetensors with the overrides it ships (checked as any
    run folder's are) and restores an image of another size (sides of the multiple restore pads
    to); its card states the scores."""
    from aebench.running import pretrained
    from aebench.running.trained import load_net

    loaded = load_net(f"pretrained:{name}")
    m = loaded.multiple or 1  # what `aebench restore` pads the sides to
    x = torch.rand(1, 3, 11 * m, 7 * m)
    with torch.no_grad():
        assert loaded.make(x.shape[1:])(x).shape == x.shape
    card = (pretrained.folder(name) / "README.md").read_text()
    record = json.loads((pretrained.folder(name) / "metrics.json").read_text())
    assert f"{record['test_psnr']:.2f}" in card and record["command"] in card


def test_the_blind_module_is_told_the_sigma_the_degradation_drew(compose_cfg):
    """A blur range hands each image's drawn sigma to the module, which trains the sigma head on
    it (model=wiener_unet_blind: sigma_weight > 0): the same draw that blurred the image."""
    from aebench.core.config import build_parts

    cfg = compose_cfg("model=wiener_unet_blind", "blur=[0,2]", *FAST_SHAPES)
    dm, deg, net, module = build_parts(cfg)
    x = torch.rand(4, 3, 32, 32)
    torch.manual_seed(3)
    drawn = {}
    y = deg(x, None, "train", params=drawn)
    torch.manual_seed(3)
    assert torch.equal(drawn["sigma"], deg.sigmas(4))  # the first draw of the call
    # image 0 is blurred at the sigma handed over (8-bit levels: a level apart at most)
    assert torch.allclose(y[:1], Blur(float(drawn["sigma"][0]))(x[:1]), atol=1.01 / 255)
    module._drawn = drawn
    loss, _, terms = module.training_loss(y, x)
    expected = torch.nn.functional.mse_loss(net.estimate_sigma(y), drawn["sigma"])
    assert torch.allclose(terms["sigma_loss"], expected)
    loss.backward()
    assert net.head[-1].weight.grad.abs().sum() > 0


def test_restore_warns_when_an_input_does_not_look_blurred_at_the_models_sigma(tmp_path, caplog):
    """Do no harm: a fixed-sigma model given a sharp photograph says so in one line (the shipped
    blind model's estimate); the same photograph blurred at that sigma restores silently."""
    import logging

    import matplotlib
    import numpy as np
    from PIL import Image

    from aebench.restore import restore

    photo = Image.open(f"{matplotlib.get_data_path()}/sample_data/grace_hopper.jpg").convert("RGB")
    sharp = np.asarray(photo, dtype=np.float32)[100:228, 180:308] / 255  # 128 x 128, a face
    blurred = Blur(1.0)(torch.from_numpy(sharp).permute(2, 0, 1)[None])[0].permute(1, 2, 0)
    for name, arr in (("sharp.png", sharp), ("blurred.png", blurred.numpy())):
        Image.fromarray((arr * 255).round().astype(np.uint8)).save(tmp_path / name)
    with caplog.at_level(logging.WARNING, logger="aebench"):
        restore("pretrained:wiener_unet_blur1", [str(tmp_path / "sharp.png"), str(tmp_path / "blurred.png")],
                tmp_path / "out", progress=False)
    warned = [r.getMessage() for r in caplog.records if "does not look blurred" in r.getMessage()]
    assert len(warned) == 1 and "sharp.png" in warned[0] and "pretrained:wiener_unet_blind" in warned[0]
    assert (tmp_path / "out" / "sharp.png").is_file()  # warned, still restored as asked


def test_hartley_filter_is_the_fft_filter():
    """A real filter even in each axis (a Wiener filter of the blur) applied by the Hartley
    transform (the export form's) is rfft2/irfft2's, to float64 rounding; the crop folds in."""
    from aebench.core.models.wiener import hartley_filter, laplacian_psd

    blur = Blur(1.0)
    y = torch.rand(2, 3, 37, 24, dtype=torch.float64)
    filt = lambda otf, reg: otf / (otf ** 2 + 1e-3 * reg)  # noqa: E731
    half = filt(blur.otf((37, 24), dtype=torch.float64),
                laplacian_psd(37, 24, 13, torch.float64, y.device))
    expected = torch.fft.irfft2(torch.fft.rfft2(y) * half, s=(37, 24))[..., 5:30, 2:20]
    full = filt(blur.otf((37, 24), dtype=torch.float64, full=True),
                laplacian_psd(37, 24, 24, torch.float64, y.device))
    got = hartley_filter(y, full, torch.arange(5, 30), torch.arange(2, 20))
    assert torch.allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize("model", ["wiener_unet", "wiener_unet_blind", "wiener"])
def test_export_form_gives_the_networks_output_at_any_size(compose_cfg, model):
    """`exportable()` (what aebench export traces: no FFT, no Python branch on the size) gives
    the network's output at sizes with odd, tiny and unequal sides, also scripted."""
    blur = "blur=[0,2]" if model.endswith("blind") else "blur=1.0"
    net = build(compose_cfg(f"model={model}", blur, "latent=8").model.net,
                input_shape=(3, 32, 32)).eval()
    form = net.exportable().eval()
    scripted = torch.jit.script(form)
    for shape in ((2, 3, 32, 32), (1, 3, 37, 23), (1, 3, 5, 3), (2, 3, 2, 9)):
        x = Blur(1.0)(torch.rand(shape)) if min(shape[2:]) > 3 else torch.rand(shape)
        with torch.no_grad():
            ref = net(x)
            assert (form(x) - ref).abs().max() <= 1e-5, shape
            assert (scripted(x) - ref).abs().max() <= 1e-5, shape


def test_a_shipped_model_is_never_written_into_however_it_is_named(tmp_path):
    """`pretrained:NAME` and its folder inside the package (what `aebench.load(...).run_dir` holds)
    both send evaluate's and export's files to outputs/, never into the installed package."""
    from aebench.export import default_out
    from aebench.running import pretrained

    name = pretrained.names()[0]
    for ref in (f"pretrained:{name}", pretrained.folder(name), str(pretrained.folder(name))):
        assert pretrained.shipped_name(ref) == name
        assert default_out(ref, "m", "onnx") == Path("outputs") / f"pretrained-{name}-export" / "m.onnx"
    assert pretrained.shipped_name(tmp_path) is None
    assert default_out(tmp_path, "m", "pt2") == tmp_path / "export" / "m.pt2"

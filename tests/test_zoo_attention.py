"""model=unet_attn: the residual U-Net with self-attention at its bottleneck (issue 15's attention
row). The pair test in test_configs.py already trains it one step on every image data set; here
only what is particular to it: its size, its argument checks, any image size, global mixing."""
from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from aebench.core.degradations import Blur
from aebench.core.errors import ConfigError
from aebench.core.models.attention_unet import AttentionUNet
from aebench.core.metrics import psnr
from aebench.core.models.unet import UNet


def n_params(net) -> int:
    return sum(p.numel() for p in net.parameters())


def test_default_size_is_unet_plus_one_transformer_block(compose_cfg):
    net = instantiate(compose_cfg("model=unet_attn").model.net, input_shape=(3, 32, 32))
    unet = instantiate(compose_cfg("model=unet").model.net, input_shape=(3, 32, 32))
    # LayerNorms 2 x 256, q/k 128x256+256, v and proj 2 x (128x128+128), MLP 128x256+256+256x128+128
    assert n_params(net) == n_params(unet) + 132_480 == 599_075
    assert net.code_size == unet.code_size == 128 * 8 * 8
    assert set(unet.state_dict()) < set(net.state_dict())  # UNet's keys, plus attn.*


def test_latent_depth_and_heads_reach_the_network(compose_cfg):
    cfg = compose_cfg("model=unet_attn", "latent=16", "depth=3", "model.net.heads=2",
                      "model.net.blocks=2")
    net = instantiate(cfg.model.net, input_shape=(3, 32, 32))
    assert len(net.downs) == 3 and len(net.attn) == 2 and net.attn[0].heads == 2
    assert net.code_size == 16 * 4 * 4 and net.encode(torch.rand(2, 3, 32, 32)).shape == (2, 16, 4, 4)


@pytest.mark.parametrize("kwargs,match", [
    ({"latent": 30, "heads": 4}, r"heads=4 is not accepted with latent=30 .*unet_attn.*"
                                 r"heads in \[1, 2, 3, 5, 6, 10, 15\]"),
    ({"heads": 0}, r"model.net.heads=0 is not accepted: it must be a positive integer"),
    ({"blocks": 0}, r"model.net.blocks=0 is not accepted"),
    ({"mlp_ratio": 1.5}, r"model.net.mlp_ratio=1.5 is not accepted"),
    ({"depth": 3, "input_shape": (1, 28, 28)}, r"depth=3 .*model=unet_attn on 28x28.*depth <= 2"),
])
def test_bad_values_are_refused_in_one_line(kwargs, match):
    kwargs = {"input_shape": (3, 32, 32), **kwargs}
    with pytest.raises(ConfigError, match=match) as err:
        AttentionUNet(**kwargs)
    assert "\n" not in str(err.value)


def test_weights_trained_at_32x32_run_on_a_48x64_image():
    """What restore.py does with a fully convolutional net: rebuild it for the image's size and
    load the same weights (no size-tied parameter: the position code is computed per call)."""
    torch.manual_seed(0)
    net = AttentionUNet((3, 32, 32), latent=16, base_channels=8).eval()
    wide = AttentionUNet((3, 48, 64), latent=16, base_channels=8).eval()
    wide.load_state_dict(net.state_dict())
    x = torch.rand(2, 3, 48, 64)
    with torch.no_grad():
        assert wide(x).shape == x.shape and net(x).shape == x.shape  # the same net, any size


def test_attention_carries_a_corner_to_the_opposite_corner():
    """At 32x32 and depth 2 the plain U-Net's receptive field does not reach from one corner to
    the other (the change is exactly 0); the attention model's output there moves."""
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32, dtype=torch.float64)
    poked = x.clone()
    poked[..., :4, :4] = 5.0  # one bottleneck cell's worth of pixels, top left
    change = {}
    for cls in (UNet, AttentionUNet):
        net = cls((3, 32, 32), latent=16, base_channels=8).double().eval()
        with torch.no_grad():
            change[cls] = (net(poked) - net(x))[..., -4:, -4:].abs().max().item()
    assert change[UNet] == 0.0
    assert change[AttentionUNet] > 1e-9


def test_it_learns_to_deblur_one_tiny_batch():
    """50 Adam steps on 8 blurred 16x16 images of black and white 4px blocks: well above the
    blurred input it has to beat (14.3 dB; 18.9 dB after training). One thread: ~1.5 s."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: more threads only contend with other processes
    try:
        torch.manual_seed(0)
        clean = torch.nn.functional.interpolate((torch.rand(8, 3, 4, 4) > 0.5).float(),
                                                scale_factor=4)
        blurred = Blur(sigma=1.0)(clean)
        net = AttentionUNet((3, 16, 16), latent=32, base_channels=16)
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        for _ in range(50):
            opt.zero_grad()
            loss = ((net(blurred) - clean) ** 2).mean()
            loss.backward()
            opt.step()
        with torch.no_grad():
            assert psnr(net(blurred), clean) > psnr(blurred, clean) + 2.0
    finally:
        torch.set_num_threads(threads)

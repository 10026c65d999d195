"""Convolutional variational autoencoder: `depth` stride-2 conv stages, a Gaussian posterior over `latent` numbers, upsample+conv decoder.

Encoder: stage i is a 4x4 stride-2 convolution (exact halving) to base_channels * 2**i channels
(at most 256) and a ReLU; the last feature map is flattened and two Linear heads give the
posterior mean `mu` and log-variance `logvar` of q(z|x), `latent` numbers each. The code is
`mu` (code_size = latent). Decoder: Linear(latent -> the last feature map) and ReLU, then
`depth` stages of nearest-neighbour 2x upsampling, 3x3 convolution and ReLU, and a 3x3
convolution to the input's channels.

forward(x) samples z = mu + exp(logvar / 2) * eps (the reparameterisation trick) in training
mode and uses z = mu in eval mode, so validation/test score the posterior mean's
reconstruction. The objective (reconstruction + KL) lives in aebench.core.vae_module.VAEModule.
"""
from __future__ import annotations

import torch
from torch import nn

from aebench.core.models.common import NearestUpConv, image_shape, output_activation, positive_int


class ConvVAE(nn.Module):
    def __init__(self, input_shape, bounded: bool = True, latent: int = 16, depth: int = 2,
                 base_channels: int = 32, out_activation: str = "identity"):
        super().__init__()
        self.input_shape = tuple(input_shape)
        latent = positive_int("latent", latent)
        depth = positive_int("depth", depth)
        base_channels = positive_int("model.net.base_channels", base_channels)
        c, h, w = image_shape("vae", self.input_shape, depth, depth_sets_it=True)
        widths = [min(base_channels * 2**i, 256) for i in range(depth)]
        down, prev = [], c
        for wd in widths:
            down += [nn.Conv2d(prev, wd, 4, stride=2, padding=1), nn.ReLU(inplace=True)]
            prev = wd
        self.feature_shape = (prev, h // 2**depth, w // 2**depth)
        features = prev * self.feature_shape[1] * self.feature_shape[2]
        self.encoder = nn.Sequential(*down, nn.Flatten())
        self.to_mu = nn.Linear(features, latent)
        self.to_logvar = nn.Linear(features, latent)
        self.from_latent = nn.Sequential(nn.Linear(latent, features), nn.ReLU(inplace=True))
        up = []
        for wd in reversed(widths):
            up += [nn.Identity(), NearestUpConv(prev, wd), nn.ReLU(inplace=True)]  # Upsample, Conv
            prev = wd
        self.decoder = nn.Sequential(*up, nn.Conv2d(prev, c, 3, padding=1),
                                     output_activation(out_activation, bounded))
        self.latent = latent
        self.code_size = latent

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x), each (N, latent)."""
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """A differentiable sample z = mu + exp(logvar / 2) * eps, eps ~ N(0, I)."""
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code: the posterior mean."""
        return self.posterior(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.from_latent(z).view(len(z), *self.feature_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu, logvar = self.posterior(x)
        return self.decode(self.reparameterize(mu, logvar) if self.training else mu)

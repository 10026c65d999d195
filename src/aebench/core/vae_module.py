"""The variational autoencoder's objective: AutoencoderModule with a KL term added to the training loss.

Only training differs. Validation and test are the parent's: the network runs in eval mode,
where aebench.core.models.vae.ConvVAE decodes the posterior mean, so val/test metrics and baselines
are computed exactly as for every other model.

Training loss, for a batch of N items of D numbers each (D = C*H*W):

    loss = recon + kl_weight * kl
    recon = loss_fn(decode(z), x)                         # per-element mean over N*D, as for every model
    kl    = mean_n [ 0.5 * sum_j (mu_nj^2 + exp(logvar_nj) - 1 - logvar_nj) ] / D

i.e. KL(q(z|x) || N(0, I)) in nats per item, averaged over the batch and divided by D: the KL
per input number, on the same per-element scale as `recon`. The objective is then the
per-element negative ELBO up to constants and a scale:
- loss=bce with kl_weight=1 is exactly the Bernoulli negative ELBO divided by D;
- loss=mse is a Gaussian decoder of variance s^2 when kl_weight = 2 * s^2 (the s^2 that best
  fits the data is the reconstruction MSE itself: kl_weight = 2 * MSE balances the two terms);
- loss=l1 is a Laplace decoder of scale b when kl_weight = b.
The default kl_weight=1e-3 (conf/model/vae.yaml) is therefore a Gaussian decoder with
s^2 = 5e-4 (s ~ 0.022 on [0, 1] data, i.e. reconstructions at ~33 dB PSNR): small enough that
the posterior keeps the detail the benchmark scores, large enough to regularise the code.

Logged: train/loss, train/recon and train/kl (the per-element KL above, before kl_weight; times
D it is nats per item), so train/loss = train/recon + kl_weight * train/kl.
"""
from __future__ import annotations

import torch
from torch import nn

from aebench.core.errors import ConfigError
from aebench.core.module import AutoencoderModule


def kl_per_element(mu: torch.Tensor, logvar: torch.Tensor, numbers_per_item: int) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over the latent, averaged over items, / D."""
    kl_items = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(1)
    return kl_items.mean() / numbers_per_item


def vae_loss(out: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             loss_fn, kl_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, recon, kl) with loss = recon + kl_weight * kl; see the module docstring."""
    recon = loss_fn(out, x)
    kl = kl_per_element(mu, logvar, x[0].numel())
    return recon + kl_weight * kl, recon, kl


class VAEModule(AutoencoderModule):
    def __init__(self, net: nn.Module, degradation, optimizer=None, loss: str = "mse",
                 lr: float = 1e-3, kl_weight: float = 1e-3, grad_clip_norm: float | None = None,
                 num_examples: int = 8, schedule: str = "constant"):
        if isinstance(kl_weight, bool) or not isinstance(kl_weight, (int, float)) or not (
                kl_weight >= 0 and kl_weight != float("inf")):
            raise ConfigError(f"model.kl_weight={kl_weight!r} is not accepted: it must be a finite "
                              "number >= 0 (e.g. model.kl_weight=1e-3; 0 drops the KL term)")
        for name in ("posterior", "decode", "reparameterize"):
            if not callable(getattr(net, name, None)):
                raise ConfigError(f"model.net={type(net).__name__} has no {name}(): VAEModule "
                                  "needs a variational network such as aebench.core.models.vae.ConvVAE")
        super().__init__(net, degradation, optimizer, loss=loss, lr=lr, grad_clip_norm=grad_clip_norm,
                         num_examples=num_examples, schedule=schedule)
        self.kl_weight = float(kl_weight)

    def training_loss(self, degraded, x):
        with self.weights_cast_once(degraded):
            mu, logvar = self.net.posterior(degraded)
            out = self.net.decode(self.net.reparameterize(mu, logvar)).float()  # fp32 under bf16
        mu, logvar = mu.float(), logvar.float()
        with self._fp32(x):
            loss, recon, kl = vae_loss(out, x, mu, logvar, self.loss_fn, self.kl_weight)
        return loss, out, {"recon": recon, "kl": kl}

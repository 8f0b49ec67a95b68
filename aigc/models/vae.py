"""A convolutional variational autoencoder (Kingma & Welling, 2014).

The encoder gives the mean and log-variance of q(z|x), a diagonal Gaussian; the
decoder gives Bernoulli logits for every pixel.  The loss is the negative ELBO
in nats: reconstruction cross-entropy summed over pixels plus
KL(N(mu, sigma^2) || N(0, I)), averaged over the batch.
"""

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin


@dataclass
class VAEConfig:
    model_type: str = "vae"
    latent_dim: int = 16  # 2 gives a latent space that can be drawn as a map
    num_classes: int = 10  # not used by the model; names the classes of its dataset
    class_names: list[str] = field(default_factory=list)
    image_size: int = 28  # must be divisible by 4
    channels: int = 1
    width: int = 32  # feature maps of the first conv layer
    hidden: int = 256

    def __post_init__(self):
        if self.model_type != "vae":
            raise ValueError(f"not a VAE config: model_type {self.model_type!r}")
        if self.image_size % 4:
            raise ValueError(f"VAE image_size must be divisible by 4, got {self.image_size}")


class VAE(nn.Module, PyTorchModelHubMixin, library_name="aigc", tags=["aigc", "vae"], license="mit"):
    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        w, s, h = config.width, config.image_size // 4, config.hidden
        self.encoder = nn.Sequential(
            nn.Conv2d(config.channels, w, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(w, 2 * w, 4, 2, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(2 * w * s * s, h),
            nn.ReLU(),
            nn.Linear(h, 2 * config.latent_dim),  # mean and log-variance
        )
        self.decoder = nn.Sequential(
            nn.Linear(config.latent_dim, h),
            nn.ReLU(),
            nn.Linear(h, 2 * w * s * s),
            nn.ReLU(),
            nn.Unflatten(1, (2 * w, s, s)),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(w, config.channels, 4, 2, 1),  # logits
        )

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: float [N, C, H, W] in [0, 1] -> (mu, logvar), each [N, latent_dim]."""
        mu, logvar = self.encoder(x.to(self.device, torch.float32)).chunk(2, dim=1)
        return mu, logvar

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z.to(self.device, torch.float32))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z: float [N, latent_dim] -> float [N, C, H, W] in [0, 1] (the Bernoulli means)."""
        return torch.sigmoid(self.decode_logits(z))

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps, so that gradients flow through the sample to mu and sigma."""
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (reconstruction logits, mu, logvar)."""
        mu, logvar = self.encode(x)
        return self.decode_logits(self.reparameterize(mu, logvar)), mu, logvar


def vae_loss(
    logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Negative ELBO per image in nats -> (loss, reconstruction, kl), each averaged over the batch."""
    n = len(x)
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    # KL(N(mu, sigma^2) || N(0, 1)) = 1/2 * sum(mu^2 + sigma^2 - 1 - log sigma^2), in closed form
    kl = 0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1 - logvar) / n
    return reconstruction + kl, reconstruction, kl

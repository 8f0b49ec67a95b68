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
    blocks: int = 0  # residual blocks at each resolution, in the encoder and the decoder (0: the plain VAE)
    latent_channels: int = 0  # k > 0: the code is a k-channel map at a quarter of the size, flattened (0: a vector)
    prior: str = "normal"  # or "mixture": one Gaussian a class, fitted to the training set's codes after training

    def __post_init__(self):
        if self.model_type != "vae":
            raise ValueError(f"not a VAE config: model_type {self.model_type!r}")
        if self.image_size % 4:
            raise ValueError(f"VAE image_size must be divisible by 4, got {self.image_size}")
        if self.blocks < 0:
            raise ValueError(f"VAE blocks must be 0 or more, got {self.blocks}")
        if self.latent_channels < 0:
            raise ValueError(f"VAE latent_channels must be 0 or more, got {self.latent_channels}")
        if self.latent_channels and self.latent_dim != self.latent_channels * (self.image_size // 4) ** 2:
            side = self.image_size // 4
            raise ValueError(f"a VAE code of {self.latent_channels} maps of {side} x {side} has latent_dim "
                             f"{self.latent_channels * side * side}, got {self.latent_dim}")
        if self.prior not in ("normal", "mixture"):
            raise ValueError(f"VAE prior must be 'normal' or 'mixture', got {self.prior!r}")
        if self.prior == "mixture" and self.num_classes < 1:
            raise ValueError("a mixture prior has one component a class: num_classes must be at least 1")


class Residual(nn.Module):
    """x + conv(relu(conv(relu(x)))): depth that keeps the shape and is as easy to train as no depth at all."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 3, 1, 1),
                                  nn.ReLU(), nn.Conv2d(channels, channels, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Halves(nn.Module):
    """[N, 2k, H, W] -> [N, 2kHW]: the first k maps flattened, then the last k, so that chunk(2) splits the mean's
    maps from the log-variance's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([half.flatten(1) for half in x.chunk(2, dim=1)], dim=1)


class VAE(nn.Module, PyTorchModelHubMixin, library_name="aigc", tags=["aigc", "vae"], license="mit"):
    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        w = config.width

        def residuals(channels: int) -> list[nn.Module]:
            return [Residual(channels) for _ in range(config.blocks)]

        self.encoder = nn.Sequential(
            nn.Conv2d(config.channels, w, 4, 2, 1),
            *residuals(w),
            nn.ReLU(),
            nn.Conv2d(w, 2 * w, 4, 2, 1),
            *residuals(2 * w),
            nn.ReLU(),
            *self.code_layers(config),  # mean and log-variance
        )
        self.decoder = nn.Sequential(
            *self.uncode_layers(config),
            *residuals(2 * w),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1),
            *residuals(w),
            nn.ReLU(),
            nn.ConvTranspose2d(w, config.channels, 4, 2, 1),  # logits
        )
        if config.prior == "mixture":  # N(0, I) for every class until fit_prior has seen the codes
            k, d = config.num_classes, config.latent_dim
            self.register_buffer("prior_means", torch.zeros(k, d))
            self.register_buffer("prior_scales", torch.eye(d).repeat(k, 1, 1))  # Cholesky factors

    @staticmethod
    def code_layers(config: VAEConfig) -> list[nn.Module]:
        """Quarter-size maps to the code's mean and log-variance: through a hidden layer, or, with latent_channels,
        a convolution to a map of them, so that each part of the code describes its own part of the picture (a
        coat's zip keeps its place instead of being averaged into the whole)."""
        w, s, k = config.width, config.image_size // 4, config.latent_channels
        if k:
            return [nn.Conv2d(2 * w, 2 * k, 3, 1, 1), Halves()]
        return [nn.Flatten(), nn.Linear(2 * w * s * s, config.hidden), nn.ReLU(),
                nn.Linear(config.hidden, 2 * config.latent_dim)]

    @staticmethod
    def uncode_layers(config: VAEConfig) -> list[nn.Module]:
        """A code to quarter-size maps, the reverse of code_layers."""
        w, s, k = config.width, config.image_size // 4, config.latent_channels
        if k:
            return [nn.Unflatten(1, (k, s, s)), nn.Conv2d(k, 2 * w, 3, 1, 1), nn.ReLU()]
        return [nn.Linear(config.latent_dim, config.hidden), nn.ReLU(), nn.Linear(config.hidden, 2 * w * s * s),
                nn.ReLU(), nn.Unflatten(1, (2 * w, s, s))]

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

    def sample_latents(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
                       labels: torch.Tensor | None = None) -> torch.Tensor:
        """n codes from the prior, on the CPU; ``temperature`` scales their spread around the prior's centre.

        With a mixture prior each code comes from its class's Gaussian (``labels``, by default a fixed spread
        over the classes): a plain N(0, I) reaches codes that no picture has, which the decoder draws as blurs.
        """
        noise = torch.randn(n, self.config.latent_dim, generator=generator) * temperature
        if self.config.prior == "normal":
            return noise
        labels = torch.arange(n) % self.config.num_classes if labels is None else torch.as_tensor(labels).long()
        means, scales = self.prior_means.cpu()[labels], self.prior_scales.cpu()[labels]
        return means + (scales @ noise.unsqueeze(-1)).squeeze(-1)

    @torch.no_grad()
    def fit_prior(self, codes: torch.Tensor, labels: torch.Tensor) -> None:
        """Fit the mixture prior: the mean and covariance of each class's codes (Ghosh et al., 2020, fit a density
        to the codes after training; here the classes name its components)."""
        eye = torch.eye(self.config.latent_dim)
        for k in range(self.config.num_classes):
            own = codes[labels == k].cpu().double()
            covariance = torch.cov(own.T) + 1e-4 * eye.double()
            self.prior_means[k] = own.mean(0).float()
            self.prior_scales[k] = torch.linalg.cholesky(covariance).float()

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

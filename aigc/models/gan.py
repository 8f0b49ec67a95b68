"""Class-conditional GANs: a DCGAN and the tutorial's one-hidden-layer MLP GAN.

Both generators map a latent ``z`` and a class label to an image in [-1, 1]
(tanh, as DCGAN trains); :meth:`ImageGenerator.generate` is the public entry
point and returns images in [0, 1].  The discriminators are only needed for
training and are never bundled.
"""

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch.nn.utils.parametrizations import spectral_norm

HUB_KWARGS = dict(library_name="aigc", tags=["aigc", "gan", "image-generation"], license="mit")


@dataclass
class GANConfig:
    model_type: str = "dcgan"  # "dcgan" or "mlp-gan"
    latent_dim: int = 64
    num_classes: int = 10  # 0 for an unconditional GAN
    class_names: list[str] = field(default_factory=list)
    image_size: int = 28  # must be divisible by 4 for the DCGAN
    channels: int = 1
    width: int = 64  # DCGAN: feature maps of the last layer; MLP: hidden units

    def __post_init__(self):
        if self.model_type not in ("dcgan", "mlp-gan"):
            raise ValueError(f"unknown GAN model_type {self.model_type!r}")
        if self.model_type == "dcgan" and self.image_size % 4:
            raise ValueError(f"DCGAN image_size must be divisible by 4, got {self.image_size}")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError(f"{len(self.class_names)} class names for {self.num_classes} classes")


class ImageGenerator(nn.Module):
    """What both generators share: label embedding and the public ``generate``."""

    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        # The label enters as a learned vector concatenated to z (as in cGAN), so
        # the first layer's weight splits into a z part and a label part.
        self.label_embedding = nn.Embedding(config.num_classes, config.latent_dim) if config.num_classes else None

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def conditioned_input(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.label_embedding is None:
            return z
        if labels is None:  # a fixed, reproducible spread over the classes
            labels = torch.arange(len(z), device=z.device) % self.config.num_classes
        return torch.cat([z, self.label_embedding(labels)], dim=1)

    @property
    def latent_weight(self) -> torch.Tensor:
        """The first layer's weight restricted to z: [out_features, latent_dim] (what SeFa factorises)."""
        return self.first_layer.weight[:, : self.config.latent_dim]

    @torch.inference_mode()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """z: float [N, latent_dim]; labels: long [N] or None -> float [N, C, H, W] in [0, 1]."""
        if z.ndim != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"z must have shape [N, {self.config.latent_dim}], got {list(z.shape)}")
        z = z.to(self.device, torch.float32)
        if labels is not None:
            labels = torch.as_tensor(labels, device=self.device).long()
            if labels.shape != (len(z),) or not (0 <= labels.min() and labels.max() < self.config.num_classes):
                raise ValueError(f"labels must be {len(z)} integers in [0, {self.config.num_classes})")
        return (self(z, labels) + 1) / 2


class Generator(ImageGenerator, PyTorchModelHubMixin, **HUB_KWARGS):
    """DCGAN generator: linear projection to a (size/4)² map, then two stride-2 upsamplings."""

    def __init__(self, config: GANConfig):
        super().__init__(config)
        w, s = config.width, config.image_size // 4
        in_dim = config.latent_dim * (2 if config.num_classes else 1)
        self.first_layer = nn.Linear(in_dim, 2 * w * s * s, bias=False)
        self.net = nn.Sequential(
            nn.BatchNorm1d(2 * w * s * s),
            nn.ReLU(),
            nn.Unflatten(1, (2 * w, s, s)),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.ConvTranspose2d(w, config.channels, 4, 2, 1),
            nn.Tanh(),
        )

    def first_activations(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The first layer's output, where GANSpace runs its PCA."""
        return self.first_layer(self.conditioned_input(z, labels))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self.first_activations(z, labels))


class MLPGenerator(ImageGenerator, PyTorchModelHubMixin, **HUB_KWARGS):
    """The tutorial's baseline: one hidden layer of ``width`` (128) units."""

    def __init__(self, config: GANConfig):
        super().__init__(config)
        in_dim = config.latent_dim * (2 if config.num_classes else 1)
        self.first_layer = nn.Linear(in_dim, config.width)
        self.out = nn.Linear(config.width, config.channels * config.image_size**2)

    def first_activations(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.first_layer(self.conditioned_input(z, labels))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        c, s = self.config.channels, self.config.image_size
        hidden = F.leaky_relu(self.first_activations(z, labels), 0.2)
        return torch.tanh(self.out(hidden)).view(-1, c, s, s)


class ProjectionDiscriminator(nn.Module):
    """Features, then a projection head: what both discriminators share."""

    features: nn.Module
    head: "ProjectionHead"

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                class_scores: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The realness score; with ``class_scores``, also the head's score of every class (see ProjectionHead)."""
        h = self.features(x)
        score = self.head(h, labels)
        return (score, self.head.class_scores(h)) if class_scores else score


class Discriminator(ProjectionDiscriminator):
    """DCGAN critic with a projection head (Miyato & Koyama, 2018) for the label.

    Spectral normalisation keeps it 1-Lipschitz-ish so it cannot win outright
    (Miyato et al., 2018); no batch norm, so the WGAN-GP penalty stays per-sample.
    """

    def __init__(self, config: GANConfig):
        super().__init__()
        w, s = config.width, config.image_size // 4
        self.features = nn.Sequential(
            spectral_norm(nn.Conv2d(config.channels, w, 4, 2, 1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(w, 2 * w, 4, 2, 1)),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            spectral_norm(nn.Linear(2 * w * s * s, 4 * w)),
            nn.LeakyReLU(0.2),
        )
        self.head = ProjectionHead(4 * w, config.num_classes, spectral=True)


class MLPDiscriminator(ProjectionDiscriminator):
    """The tutorial's discriminator: one hidden layer, with the same projection head for labels."""

    def __init__(self, config: GANConfig):
        super().__init__()
        self.features = nn.Sequential(
            nn.Flatten(), nn.Linear(config.channels * config.image_size**2, config.width), nn.LeakyReLU(0.2)
        )
        self.head = ProjectionHead(config.width, config.num_classes)


class ProjectionHead(nn.Module):
    """score = w·h + embed(y)·h: the label is judged by its agreement with the features."""

    def __init__(self, features: int, num_classes: int, spectral: bool = False):
        super().__init__()
        normalise = spectral_norm if spectral else (lambda module: module)
        self.linear = normalise(nn.Linear(features, 1))
        self.embedding = normalise(nn.Embedding(num_classes, features)) if num_classes else None

    def forward(self, h: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        score = self.linear(h).squeeze(1)
        if self.embedding is not None and labels is not None:
            score = score + (self.embedding(labels) * h).sum(1)
        return score

    def class_scores(self, h: torch.Tensor) -> torch.Tensor:
        """embed(c)·h for every class c: the logits of the class posterior the projection head implies
        (Miyato & Koyama derive the head from log p(y|x)), so they can be trained as a classifier's."""
        return h.new_zeros(len(h), 0) if self.embedding is None else h @ self.embedding.weight.T


def build_gan(config: GANConfig) -> tuple[ImageGenerator, nn.Module]:
    """The generator and discriminator of ``config.model_type``, freshly initialised."""
    if config.model_type == "dcgan":
        return Generator(config), Discriminator(config)
    return MLPGenerator(config), MLPDiscriminator(config)

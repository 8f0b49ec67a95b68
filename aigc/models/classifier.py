"""A small CNN classifier per dataset.

Besides classifying, it is the feature extractor of our metrics: FID, precision
and recall are computed on its penultimate layer, and Inception Score on its
class probabilities (Inception weights cannot be downloaded here).
"""

from dataclasses import dataclass, field

import torch
import torch.nn as nn
from huggingface_hub import PyTorchModelHubMixin


@dataclass
class ClassifierConfig:
    model_type: str = "classifier"
    num_classes: int = 10
    class_names: list[str] = field(default_factory=list)
    image_size: int = 28  # must be divisible by 4
    channels: int = 1
    width: int = 32
    feature_dim: int = 128

    def __post_init__(self):
        if self.model_type != "classifier":
            raise ValueError(f"not a classifier config: model_type {self.model_type!r}")


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class Classifier(nn.Module, PyTorchModelHubMixin, library_name="aigc", tags=["aigc", "image-classification"],
                 license="mit"):
    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        w, s = config.width, config.image_size // 4
        self.backbone = nn.Sequential(
            conv_block(config.channels, w),
            conv_block(w, w),
            nn.MaxPool2d(2),
            conv_block(w, 2 * w),
            conv_block(2 * w, 2 * w),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(2 * w * s * s, config.feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(config.feature_dim, config.num_classes))

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x: float [N, C, H, W] in [0, 1] -> [N, feature_dim], the space our FID is measured in."""
        return self.backbone(x.to(self.device, torch.float32) * 2 - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """-> class logits [N, num_classes]."""
        return self.head(self.features(x))

"""The model families, one file each; ``MODEL_CLASSES`` maps a config's model_type to its class."""

from aigc.models.classifier import Classifier, ClassifierConfig
from aigc.models.gan import Generator, GANConfig, MLPGenerator
from aigc.models.gpt import GPT, GPTConfig
from aigc.models.vae import VAE, VAEConfig

MODEL_CLASSES = {
    "dcgan": Generator,
    "mlp-gan": MLPGenerator,
    "vae": VAE,
    "gpt": GPT,
    "classifier": Classifier,
}

__all__ = [
    "MODEL_CLASSES", "Classifier", "ClassifierConfig", "GANConfig", "Generator", "MLPGenerator",
    "GPT", "GPTConfig", "VAE", "VAEConfig",
]

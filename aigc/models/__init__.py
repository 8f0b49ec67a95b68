"""The model families, one file each; ``MODEL_CLASSES`` maps a config's model_type to its class, and
``CONFIG_CLASSES`` to its config dataclass.

``TRANSFORMERS_TYPES`` maps the model_type of checkpoints in the transformers
format that we read into one of our classes (``gpt2.py``) to that class's model_type.
"""

from aigc.models.classifier import Classifier, ClassifierConfig
from aigc.models.gan import GANConfig, Generator, MLPGenerator
from aigc.models.gpt import GPT, GPTConfig
from aigc.models.tokens import BPETokenizer
from aigc.models.vae import VAE, VAEConfig

MODEL_CLASSES = {
    "dcgan": Generator,
    "mlp-gan": MLPGenerator,
    "vae": VAE,
    "gpt": GPT,
    "classifier": Classifier,
}
CONFIG_CLASSES = {"dcgan": GANConfig, "mlp-gan": GANConfig, "vae": VAEConfig, "gpt": GPTConfig,
                  "classifier": ClassifierConfig}
TRANSFORMERS_TYPES = {"gpt2": "gpt"}

__all__ = [
    "CONFIG_CLASSES", "MODEL_CLASSES", "TRANSFORMERS_TYPES", "BPETokenizer", "Classifier", "ClassifierConfig",
    "GANConfig", "Generator", "MLPGenerator", "GPT", "GPTConfig", "VAE", "VAEConfig",
]

"""The bundled models, loaded once at start-up and shared by every tab and request.

A model that fails to load (missing or corrupt files) keeps its error message;
the app serves the others and shows that message when the broken one is asked for.
"""

import json
import logging
import threading

import torch

from aigc.data import CLASS_NAMES
from aigc.hub import WEIGHTS_DIR, ModelLoadError, list_models, load, model_type
from aigc.studio import InputError

GAN_TYPES = ("dcgan", "mlp-gan")
FAMILY_NAMES = {"dcgan": "DCGAN", "mlp-gan": "MLP GAN", "vae": "VAE", "gpt": "GPT", "classifier": "Classifier"}
log = logging.getLogger(__name__)


class Registry:
    """Name -> loaded model, or the reason it could not be loaded.

    Everything is loaded in the constructor and never changed afterwards, so
    concurrent requests may read it without a lock (models run in eval mode).
    """

    def __init__(self, names: list[str] | None = None):
        self.kinds: dict[str, str] = {}  # name -> model_type, also for models that failed to load
        self.models: dict[str, torch.nn.Module] = {}
        self.errors: dict[str, str] = {}
        for name in list_models() if names is None else names:
            try:
                self.kinds[name] = model_type(name)
                self.models[name] = load(name)
            except ModelLoadError as e:
                log.error("model %s is unavailable: %s", name, e)
                self.errors[name] = str(e)

    def names(self, *kinds: str) -> list[str]:
        """Names of the models of these kinds (all if none given), loaded or not."""
        return [name for name, kind in self.kinds.items() if not kinds or kind in kinds]

    def get(self, name, *kinds: str) -> torch.nn.Module:
        """The model called ``name``, which must be of one of ``kinds``.

        Raises InputError for an unknown name and ModelLoadError for a model that failed to load.
        """
        choices = self.names(*kinds)
        if name not in choices:
            raise InputError(f"Unknown model {name!r}; choose one of: {', '.join(choices) or '(none available)'}")
        if name in self.errors:
            raise ModelLoadError(f"{name} is unavailable: {self.errors[name]}")
        return self.models[name]

    def of_dataset(self, dataset: str, *kinds: str) -> list[str]:
        """Loaded models of these kinds that were trained on ``dataset``."""
        return [name for name in self.names(*kinds) if name in self.models and dataset_of(self.models[name]) == dataset]


def dataset_of(model: torch.nn.Module) -> str | None:
    """The image dataset a model was trained on, recognised by its class names (None for text models)."""
    class_names = list(getattr(model.config, "class_names", None) or [])
    return next((dataset for dataset, names in CLASS_NAMES.items() if names == class_names), None)


def family(name: str, model: torch.nn.Module) -> str:
    """A short description for tables: "DCGAN", "VAE, 2-d latent", ..."""
    kind = model.config.model_type
    if kind == "vae":
        return f"VAE, {model.config.latent_dim}-d latent"
    return FAMILY_NAMES.get(kind, kind)


def stored_metrics(name: str) -> dict:
    """The figures ``python -m aigc.evaluate`` stored with a bundled model; {} if there are none."""
    try:
        metrics = json.loads((WEIGHTS_DIR / name / "metrics.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


_registry: Registry | None = None
_registry_lock = threading.Lock()


def registry() -> Registry:
    """The app's one Registry, created on first use (the first call loads every bundled model)."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = Registry()
        return _registry

"""The models the tabs use: the bundled ones, loaded once at start-up, and Hub models loaded on demand.

A bundled model that fails to load (missing or corrupt files) keeps its error
message; the app serves the others and shows that message when the broken one
is asked for.  A Hub model is named by its repo id, with ``@revision`` when
pinned ("owner/name@v1"); the last few used stay loaded, so a stream of repo
ids cannot exhaust memory.
"""

import json
import logging
import threading
from collections import OrderedDict
from pathlib import Path

import torch

from aigc.data import CLASS_NAMES
from aigc.hub import REPO_ID, WEIGHTS_DIR, ModelLoadError, list_models, load, model_type
from aigc.studio import InputError, shown

GAN_TYPES = ("dcgan", "mlp-gan")
HUB_MODELS_KEPT = 3  # Hub models kept loaded at once, least recently used dropped first
FAMILY_NAMES = {"dcgan": "DCGAN", "mlp-gan": "MLP GAN", "vae": "VAE", "gpt": "GPT", "classifier": "Classifier"}
log = logging.getLogger(__name__)


class Registry:
    """Name -> loaded model, or the reason it could not be loaded.

    The bundled models are loaded in the constructor and never changed
    afterwards, so concurrent requests read them without a lock (models run in
    eval mode); only the small cache of Hub models changes, under its lock.
    """

    def __init__(self, names: list[str] | None = None):
        self.kinds: dict[str, str] = {}  # name -> model_type, also for models that failed to load
        self.models: dict[str, torch.nn.Module] = {}
        self.errors: dict[str, str] = {}
        self.hub_models: OrderedDict[str, torch.nn.Module] = OrderedDict()  # least recently used first
        self.hub_lock = threading.Lock()
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
        """The model called ``name`` (bundled, or a Hub repo id), which must be of one of ``kinds``.

        Raises InputError for an unknown name and ModelLoadError for a model that failed to load.
        """
        if is_hub_name(name) and name not in self.kinds:
            return self.hub_model(name, *kinds)
        choices = self.names(*kinds)
        if name not in choices:
            raise InputError(f"Unknown model {shown(name)}; choose one of: {', '.join(choices) or '(none available)'}"
                             " or a Hub repo id (owner/name)")
        if name in self.errors:
            raise ModelLoadError(f"{name} is unavailable: {self.errors[name]}")
        return self.models[name]

    def hub_model(self, name: str, *kinds: str) -> torch.nn.Module:
        """A Hub model by "owner/name" or "owner/name@revision", downloaded and loaded on first use.

        Its config is read first, so a repo of another family is refused before its weights are fetched.
        """
        repo_id, _, revision = name.partition("@")
        if Path(repo_id).exists():  # locate() would read a server folder of that name: never for a client
            raise InputError(f"{shown(repo_id)} names a folder on the server, not a Hub repo")
        with self.hub_lock:  # one download at a time; the others then find the model loaded
            model = self.hub_models.get(name)
            if model is None:
                kind = model_type(repo_id, revision or None)
                if kinds and kind not in kinds:
                    raise wrong_family(name, kind, kinds)
                model = load(repo_id, revision=revision or None, model_types=kinds or None)
                if model.config.model_type == "vae" and model.config.channels != 1:
                    raise InputError(f"{name} is a VAE of {model.config.channels}-channel pictures; "
                                     "the VAE tab works on gray pictures (1 channel)")
                self.hub_models[name] = model
                while len(self.hub_models) > HUB_MODELS_KEPT:
                    dropped, _ = self.hub_models.popitem(last=False)
                    log.info("dropped Hub model %s (more than %d loaded)", dropped, HUB_MODELS_KEPT)
            self.hub_models.move_to_end(name)
        if kinds and model.config.model_type not in kinds:  # loaded earlier for a tab of another family
            raise wrong_family(name, model.config.model_type, kinds)
        return model

    def of_dataset(self, dataset: str, *kinds: str) -> list[str]:
        """Loaded models of these kinds that were trained on ``dataset``."""
        return [name for name in self.names(*kinds) if name in self.models and dataset_of(self.models[name]) == dataset]


def wrong_family(name: str, kind: str, kinds: tuple[str, ...]) -> InputError:
    wanted = " or ".join(FAMILY_NAMES.get(k, k) for k in kinds)
    return InputError(f"{name} holds a {FAMILY_NAMES.get(kind, kind)} model; this needs a {wanted}")


def is_hub_name(name) -> bool:
    """Whether ``name`` is a Hub repo id, optionally with "@revision"."""
    return isinstance(name, str) and bool(REPO_ID.match(name.partition("@")[0]))


def hub_name(repo_id, revision=None) -> str:
    """The picker's name of a Hub model: "owner/name", or "owner/name@revision" when pinned."""
    repo_id, revision = str(repo_id or "").strip(), str(revision or "").strip()
    if not REPO_ID.match(repo_id):
        raise InputError(f"{shown(repo_id)} is not a Hub repo id; it looks like owner/name, e.g. someone/my-gan")
    if revision and not all(c.isalnum() or c in "._-/" for c in revision):
        raise InputError(f"{shown(revision)} is not a revision (a branch, a tag or a commit hash)")
    return f"{repo_id}@{revision}" if revision and revision != "main" else repo_id


def load_hub_model(repo_id, revision, *kinds: str) -> str:
    """Download and load a Hub model for a tab of ``kinds`` -> the name to pick it by."""
    name = hub_name(repo_id, revision)
    registry().get(name, *kinds)
    return name


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

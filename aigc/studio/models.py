"""The models the tabs use: the bundled ones, loaded once at start-up, and Hub models loaded on demand.

A bundled model comes from weights/NAME, or from its Hub repo where weights/ lacks it (``aigc.hub``).  One
that cannot be had keeps a one-line reason in ``errors`` (the app's banner shows them) and the app serves the
others, whichever they are.  A Hub model is named by its repo id, with ``@revision`` when pinned
("owner/name@v1").  A name a client sends is a bundled name or a repo id, never a path on the server.

Hub models load in the Registry's own loader thread, one at a time, never in a tab's worker: a request for
a Hub model not yet loaded starts its load (once, however many ask for it) and waits for it at most
``hub_wait_s`` seconds.  The app's registry waits TAB_WAIT_S, about what a small model already in the Hub
cache takes; past that the request gets StillLoading ("still loading from the Hub; try again in a moment")
while the load goes on, so a slow repo holds up no worker and no request for another model.  The Load button
under the pickers waits up to LOAD_WAIT_S, in its own queue.  The last few Hub models used stay loaded; one
dropped is also removed from the Hub cache.

A model trained in the Train tab is kept by its name ("trained: mlp-gan bce 60 s #3"), the last TRAINED_KEPT
of them; the visitor who trained it finds it in their pickers, and anyone may draw with it by name.
"""

import contextlib
import json
import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

import torch

from aigc.data import CLASS_NAMES
from aigc.hub import (
    BUNDLED,
    ModelLoadError,
    WrongFamily,
    bundled_file,
    check_allowed,
    check_revision,
    forget,
    is_repo_id,
    list_models,
    load,
    load_from_hub,
    model_type,
)
from aigc.studio import ZERO_GPU, InputError, shown

GAN_TYPES = ("dcgan", "mlp-gan")
HUB_MODELS_KEPT = 3  # Hub models kept loaded at once, least recently used dropped first
TRAINED_KEPT = 8  # models trained in the app kept at once, the oldest dropped first
TAB_WAIT_S = 1.0  # what a tab's request waits for a Hub model being loaded, before "still loading"
LOAD_WAIT_S = 120.0  # what the Load button (and Python code) waits
ERROR_CHARS = 200  # the longest reason the banner shows for a model
FAMILY_NAMES = {"dcgan": "DCGAN", "mlp-gan": "MLP GAN", "vae": "VAE", "gpt": "GPT", "classifier": "Classifier"}
log = logging.getLogger(__name__)


class StillLoading(InputError):
    """A Hub model whose load has started but not finished: the request may be sent again in a moment."""


class Loader:
    """One daemon thread that runs jobs in order -> a Future per job (the app's exit never waits for a download)."""

    def __init__(self):
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def submit(self, fn, *args) -> Future:
        future = Future()
        self.jobs.put((future, fn, args))
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="hub-loader", daemon=True)
                self.thread.start()
        return future

    def run(self) -> None:
        while True:
            future, fn, args = self.jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as e:  # the caller gets it from the future
                    future.set_exception(e)


class Registry:
    """Name -> loaded model, or the reason it could not be loaded.

    The bundled models are loaded in the constructor and never changed
    afterwards, so concurrent requests read them without a lock (models run in
    eval mode); only the Hub models change, under ``hub_lock``, which is held
    for dictionary updates only, never during a download.
    """

    def __init__(self, names: list[str] | None = None, hub_wait_s: float = LOAD_WAIT_S):
        self.kinds: dict[str, str] = {}  # name -> model_type, also for models that failed to load
        self.models: dict[str, torch.nn.Module] = {}
        self.errors: dict[str, str] = {}
        self.hub_models: OrderedDict[str, torch.nn.Module] = OrderedDict()  # least recently used first
        self.trained: OrderedDict[str, torch.nn.Module] = OrderedDict()  # trained in the app, oldest first
        self.loading: dict[str, Future] = {}  # Hub models being loaded, by name
        self.hub_lock = threading.Lock()
        self.hub_wait_s = hub_wait_s
        self.loader = Loader()
        for name in list_models() if names is None else names:
            try:
                self.kinds[name] = BUNDLED.get(name) or model_type(name)
                self.models[name] = load(name, model_types=(self.kinds[name],))
            except ModelLoadError as e:
                log.error("model %s is unavailable: %s", name, e)
                self.errors[name] = one_line(str(e))

    @classmethod
    def holding(cls, models: dict[str, torch.nn.Module], hub_wait_s: float = LOAD_WAIT_S) -> "Registry":
        """A Registry of models built elsewhere (a test's), by name, served as bundled ones are; nothing is loaded."""
        held = cls(names=[], hub_wait_s=hub_wait_s)
        for name, model in models.items():
            held.kinds[name], held.models[name] = model.config.model_type, model
        return held

    def names(self, *kinds: str) -> list[str]:
        """Names of the models of these kinds (all if none given), loaded or not."""
        return [name for name, kind in self.kinds.items() if not kinds or kind in kinds]

    def get(self, name, *kinds: str, wait: float | None = None) -> torch.nn.Module:
        """The model called ``name`` (bundled, or a Hub repo id), which must be of one of ``kinds``.

        A Hub model not loaded yet is waited for at most ``wait`` seconds (default: ``hub_wait_s``).
        Raises InputError for an unknown name (StillLoading for a Hub model still loading) and
        ModelLoadError for a model that failed to load.
        """
        trained = self.trained.get(name) if isinstance(name, str) else None
        if trained is not None:
            if kinds and trained.config.model_type not in kinds:
                raise wrong_family(name, trained.config.model_type, kinds)
            return trained
        if is_hub_name(name) and name not in self.kinds:
            return self.hub_model(name, *kinds, wait=self.hub_wait_s if wait is None else wait)
        choices = self.names(*kinds)
        if name not in choices:
            raise InputError(f"Unknown model {shown(name)}; choose one of: {', '.join(choices) or '(none available)'}"
                             " or a Hub repo id (owner/name)")
        if name in self.errors:
            raise ModelLoadError(f"{name} is unavailable: {self.errors[name]}")
        return self.models[name]

    def add_trained(self, name: str, model: torch.nn.Module) -> None:
        """Keep a model trained in the app under ``name``; past TRAINED_KEPT, the oldest goes."""
        with self.hub_lock:
            self.trained[name] = model
            while len(self.trained) > TRAINED_KEPT:
                self.trained.popitem(last=False)

    def hub_model(self, name: str, *kinds: str, wait: float) -> torch.nn.Module:
        """A Hub model by "owner/name" or "owner/name@revision": loaded once, in the loader thread."""
        repo_id, _, revision = name.partition("@")
        try:
            revision = check_revision(revision)
        except ModelLoadError as e:
            raise InputError(str(e)) from None
        check_allowed(repo_id)  # here, not in the loader's queue: a refusal never waits behind a download
        with self.hub_lock:
            model = self.hub_models.get(name)
            if model is not None:
                self.hub_models.move_to_end(name)
            elif name in self.loading:
                future = self.loading[name]
            else:
                future = self.loading[name] = self.loader.submit(self.load_hub, name, repo_id, revision, kinds)
        if model is None:
            try:
                model = future.result(timeout=wait)
            except FutureTimeout:
                raise StillLoading(f"{name} is still loading from the Hub; try again in a moment") from None
            except (InputError, ModelLoadError) as e:  # a fresh exception for each request that waited
                raise type(e)(str(e)) from None
        if kinds and model.config.model_type not in kinds:  # loaded earlier for a tab of another family
            raise wrong_family(name, model.config.model_type, kinds)
        return model

    def load_hub(self, name: str, repo_id: str, revision: str | None, kinds: tuple[str, ...]) -> torch.nn.Module:
        """In the loader thread: fetch and build the model, keep it, drop (and forget) the least recently used;
        a repo refused leaves the Hub cache too.

        Its config is read first, so a repo of another family is refused before its weights are fetched.
        """
        try:
            try:
                # ZeroGPU's stand-in for CUDA works only in the thread that imported spaces: on ZeroGPU a Hub model
                # stays on the CPU (and runs there, in the GPU handlers' worker)
                model = load_from_hub(repo_id, revision, device="cpu" if ZERO_GPU else None, model_types=kinds or None)
            except WrongFamily as e:
                raise wrong_family(name, e.kind, kinds) from None
            if model.config.model_type == "vae" and model.config.channels != 1:
                raise InputError(f"{name} is a VAE of {model.config.channels}-channel pictures; "
                                 "the VAE tab works on gray pictures (1 channel)")
        except BaseException:
            with self.hub_lock:
                del self.loading[name]
                in_use = any(kept.partition("@")[0] == repo_id for kept in self.hub_models)
            if not in_use:  # what a refused repo brought into the Hub cache goes with it
                forget(repo_id)
            raise
        with self.hub_lock:
            del self.loading[name]
            self.hub_models[name] = model
            dropped = []
            while len(self.hub_models) > HUB_MODELS_KEPT:
                dropped.append(self.hub_models.popitem(last=False)[0].partition("@")[0])
            kept = {kept_name.partition("@")[0] for kept_name in self.hub_models}
        for old in dropped:
            log.info("dropped Hub model %s (more than %d loaded)", old, HUB_MODELS_KEPT)
            if old not in kept:  # another revision of the repo is still in use: its cache stays
                forget(old)
        return model

    def of_dataset(self, dataset: str, *kinds: str) -> list[str]:
        """Loaded models of these kinds that were trained on ``dataset``."""
        return [name for name in self.names(*kinds) if name in self.models and dataset_of(self.models[name]) == dataset]


def wrong_family(name: str, kind: str, kinds: tuple[str, ...]) -> InputError:
    wanted = " or ".join(FAMILY_NAMES.get(k, k) for k in kinds)
    return InputError(f"{name} holds a {FAMILY_NAMES.get(kind, kind)} model; this needs a {wanted}")


def is_hub_name(name) -> bool:
    """Whether ``name`` is a Hub repo id, optionally with "@revision"."""
    return isinstance(name, str) and is_repo_id(name.partition("@")[0])


def one_line(message: str) -> str:
    """A reason as the banner shows it: its first line, cut to ERROR_CHARS."""
    line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return line if len(line) <= ERROR_CHARS else line[:ERROR_CHARS - 1] + "…"


def hub_name(repo_id, revision=None) -> str:
    """The picker's name of a Hub model: "owner/name", or "owner/name@revision" when pinned."""
    repo_id, revision = str(repo_id or "").strip(), str(revision or "").strip()
    if not is_repo_id(repo_id):
        raise InputError(f"{shown(repo_id)} is not a Hub repo id; it looks like owner/name, e.g. someone/my-gan")
    try:
        revision = check_revision(revision)
    except ModelLoadError:
        raise InputError(f"{shown(revision)} is not a revision (a branch, a tag or a commit hash)") from None
    return f"{repo_id}@{revision}" if revision and revision != "main" else repo_id


def load_hub_model(repo_id, revision, *kinds: str) -> str:
    """Download and load a Hub model for a tab of ``kinds`` (waiting up to LOAD_WAIT_S) -> the name to pick it by."""
    name = hub_name(repo_id, revision)
    registry().get(name, *kinds, wait=LOAD_WAIT_S)
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
    path = bundled_file(name, "metrics.json")
    try:
        metrics = json.loads(path.read_text()) if path else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


_registry: Registry | None = None
_registry_lock = threading.Lock()


def registry() -> Registry:
    """The Registry every studio function draws its models from: the app's one, created on first use (the first
    call loads every bundled model), or the one a ``using_registry`` block gives."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = Registry(hub_wait_s=TAB_WAIT_S)
        return _registry


@contextlib.contextmanager
def using_registry(models: Registry) -> Iterator[Registry]:
    """Within the block, ``registry()`` is ``models``, for every thread: how a test hands the studio functions
    models it built (``Registry.holding``) without the bundled weights.  The previous registry comes back after."""
    global _registry
    with _registry_lock:
        previous, _registry = _registry, models
    try:
        yield models
    finally:
        with _registry_lock:
            _registry = previous

"""Name, Hub repo id or folder -> a loaded model, checked before anything is allocated.

Every model is stored the way ``PyTorchModelHubMixin`` writes it: ``config.json``
(the config dataclass, whose ``model_type`` names the class) and
``model.safetensors``; a GPT with a BPE tokenizer also has ``tokenizer.json``.
GPT-2 repos in the ``transformers`` format (model_type "gpt2", such as
openai-community/gpt2) are read into our GPT.  Weights are never unpickled.
Hub repos go through huggingface_hub's own download and cache code, so
``HF_HUB_OFFLINE``, ``HF_ENDPOINT``, ``HF_HOME`` and revisions work as they do
everywhere else.

A bundled model NAME is ``weights/NAME`` where that folder exists (no network);
elsewhere (a Space deployed without ``weights/``) it is the Hub repo
NAMESPACE/NAME ($AIGC_HUB_NAMESPACE, default "aigc-studio"), at the commit that
``aigc/hub_revisions.json`` records for it, if any.

Whatever a repo or folder holds, it is checked before it costs memory: file
sizes against FILE_LIMITS (a Hub file before its download, from the Hub's
paths-info), the config's sizes against LIMITS and its parameter count (the
module built on the meta device) against MAX_PARAMETERS, the safetensors
header's names, shapes and dtypes against that module, a BPE ``tokenizer.json``
against GPT-2's shape; weights that are not finite are refused.  Repo ids pass
huggingface_hub's validator and revisions git's ref rules before any use.  On a
public deployment ($SPACE_ID set, or $AIGC_HUB_ALLOW) only allowed repos are
fetched: the bundled ones, openai-community/gpt2 and those $AIGC_HUB_ALLOW lists.
"""

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

import torch
from huggingface_hub import HfApi, constants, hf_hub_download, try_to_load_from_cache
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import repo_folder_name
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils import validate_repo_id
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from tokenizers import pre_tokenizers

from aigc.models import CONFIG_CLASSES, MODEL_CLASSES, TRANSFORMERS_TYPES
from aigc.models.gpt2 import MODEL_TYPE as GPT2
from aigc.models.gpt2 import TOKENIZER_FILE, config_from_transformers, state_dict_from_transformers
from aigc.models.tokens import BPETokenizer

# the bundled models; $AIGC_WEIGHTS_DIR points the package (and the app) at another folder of the same shape
WEIGHTS_DIR = Path(os.environ.get("AIGC_WEIGHTS_DIR") or Path(__file__).resolve().parent.parent / "weights")
BUNDLED = {  # every bundled model: name -> model_type; the Hub repo NAMESPACE/NAME holds it too
    "classifier-fashion": "classifier", "classifier-mnist": "classifier",
    "gan-fashion": "dcgan", "gan-mnist": "dcgan", "gan-mlp-fashion": "mlp-gan", "gan-mlp-mnist": "mlp-gan",
    "gpt-shakespeare": "gpt", "vae-fashion": "vae", "vae-mnist": "vae", "vae-mnist-2d": "vae",
}
DEFAULT_NAMESPACE = "aigc-studio"
REVISIONS_FILE = Path(__file__).resolve().with_name("hub_revisions.json")  # {"NAME": "commit"}, by aigc.publish
EXTRA_FILES = ("metrics.json", "training_log.json", "train_features.safetensors")  # what the tabs read beside
ALWAYS_ALLOWED = ("openai-community/gpt2",)
MAX_PARAMETERS = 130_000_000  # GPT-2 small (124 M) fits; a 0.6 G-parameter config does not
FILE_LIMITS = {"config.json": 64_000, TOKENIZER_FILE: 8_000_000,
               "model.safetensors": 600_000_000}  # GPT-2's, with its attention masks, is 548 MB
OTHER_FILE_LIMIT = 16_000_000
LIMITS = {"n_layer": 48, "block_size": 4096, "vocab_size": 262_144, "image_size": 128, "channels": 3,
          "latent_dim": 1024, "num_classes": 1000}  # besides the parameter count: what a forward pass costs
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}  # of safetensors
UNREACHABLE_S = 60  # after the Hub failed to answer, read only the cache for this long
REPO_ID = re.compile(r"^[^/]+/[^/]+$")  # owner/name; validate_repo_id says what each part may hold
REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock(/|$)")
log = logging.getLogger(__name__)
_unreachable_until = 0.0


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says which and why."""


class WrongFamily(ModelLoadError):
    """A model of another family than the one asked for; ``kind`` is its model_type."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


def default_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else $AIGC_DEVICE, else CUDA where there is one, else the CPU."""
    device = device or os.environ.get("AIGC_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def namespace() -> str:
    """The Hub namespace of the bundled models: $AIGC_HUB_NAMESPACE, else the project's own."""
    return os.environ.get("AIGC_HUB_NAMESPACE") or DEFAULT_NAMESPACE


def list_models() -> list[str]:
    """Names of the bundled models: the catalogue, and any other model folder of ``weights/``."""
    return sorted(set(BUNDLED) | {p.parent.name for p in WEIGHTS_DIR.glob("*/config.json")})


def bundled_repos() -> set[str]:
    """The Hub repos of the bundled models."""
    return {f"{namespace()}/{name}" for name in BUNDLED}


def pinned_revision(name: str) -> str | None:
    """The commit recorded for a bundled model in hub_revisions.json; None (its main branch) if none is."""
    try:
        revisions = json.loads(REVISIONS_FILE.read_text())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelLoadError(f"{REVISIONS_FILE.name} is not readable JSON ({e})") from e
    return check_revision(revisions.get(name)) if isinstance(revisions, dict) else None


def is_repo_id(name) -> bool:
    """Whether ``name`` is a Hub repo id of the form owner/name that the Hub client accepts."""
    try:
        check_repo_id(name)
    except ModelLoadError:
        return False
    return True


def check_repo_id(repo_id) -> str:
    """``repo_id`` if it is owner/name by huggingface_hub's own rules; else ModelLoadError."""
    try:
        if not isinstance(repo_id, str) or not REPO_ID.match(repo_id):
            raise HFValidationError("it looks like owner/name")
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise ModelLoadError(f"{str(repo_id)[:100]!r} is not a Hub repo id ({e})") from None
    return repo_id


def check_revision(revision) -> str | None:
    """A branch, tag or commit by git's ref rules (no '..', no leading '-', no control characters...); None for
    none.  Checked before any use: the Hub client makes folders of revisions in its cache."""
    if revision is None or revision == "":
        return None
    if (not isinstance(revision, str) or len(revision) > 255 or revision.startswith(("-", "/", "."))
            or revision.endswith(("/", ".", ".lock")) or revision == "@" or REF_FORBIDDEN.search(revision)):
        raise ModelLoadError(f"{str(revision)[:100]!r} is not a revision (a branch, a tag or a commit hash)")
    return revision


def public_deployment() -> bool:
    """On a Space, or wherever the operator names the allowed repos, visitors may name only those."""
    return bool(os.environ.get("SPACE_ID") or os.environ.get("AIGC_HUB_ALLOW"))


def allowed_repos() -> set[str]:
    extra = {repo.strip() for repo in os.environ.get("AIGC_HUB_ALLOW", "").split(",") if repo.strip()}
    return bundled_repos() | set(ALWAYS_ALLOWED) | extra


def check_allowed(repo_id: str) -> None:
    """On a public deployment, refuse a repo that is not allowed, before any network call."""
    if public_deployment() and repo_id not in allowed_repos():
        raise ModelLoadError(f"{repo_id} is not one of the Hub models this app may load; it loads the bundled "
                             f"models and {', '.join(sorted(allowed_repos() - bundled_repos()))}")


def model_type(name_or_path: str, revision: str | None = None) -> str:
    """The ``model_type`` of a model's config ("gpt" for GPT-2), without loading its weights."""
    return family(read_config(source(name_or_path, revision).file("config.json").parent, name_or_path))


def family(config: dict) -> str | None:
    """The config's model_type; a transformers checkpoint's is that of the class we read it into."""
    kind = config.get("model_type")
    return TRANSFORMERS_TYPES.get(kind, kind)


def model_files(config: dict) -> tuple[str, ...]:
    """The files of a model: config and weights, and the tokenizer of a BPE (GPT-2) model."""
    bpe = config.get("model_type") == GPT2 or config.get("tokenizer") == "bpe"
    return ("config.json", "model.safetensors") + ((TOKENIZER_FILE,) if bpe else ())


def load(name_or_path: str, revision: str | None = None, device: str | torch.device | None = None,
         model_types: tuple[str, ...] | None = None) -> torch.nn.Module:
    """A bundled name, a local folder or a Hub repo id -> the model, in eval mode on ``device``.

    ``model_types`` restricts what is accepted (e.g. ``("dcgan", "mlp-gan")``): another family is refused
    (WrongFamily) before its weights are fetched.  Raises ModelLoadError naming the model and what is wrong.
    """
    return build(source(name_or_path, revision), device, model_types)


def load_from_hub(repo_id: str, revision: str | None = None, device: str | torch.device | None = None,
                  model_types: tuple[str, ...] | None = None) -> torch.nn.Module:
    """Like :func:`load`, for a Hub repo id only: a name that a client sent, never looked up on the disk."""
    return build(HubRepo(repo_id, revision), device, model_types)


def locate(name_or_path: str, revision: str | None = None, weights: bool = True) -> Path:
    """The local folder that holds the model's files, downloading them from the Hub if need be."""
    src = source(name_or_path, revision)
    folder = src.file("config.json").parent
    for filename in model_files(read_config(folder))[1:] if weights else ():
        src.file(filename)
    return folder


def source(name_or_path: str, revision: str | None = None) -> "Folder | HubRepo":
    """Where a model's files come from: weights/NAME, else a bundled model's Hub repo; a folder; a Hub repo."""
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise ModelLoadError("no model name given")
    if name_or_path in list_models():
        if (WEIGHTS_DIR / name_or_path).is_dir():
            return Folder(WEIGHTS_DIR / name_or_path, name_or_path)
        return HubRepo(f"{namespace()}/{name_or_path}", revision or pinned_revision(name_or_path),
                       name=name_or_path, extras=EXTRA_FILES)
    if Path(name_or_path).is_dir():
        return Folder(Path(name_or_path), name_or_path)
    if is_repo_id(name_or_path):
        return HubRepo(name_or_path, revision)
    raise ModelLoadError(
        f"unknown model {name_or_path[:100]!r}: not a bundled model ({', '.join(list_models())}), "
        "not a folder, and not a Hub repo id (owner/name)"
    )


def check_size(name: str, filename: str, size: int) -> None:
    limit = FILE_LIMITS.get(filename, OTHER_FILE_LIMIT)
    if size > limit:
        raise ModelLoadError(f"{name}: {filename} is {size / 1e6:,.1f} MB, more than the {limit / 1e6:,.1f} MB "
                             "this app loads")


class Folder:
    """A model's files in a local folder."""

    def __init__(self, folder: Path, name: str):
        self.folder, self.name = folder, name

    def file(self, filename: str, required: bool = True) -> Path | None:
        path = self.folder / filename
        if not path.is_file():
            if required:  # the model's name, not the server's path: the app shows this to visitors
                what = "is not a readable tokenizer (there is none)" if filename == TOKENIZER_FILE else "is missing"
                raise ModelLoadError(f"{self.name}: {filename} {what}")
            return None
        check_size(self.name, filename, path.stat().st_size)
        return path

    def fetch_extras(self) -> None:
        """Nothing to fetch: the folder holds what it holds."""


class HubRepo:
    """A Hub model repo read through the Hub cache; every file's size is checked before it is downloaded.

    The sizes come from one paths-info call.  Offline, or when the Hub does not answer, files come from the
    cache only.  After the first file, the others are read at the same commit, even if the branch moves.
    """

    def __init__(self, repo_id: str, revision: str | None = None, name: str | None = None,
                 extras: tuple[str, ...] = ()):
        self.repo_id, self.revision = check_repo_id(repo_id), check_revision(revision)
        check_allowed(self.repo_id)
        self.name, self.extras = name or repo_id, extras
        self.sizes: dict[str, int] | None = None  # None: not listed yet, or the cache only

    def cache_only(self) -> bool:
        if constants.is_offline_mode() or time.monotonic() < _unreachable_until:
            return True
        if self.sizes is None:
            self.sizes = self.list_files()
        return self.sizes is None

    def list_files(self) -> dict[str, int] | None:
        """filename -> size of the files this loader may read; None when the Hub cannot be asked."""
        global _unreachable_until
        wanted = ["config.json", "model.safetensors", TOKENIZER_FILE, *self.extras]
        try:
            infos = HfApi().get_paths_info(self.repo_id, wanted, revision=self.revision)
        except RepositoryNotFoundError as e:
            raise ModelLoadError(f"Hub repo {self.repo_id} was not found (or is private)") from e
        except RevisionNotFoundError as e:
            raise ModelLoadError(f"Hub repo {self.repo_id} has no revision {self.revision!r}") from e
        except HfHubHTTPError as e:  # it answered, but not a listing: nothing is downloaded whose size is unknown
            log.warning("the Hub did not list %s (%s); reading the cache only", self.repo_id, e)
            return None
        except Exception as e:  # it did not answer (offline, a timeout): the cache only, for a while
            log.warning("the Hub cannot be reached (%s); reading the cache only for %d s", e, UNREACHABLE_S)
            _unreachable_until = time.monotonic() + UNREACHABLE_S
            return None
        return {info.path: info.size for info in infos if isinstance(info, RepoFile)}

    def file(self, filename: str, required: bool = True) -> Path | None:
        if self.cache_only():
            cached = try_to_load_from_cache(self.repo_id, filename, revision=self.revision)
            if not isinstance(cached, str) and not required:
                return None
            path = Path(cached) if isinstance(cached, str) else fetch(self.repo_id, filename, self.revision, True)
        else:
            if filename not in self.sizes:
                if required:
                    raise ModelLoadError(f"Hub repo {self.repo_id} has no {filename} (is it an aigc model?)")
                return None
            check_size(self.name, filename, self.sizes[filename])
            path = fetch(self.repo_id, filename, self.revision)
        check_size(self.name, filename, path.stat().st_size)
        if re.fullmatch(r"[0-9a-f]{40}", path.parent.name):
            self.revision = path.parent.name
        return path

    def fetch_extras(self) -> None:
        """The files the tabs read beside a bundled model (metrics, training log, nearest-picture index)."""
        for filename in self.extras:
            try:
                self.file(filename, required=False)
            except ModelLoadError as e:
                log.warning("%s: %s", self.name, e)


def fetch(repo_id: str, filename: str, revision: str | None, cache_only: bool = False) -> Path:
    """One file of a Hub repo, through the Hub cache -> its path there."""
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, local_files_only=cache_only))
    except RepositoryNotFoundError as e:
        raise ModelLoadError(f"Hub repo {repo_id} was not found (or is private)") from e
    except RevisionNotFoundError as e:
        raise ModelLoadError(f"Hub repo {repo_id} has no revision {revision!r}") from e
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as e:  # before EntryNotFoundError, its parent
        raise ModelLoadError(
            f"Hub repo {repo_id}: {filename} is not in the local cache and the Hub cannot be reached"
        ) from e
    except EntryNotFoundError as e:
        raise ModelLoadError(f"Hub repo {repo_id} has no {filename} (is it an aigc model?)") from e
    except (HfHubHTTPError, OSError) as e:
        raise ModelLoadError(f"Hub repo {repo_id}: download of {filename} failed ({e})") from e


def bundled_file(name: str, filename: str) -> Path | None:
    """A file beside a bundled model (metrics.json, training_log.json, ...): weights/NAME/filename, else its copy
    in the Hub cache, fetched with the model (no network here); None where there is neither."""
    if name not in list_models():
        return None
    if (WEIGHTS_DIR / name).is_dir():
        path = WEIGHTS_DIR / name / filename
        return path if path.is_file() else None
    try:
        repo_id = check_repo_id(f"{namespace()}/{name}")
        cached = try_to_load_from_cache(repo_id, filename, revision=pinned_revision(name))
    except ModelLoadError:
        return None
    return Path(cached) if isinstance(cached, str) else None


def forget(repo_id: str) -> None:
    """Remove a Hub repo from the local Hub cache; never an allowed one (the bundled models' repos, GPT-2, what
    $AIGC_HUB_ALLOW names): a Space may have them preloaded, and they are few."""
    if repo_id in allowed_repos():
        return
    folder = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=check_repo_id(repo_id), repo_type="model")
    shutil.rmtree(folder, ignore_errors=True)
    log.info("removed %s from the Hub cache", repo_id)


def read_config(folder: Path, name: str | None = None) -> dict:
    """The config.json of a model folder; errors name the model (``name``, else the folder)."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelLoadError(f"{name or folder}: config.json is not readable JSON ({e})") from e
    if not isinstance(config, dict):
        raise ModelLoadError(f"{name or folder}: config.json is not a JSON object")
    return config


def build(src: "Folder | HubRepo", device=None, model_types: tuple[str, ...] | None = None) -> torch.nn.Module:
    """The checked load: config, then the module on the meta device, then the weights' header, then the weights."""
    name = src.name
    folder = src.file("config.json").parent
    config = read_config(folder, name)
    kind = family(config)
    if kind not in MODEL_CLASSES:
        known = ", ".join([*MODEL_CLASSES, *TRANSFORMERS_TYPES])
        raise ModelLoadError(f"{name}: config.json has model_type {kind!r}; known: {known}")
    if model_types is not None and kind not in model_types:
        raise WrongFamily(f"{name} is a {kind} model, not one of: {', '.join(model_types)}", kind)
    transformers = config["model_type"] == GPT2
    model = meta_module(name, kind, config)
    tokenizer = src.file(TOKENIZER_FILE) if TOKENIZER_FILE in model_files(config) else None
    if tokenizer is not None:  # before the weights: it is the smaller file
        check_tokenizer(name, tokenizer, model.config.vocab_size)
    weights = src.file("model.safetensors")
    check_header(name, weights, model, transformers)
    model = materialise(name, weights, model, transformers)
    if tokenizer is not None:
        try:
            model.tokenizer = BPETokenizer(tokenizer)
        except OSError as e:
            raise ModelLoadError(f"{name}: {e}") from e
    src.fetch_extras()
    model.name, model.folder = name, folder
    device = default_device(device)
    log.info("loaded %s (%s) on %s", name, kind, device)
    return model.to(device).eval()


def meta_module(name: str, kind: str, config: dict) -> torch.nn.Module:
    """The model of ``config`` on the meta device (no memory), once its sizes and parameter count are allowed."""
    try:
        if config["model_type"] == GPT2:
            config = config_from_transformers(config)
        else:
            config = CONFIG_CLASSES[kind](**config)
        for key, limit in LIMITS.items():
            value = getattr(config, key, None)
            if value is not None and not (isinstance(value, int) and 0 <= value <= limit):
                raise ValueError(f"{key} must be an integer from 0 to {limit}, not {str(value)[:30]}")
        with torch.device("meta"):
            model = MODEL_CLASSES[kind](config)
    except (TypeError, ValueError, ArithmeticError, RuntimeError) as e:
        raise ModelLoadError(f"{name}: config.json is invalid ({str(e)[:200]})") from e
    count = sum(p.numel() for p in model.parameters())
    if count > MAX_PARAMETERS:
        raise ModelLoadError(f"{name}: config.json describes {count:,} parameters, more than the "
                             f"{MAX_PARAMETERS:,} this app loads")
    return model


def tied_names(model: torch.nn.Module) -> list[list[str]]:
    """Groups of parameter names that share one tensor (a GPT's output layer and token embedding)."""
    groups: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        groups.setdefault(id(p), []).append(name)
    return [names for names in groups.values() if len(names) > 1]


def check_header(name: str, path: Path, model: torch.nn.Module, transformers: bool) -> None:
    """The names, shapes and dtypes in the safetensors header (read alone) against the meta module."""
    try:
        with safe_open(path, "pt", device="cpu") as f:
            header = {key: (f.get_slice(key).get_shape(), f.get_slice(key).get_dtype()) for key in f.keys()}
    except (SafetensorError, OSError) as e:
        raise ModelLoadError(f"{name}: model.safetensors is corrupt ({e})") from e
    odd = sorted(key for key, (_, dtype) in header.items() if dtype not in DTYPES)
    if odd:
        raise ModelLoadError(f"{name}: model.safetensors holds tensors of an unusable dtype ({', '.join(odd[:3])})")
    found = {key: torch.empty(shape, dtype=DTYPES[dtype], device="meta") for key, (shape, dtype) in header.items()}
    if transformers:
        found = state_dict_from_transformers(found)
    expected = model.state_dict()
    for names in tied_names(model):  # a tied tensor is saved once, under any of its names
        present = [n for n in names if n in found]
        if present:
            found.update({n: found[present[0]] for n in names})
    problems = [f"missing {key}" for key in expected if key not in found]
    problems += [f"unexpected {key}" for key in found if key not in expected]
    problems += [f"{key} is {list(found[key].shape)} in the weights, {list(t.shape)} by the config"
                 for key, t in expected.items() if key in found and found[key].shape != t.shape]
    problems += [f"{key} is {found[key].dtype}" for key, t in expected.items() if key in found and
                 found[key].dtype != t.dtype and not (t.is_floating_point() and found[key].is_floating_point())]
    if problems:
        raise ModelLoadError(f"{name}: config.json does not match the weights ({'; '.join(problems[:3])})")


def materialise(name: str, path: Path, model: torch.nn.Module, transformers: bool) -> torch.nn.Module:
    """The meta module given the file's tensors (checked finite), in their place: no second copy is made."""
    try:
        tensors = load_file(path)
    except (SafetensorError, OSError) as e:
        raise ModelLoadError(f"{name}: model.safetensors is corrupt ({e})") from e
    if transformers:
        tensors = state_dict_from_transformers(tensors)
    groups = tied_names(model)
    for names in groups:
        present = next(n for n in names if n in tensors)
        tensors.update({n: tensors[present] for n in names})
    expected = model.state_dict()
    for key, t in tensors.items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise ModelLoadError(f"{name}: model.safetensors holds NaN or infinite values ({key})")
        tensors[key] = t.to(expected[key].dtype)
    try:
        model.load_state_dict(tensors, strict=True, assign=True)
    except RuntimeError as e:
        raise ModelLoadError(f"{name}: config.json does not match the weights ({str(e).splitlines()[0]})") from e
    for names in groups:  # assign gave each name its own Parameter: tie them again
        tied = model.get_parameter(names[0])
        for other in names[1:]:
            module, _, attr = other.rpartition(".")
            setattr(model.get_submodule(module), attr, tied)
    return model


def check_tokenizer(name: str, path: Path, vocab_size: int) -> None:
    """Only a byte-level BPE of GPT-2's shape: no normaliser, padding or truncation, and every id in the model.

    A tokenizer.json can make encoding arbitrarily costly (a normaliser that expands each character, a
    padding to a billion tokens, a splitting regex): none of those parts is accepted.
    """
    def refuse(why: str):
        return ModelLoadError(f"{name}: tokenizer.json is not a byte-level BPE tokenizer like GPT-2's ({why})")

    try:
        spec = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelLoadError(f"{name}: tokenizer.json is not a readable tokenizer ({e})") from e
    if not isinstance(spec, dict) or not isinstance(spec.get("model"), dict):
        raise refuse("no model")
    for part in ("normalizer", "truncation", "padding"):
        if spec.get(part) is not None:
            raise refuse(f"it has a {part}")
    for part, allowed in (("pre_tokenizer", ("ByteLevel",)), ("decoder", ("ByteLevel",)),
                          ("post_processor", ("ByteLevel", None))):
        value = spec.get(part)
        if (value.get("type") if isinstance(value, dict) else value) not in allowed:
            raise refuse(f"its {part} is not ByteLevel")
    model = spec["model"]
    if model.get("type") != "BPE" or model.get("dropout") is not None or model.get("byte_fallback"):
        raise refuse("its model is not a plain BPE")
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        raise refuse("its BPE has a subword prefix or suffix")
    vocab, merges, added = model.get("vocab"), model.get("merges"), spec.get("added_tokens") or []
    if not isinstance(vocab, dict) or not isinstance(merges, list) or not isinstance(added, list):
        raise refuse("no vocabulary or merges")
    ids = [*vocab.values(), *(token.get("id") if isinstance(token, dict) else None for token in added)]
    if not all(isinstance(i, int) and 0 <= i < vocab_size for i in ids) or len(merges) > vocab_size:
        raise refuse(f"ids or merges beyond the model's {vocab_size} tokens")
    missing = set(pre_tokenizers.ByteLevel.alphabet()) - set(vocab)
    if missing:
        raise refuse(f"{len(missing)} of the 256 byte symbols have no token")


if __name__ == "__main__":  # publishing lives in aigc.publish; `python -m aigc.hub push FOLDER REPO` still works
    from aigc.publish import main

    main()

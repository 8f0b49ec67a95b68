"""Name, Hub repo id or folder -> a loaded model.

Every model is stored the way ``PyTorchModelHubMixin`` writes it: ``config.json``
(the config dataclass, whose ``model_type`` names the class) and
``model.safetensors``; a GPT with a BPE tokenizer also has ``tokenizer.json``.
GPT-2 repos in the ``transformers`` format (model_type "gpt2", such as
openai-community/gpt2) are read into our GPT.  Weights are never unpickled.
Hub repos go through huggingface_hub's own download and cache code, so
``HF_HUB_OFFLINE``, ``HF_ENDPOINT``, ``HF_HOME`` and revisions work as they do
everywhere else.
"""

import json
import logging
import os
import re
from pathlib import Path

import torch
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from safetensors import SafetensorError

from aigc.models import MODEL_CLASSES, TRANSFORMERS_TYPES
from aigc.models.gpt2 import MODEL_TYPE as GPT2, TOKENIZER_FILE, BPETokenizer, from_transformers

# the bundled models; $AIGC_WEIGHTS_DIR points the package (and the app) at another folder of the same shape
WEIGHTS_DIR = Path(os.environ.get("AIGC_WEIGHTS_DIR") or Path(__file__).resolve().parent.parent / "weights")
REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says which and why."""


def default_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else $AIGC_DEVICE, else CUDA where there is one, else the CPU."""
    device = device or os.environ.get("AIGC_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def list_models() -> list[str]:
    """Names of the bundled models (folders of ``weights/``)."""
    return sorted(p.parent.name for p in WEIGHTS_DIR.glob("*/config.json"))


def model_type(name_or_path: str, revision: str | None = None) -> str:
    """The ``model_type`` of a model's config ("gpt" for GPT-2), without loading its weights."""
    return family(read_config(locate(name_or_path, revision, weights=False)))


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

    ``model_types`` restricts what is accepted (e.g. ``("dcgan", "mlp-gan")``).
    Raises ModelLoadError naming the model and what is wrong with it.
    """
    folder = locate(name_or_path, revision)
    config = read_config(folder)
    kind = family(config)
    if kind not in MODEL_CLASSES:
        known = ", ".join([*MODEL_CLASSES, *TRANSFORMERS_TYPES])
        raise ModelLoadError(f"{name_or_path}: config.json has model_type {kind!r}; known: {known}")
    if model_types is not None and kind not in model_types:
        raise ModelLoadError(f"{name_or_path} is a {kind} model, not one of: {', '.join(model_types)}")
    device = default_device(device)
    try:
        if config["model_type"] == GPT2:
            model = from_transformers(folder)
        else:
            model = MODEL_CLASSES[kind].from_pretrained(str(folder), map_location=str(device), strict=True)
            if TOKENIZER_FILE in model_files(config):
                model.tokenizer = BPETokenizer(folder / TOKENIZER_FILE)
    except SafetensorError as e:
        raise ModelLoadError(f"{name_or_path}: model.safetensors is corrupt ({e})") from e
    except (TypeError, ValueError) as e:
        raise ModelLoadError(f"{name_or_path}: config.json is invalid ({e})") from e
    except RuntimeError as e:  # load_state_dict: missing, unexpected or mis-shaped tensors
        first_lines = "; ".join(str(e).splitlines()[:3])
        raise ModelLoadError(f"{name_or_path}: config.json does not match the weights ({first_lines})") from e
    except OSError as e:  # tokenizer.json
        raise ModelLoadError(f"{name_or_path}: {e}") from e
    model.name = name_or_path
    log.info("loaded %s (%s) on %s", name_or_path, kind, device)
    return model.to(device).eval()


def locate(name_or_path: str, revision: str | None = None, weights: bool = True) -> Path:
    """The local folder that holds the model's files, downloading them from the Hub if need be."""
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise ModelLoadError("no model name given")
    if name_or_path in list_models():
        folder = WEIGHTS_DIR / name_or_path
    elif Path(name_or_path).is_dir():
        folder = Path(name_or_path)
    elif REPO_ID.match(name_or_path):
        return download(name_or_path, revision, weights)
    else:
        raise ModelLoadError(
            f"unknown model {name_or_path!r}: not a bundled model ({', '.join(list_models())}), "
            "not a folder, and not a Hub repo id (owner/name)"
        )
    for filename in ("config.json", "model.safetensors") if weights else ("config.json",):
        if not (folder / filename).is_file():
            raise ModelLoadError(f"{name_or_path}: {folder / filename} is missing")
    return folder


def download(repo_id: str, revision: str | None, weights: bool = True) -> Path:
    """Fetch config.json of a Hub repo (and the other files it calls for) through the Hub cache."""
    folder = fetch(repo_id, "config.json", revision)
    for filename in model_files(read_config(folder))[1:] if weights else ():
        fetch(repo_id, filename, revision)
    return folder


def fetch(repo_id: str, filename: str, revision: str | None) -> Path:
    """One file of a Hub repo -> the folder of the cached snapshot that holds it."""
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision)).parent
    except RepositoryNotFoundError as e:
        raise ModelLoadError(f"Hub repo {repo_id} was not found (or is private)") from e
    except RevisionNotFoundError as e:
        raise ModelLoadError(f"Hub repo {repo_id} has no revision {revision!r}") from e
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as e:  # before EntryNotFoundError, its parent
        raise ModelLoadError(
            f"Hub repo {repo_id}: {filename} is not in the local cache and the Hub cannot be reached"
            " (offline, or HF_HUB_OFFLINE=1)"
        ) from e
    except EntryNotFoundError as e:
        raise ModelLoadError(f"Hub repo {repo_id} has no {filename} (is it an aigc model?)") from e
    except (HfHubHTTPError, OSError) as e:
        raise ModelLoadError(f"Hub repo {repo_id}: download of {filename} failed ({e})") from e


def read_config(folder: Path) -> dict:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelLoadError(f"{folder / 'config.json'} is not readable JSON ({e})") from e
    if not isinstance(config, dict):
        raise ModelLoadError(f"{folder / 'config.json'} is not a JSON object")
    return config


if __name__ == "__main__":  # publishing lives in aigc.publish; `python -m aigc.hub push FOLDER REPO` still works
    from aigc.publish import main

    main()

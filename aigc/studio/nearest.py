"""Is a picture new, or a copy of a training image?  Its nearest training images, and a verdict.

The picture is placed in the feature space of the classifier of the model's
dataset and compared with the index of that dataset's training images
(:mod:`aigc.nearest`).  Its distance to the nearest one is judged against how
far real held-out test images are from theirs: much closer than they ever are
means a likely copy; about as far means as new as an unseen real picture.

Where the training images are not on the server (a Space has none), their
numbers, classes and distances are still given, and the pictures shown are the
nearest of the held-out test pictures it keeps, marked as such.
"""

import functools
import logging
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from aigc.data import CLASS_NAMES, DATASETS, HeldOut, held_out, is_prepared, load_pixels
from aigc.hub import ModelLoadError
from aigc.images import to_pil
from aigc.nearest import Index, build_command, index_of, search, training_set_sha256
from aigc.studio import InputError, integer
from aigc.studio.models import GAN_TYPES, dataset_of, registry
from aigc.studio.uploads import read_image, to_model_input
from aigc.studio.vae import DEFAULT_MARGIN, MARGIN

MIN_K, MAX_K, DEFAULT_K = 1, 20, 5
IMAGE_KINDS = (*GAN_TYPES, "vae", "classifier")
SCALE = 4  # 28 px -> 112 px neighbours; a whole-pixel enlargement, so they can be looked up in turn
COPY_DISTANCE = 0.01  # times the median test distance: closer than this is the same picture
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Neighbours:
    """The k nearest training images of one picture, nearest first."""

    dataset: str
    indices: list[int]  # positions in the training split
    distances: list[float]
    classes: list[str]
    pictures: list[Image.Image]  # empty where the training images are not available here
    held_out: list[tuple[Image.Image, str]]  # where they are not: the nearest held-out pictures kept here, captioned
    typical: float  # median distance of a held-out test image to its nearest training image
    typical_close: float  # the 5th percentile of that distance
    verdict: str
    note: str  # why the pictures are missing, or ""

    @property
    def captions(self) -> list[str]:
        """Each "distance · #number class": the distance first, as a narrow gallery cuts captions short."""
        return [f"{d:.2f} · #{i} {name}" for i, name, d in zip(self.indices, self.classes, self.distances)]

    @property
    def gallery(self) -> list[tuple[Image.Image, str]]:
        """The pictures to show, captioned: the training images, else the nearest held-out pictures."""
        return list(zip(self.pictures, self.captions)) if self.pictures else self.held_out

    @property
    def summary(self) -> str:
        """The verdict and the figures behind it, in Markdown; the neighbours are listed where no pictures are."""
        lines = [f"**{self.verdict}**",
                 f"Distance to the nearest training image: **{self.distances[0]:.2f}**. A real "
                 f"{dataset_label(self.dataset)} test image is typically {self.typical:.2f} from its nearest "
                 f"training image (5% are within {self.typical_close:.2f}); distances are between the classifier's "
                 "features."]
        if self.note:
            lines += [self.note, "Nearest (distance · #number class): " + "; ".join(self.captions)]
        return "\n\n".join(lines)


def dataset_for(model: str) -> str:
    """The dataset whose training images a model's pictures are compared with; InputError for a text model."""
    if isinstance(model, str) and registry().kinds.get(model) == "gpt":
        raise InputError(f"{model} is a text model; nearest training images are found for image models: "
                         f"{', '.join(registry().names(*IMAGE_KINDS))}")
    dataset = dataset_of(registry().get(model, *IMAGE_KINDS))
    if dataset is None:
        raise InputError(f"{model}'s classes match none of the datasets with an index of training images")
    return dataset


def classifier_of(dataset: str) -> torch.nn.Module:
    return registry().get(f"classifier-{dataset}", "classifier")


def whole_pixels(picture: Image.Image, size: int) -> torch.Tensor | None:
    """A size×size picture enlarged by whole pixels (the app's pictures, the datasets' own) -> [1, size, size],
    pixel for pixel; None for any other picture."""
    if picture.mode not in ("L", "RGB") or picture.width != picture.height or picture.width % size:
        return None
    scale = picture.width // size
    blocks = np.asarray(picture.convert("L")).reshape(size, scale, size, scale)
    if not (blocks == blocks[:, :1, :, :1]).all():
        return None
    return torch.from_numpy(blocks[:, 0, :, 0] / 255).float()[None]


def model_input(image, dataset: str, size: int) -> torch.Tensor:
    """Any picture -> the classifier's input [1, size, size].

    A picture the app made is read exactly, so that a training image finds itself at distance 0; any other
    upload is converted the way the VAE tab converts it: gray, light on dark, framed like the dataset.
    """
    picture = read_image(image, "image")
    exact = whole_pixels(picture, size)
    return exact if exact is not None else to_model_input(picture, "image", size, MARGIN.get(dataset, DEFAULT_MARGIN))


@torch.inference_mode()
def features(dataset: str, x: torch.Tensor) -> torch.Tensor:
    """[N, 1, 28, 28] -> the features of the dataset's classifier, on the CPU."""
    return classifier_of(dataset).features(x).cpu()


@functools.lru_cache(maxsize=None)
def training_images(dataset: str, expected_sha256: str) -> np.ndarray | str:
    """The training images an index was built from (uint8 [N, 28, 28]), or why they cannot be shown here."""
    label = dataset_label(dataset)
    try:
        if training_set_sha256(dataset) != expected_sha256:
            log.warning("the %s training images here differ from those the index was built from; `%s` rebuilds it",
                        dataset, build_command(dataset))
            return (f"The {label} training pictures on this server are not the ones the index was made from, so "
                    "they are not shown; their numbers, classes and distances are.")
        return load_pixels(dataset, "train")[0]
    except (OSError, ValueError) as e:
        log.info("no %s training images to show beside their nearest: %s", dataset, e)
        return (f"The {label} training pictures are not kept on this server, so they are not shown; their numbers, "
                "classes and distances are.")


def training_images_kept() -> bool:
    """Whether this server keeps the training images of every dataset (checked without reading them)."""
    return all(is_prepared(dataset, "train") for dataset in DATASETS)


@functools.lru_cache(maxsize=None)
def held_out_features(images: HeldOut) -> torch.Tensor:
    """The classifier's features of the held-out pictures kept here, worked out once: [N, D]."""
    return torch.cat([features(images.dataset, batch) for batch in images.images.split(500)])


def nearest_held_out(dataset: str, query: torch.Tensor, k: int) -> list[tuple[Image.Image, str]]:
    """The k held-out pictures nearest to the query's features, enlarged and captioned "distance · test #n class"."""
    images = held_out(dataset)
    distances, positions = (row.tolist() for row in (t[0] for t in search(held_out_features(images), query, k)))
    return [(to_pil(images.images[p], SCALE),
             f"{d:.2f} · test #{int(images.indices[p])} {CLASS_NAMES[dataset][int(images.labels[p])]}")
            for p, d in zip(positions, distances)]


def verdict(index: Index, distance: float, nearest: int) -> str:
    """One sentence: how the distance to the nearest training image compares with real unseen pictures'."""
    closer = index.share_of_test_images_closer(distance)
    typical = index.typical_distance()
    if distance < COPY_DISTANCE * typical:
        return f"Identical to training image #{nearest}: a copy."
    if closer < 0.01:
        return (f"Closer to training image #{nearest} than 99% of real test images are to their nearest training "
                "image: it may be a copy.")
    if closer < 0.05:
        return (f"Closer to training image #{nearest} than {1 - closer:.0%} of real test images are to their nearest "
                "training image: unusually close, compare the two.")
    if closer <= 0.95:
        return "About as far from the training set as a typical new picture: not a copy."
    return (f"Farther from the training set than {closer:.0%} of real test images: new, or unlike the "
            f"{dataset_label(index.dataset)} pictures altogether.")


def dataset_label(dataset: str) -> str:
    return {"fashion": "Fashion-MNIST", "mnist": "MNIST"}.get(dataset, dataset)


def nearest(model: str, image, k=DEFAULT_K) -> Neighbours:
    """The k (1 to 20) training images nearest to a picture in the feature space of the classifier of the
    model's dataset (model: a GAN, VAE or classifier name), with their distances and a verdict."""
    k = integer(k, "k", MIN_K, MAX_K, DEFAULT_K)
    dataset = dataset_for(model)
    try:
        index = index_of(dataset)
    except ModelLoadError as e:
        log.error("no index of the %s training images: %s", dataset, e)
        raise InputError(f"The {dataset_label(dataset)} training pictures cannot be searched on this server: "
                         "their index is missing") from None
    query = features(dataset, model_input(image, dataset, classifier_of(dataset).config.image_size)[None])
    distances, indices = (row.tolist() for row in (t[0] for t in index.search(query, k)))
    images = training_images(dataset, index.training_set_sha256)
    stand_ins = nearest_held_out(dataset, query, k) if isinstance(images, str) else []
    if stand_ins:
        images += (f" The pictures shown, for comparison, are the nearest of the {held_out(dataset).description}: "
                   "held-out pictures, not training pictures.")
    return Neighbours(
        dataset=dataset,
        indices=indices,
        distances=distances,
        classes=[CLASS_NAMES[dataset][index.labels[i]] for i in indices],
        pictures=[] if isinstance(images, str) else [to_pil(torch.tensor(images[i])[None] / 255, SCALE)
                                                     for i in indices],
        held_out=stand_ins,
        typical=index.typical_distance(),
        typical_close=index.typical_distance(5),
        verdict=verdict(index, distances[0], indices[0]),
        note=images if isinstance(images, str) else "",
    )

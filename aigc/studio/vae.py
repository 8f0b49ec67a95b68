"""The VAE tab: encode two pictures, walk the latent space between their codes, decode every step.

The walk goes from the mean code of A to that of B (straight, or along the
great circle with slerp), and all the frames are decoded in one batch, so the
first and last frames are the VAE's reconstructions of A and B.  Samples from the
prior (N(0, T²I), or a Gaussian a class) show what the decoder makes of codes that
no picture gave.
The maps of the latent space are in :mod:`aigc.studio.latent_map`.

A picture is an upload or a drawing (a file, a PIL image or an array), re-framed
the way the dataset's pictures are framed; or a :class:`DatasetPicture`, a test
picture picked by name, which the model gets as its dataset tensor, bit for bit.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from aigc.data import CLASS_NAMES, DATASETS, held_out
from aigc.images import make_grid, save_gif, to_pil
from aigc.latent import INTERPOLATIONS
from aigc.studio import MAX_SEED, InputError, integer, number, output_file, shown
from aigc.studio.models import dataset_of, registry
from aigc.studio.uploads import read_image, to_model_input

MIN_STEPS, MAX_STEPS, DEFAULT_STEPS = 2, 64, 10
SCALE = 8  # 28 px -> 224 px frames
FRAME_MS = 80
MARGIN = {"mnist": 4, "fashion": 0}  # MNIST digits sit in a 20 px box; Fashion-MNIST items fill the frame
DEFAULT_MARGIN = 2
MIN_SAMPLES, MAX_SAMPLES, DEFAULT_SAMPLES = 1, 64, 16
MAX_TEMPERATURE, DEFAULT_TEMPERATURE = 2.0, 1.0
SAMPLE_SCALE = 4  # 28 px -> 112 px a sample in the grid


def vae_models() -> list[str]:
    return registry().names("vae")


@dataclass(frozen=True)
class DatasetPicture:
    """A test picture by name, "mnist:3": image number 3 (counting from 0) of the MNIST test split."""

    dataset: str
    index: int

    def __str__(self) -> str:
        return f"{self.dataset}:{self.index}"

    def tensor(self) -> torch.Tensor:
        """The image as the dataset holds it: float [1, 28, 28] in [0, 1]."""
        images = held_out(self.dataset)
        return images.images[self.position(images)]

    def class_name(self) -> str:
        """What the picture shows, as its dataset names it: "3", "Dress"."""
        images = held_out(self.dataset)
        return CLASS_NAMES[self.dataset][int(images.labels[self.position(images)])]

    def position(self, images) -> int:
        position = images.position(self.index)
        if position is None:
            raise InputError(f"Test picture {self} is not among the {images.description} of this server; "
                             "pick one from the gallery")
        return position


def dataset_picture(source) -> DatasetPicture:
    """"dataset:index" -> that test picture; InputError if it names none."""
    dataset, _, index = str(source).partition(":")
    if dataset not in DATASETS:
        raise InputError(f"{shown(source)} names no test picture; they look like mnist:3 or fashion:120")
    picture = DatasetPicture(dataset, integer(index, "test picture", 0, 10**9, 0))
    picture.tensor()
    return picture


@functools.lru_cache(maxsize=None)
def example_indices(dataset: str | None) -> tuple[int, ...]:
    """Test-split numbers of the first image of every class, for people with no picture at hand.

    The same whether the whole test split is here or only the shipped examples (the first ones of each class).
    """
    if dataset is None:
        return ()
    images = held_out(dataset)
    return tuple(int(images.indices[(images.labels == c).nonzero()[0]]) for c in images.labels.unique().tolist())


def example_sources(model: str) -> list[str]:
    """The examples for a VAE's dataset, named as share links name test pictures: "mnist:3"."""
    dataset = dataset_of(registry().get(model, "vae"))
    return [f"{dataset}:{index}" for index in example_indices(dataset)]


def example_pictures(model: str) -> list[Image.Image]:
    """The examples for a VAE's dataset, upscaled for display."""
    return [held_out_picture(source) for source in example_sources(model)]


def example_classes(model: str) -> list[str]:
    """What each example shows ("3", "Dress"): its caption, which is also its text for screen readers."""
    return [dataset_picture(source).class_name() for source in example_sources(model)]


def example_source(model: str, position) -> str:
    """The name of the example at ``position`` in the gallery."""
    sources = example_sources(model)
    if not sources:
        raise InputError(f"{model} was trained on pictures of no known dataset, so it has no example pictures")
    return sources[integer(position, "example", 0, len(sources) - 1, 0)]


def held_out_picture(source) -> Image.Image:
    """"dataset:index" -> that test image, upscaled like the frames."""
    return to_pil(dataset_picture(source).tensor(), SCALE)


def fed_picture(image, source):
    """What the model is fed for a picture on the page: the test picture ``source`` names while ``image`` (a file)
    still shows it, else ``image`` itself (an upload or drawing, which replaced a picked picture)."""
    if not source or image is None:
        return image
    try:
        picture = dataset_picture(source)
        shown_pixels = np.asarray(read_image(image).convert("L"))
    except InputError:
        return image
    return picture if np.array_equal(shown_pixels, np.asarray(held_out_picture(picture))) else image


def model_input(vae: torch.nn.Module, image, what: str) -> torch.Tensor:
    """Any picture -> this VAE's input [1, 28, 28]: a test picture as it is, others framed as the dataset's are."""
    if isinstance(image, DatasetPicture):
        return image.tensor()
    return to_model_input(image, what, vae.config.image_size, MARGIN.get(dataset_of(vae), DEFAULT_MARGIN))


def as_the_model_sees_it(model: str, image, what: str = "image") -> Image.Image:
    """The picture after conversion (gray, 28×28, centred, light on dark), upscaled like the frames."""
    return to_pil(model_input(registry().get(model, "vae"), image, what), SCALE)


def encode_pair(model: str, image_a, image_b) -> tuple[torch.nn.Module, torch.Tensor]:
    """Both pictures as model inputs -> (vae, x [2, 1, 28, 28])."""
    vae = registry().get(model, "vae")
    return vae, torch.stack([model_input(vae, image_a, "Image A"), model_input(vae, image_b, "Image B")])


@torch.inference_mode()
def latent_path(model: str, image_a, image_b, steps=DEFAULT_STEPS, mode="lerp") -> tuple[torch.nn.Module, torch.Tensor]:
    """-> (vae, the codes of the frames [steps, latent_dim]: A's mean code to B's); steps is clamped to [2, 64]."""
    if not isinstance(mode, str) or mode not in INTERPOLATIONS:
        raise InputError(f"Unknown mode {shown(mode)}; choose one of: {', '.join(INTERPOLATIONS)}")
    steps = integer(steps, "steps", MIN_STEPS, MAX_STEPS, DEFAULT_STEPS)
    vae, x = encode_pair(model, image_a, image_b)
    mu, _ = vae.encode(x)
    return vae, INTERPOLATIONS[mode](mu[0], mu[1], torch.linspace(0, 1, steps, device=mu.device))


def shared_state(model: str, source_a, source_b, steps=DEFAULT_STEPS, mode="lerp") -> dict:
    """The fields of a share link: both pictures as test-set names (uploads and drawings cannot travel)."""
    registry().get(model, "vae")
    for side, source in (("A", source_a), ("B", source_b)):
        if not source:
            raise InputError(f"Image {side} is an upload or a drawing: a link can only name test pictures. "
                             "Pick it from the gallery to share it")
        held_out_picture(source)
    if not isinstance(mode, str) or mode not in INTERPOLATIONS:
        raise InputError(f"Unknown mode {shown(mode)}; choose one of: {', '.join(INTERPOLATIONS)}")
    return {"model": model, "a": source_a, "b": source_b,
            "steps": integer(steps, "steps", MIN_STEPS, MAX_STEPS, DEFAULT_STEPS), "mode": mode}


def state_from_link(fields: dict[str, str]) -> dict:
    """A share link's text fields -> the checked state, with the two pictures."""
    state = shared_state(fields.get("model") or "vae-mnist", fields.get("a"), fields.get("b"), fields.get("steps"),
                         fields.get("mode") or "lerp")
    return {**state, "picture_a": held_out_picture(state["a"]), "picture_b": held_out_picture(state["b"])}


def path_codes(model: str, image_a, image_b, steps=DEFAULT_STEPS, mode="lerp") -> torch.Tensor:
    """The codes of the frames, on the CPU: [steps, latent_dim] (to draw the path on a map)."""
    return latent_path(model, image_a, image_b, steps, mode)[1].cpu()


@torch.inference_mode()
def interpolate_tensors(model: str, image_a, image_b, steps=DEFAULT_STEPS, mode="lerp") -> torch.Tensor:
    """-> frames float [steps, 1, 28, 28] in [0, 1]; steps is clamped to [2, 64]."""
    vae, path = latent_path(model, image_a, image_b, steps, mode)
    return vae.decode(path).cpu()


def interpolate(model: str, image_a, image_b, steps=DEFAULT_STEPS, mode="lerp") -> tuple[list[Image.Image], str]:
    """-> (frames upscaled to 224 px, path of a looping GIF that plays them forth and back)."""
    frames = [to_pil(frame, SCALE) for frame in interpolate_tensors(model, image_a, image_b, steps, mode)]
    return frames, str(save_gif(frames, output_file(".gif"), FRAME_MS, ping_pong=True))


def frame_captions(count: int) -> list[str]:
    """"Frame k of n" for each frame of a walk: the caption of each, and its text for screen readers."""
    return [f"Frame {k} of {count}" for k in range(1, count + 1)]


@torch.inference_mode()
def reconstruction_tensors(model: str, image_a, image_b) -> torch.Tensor:
    """What the VAE makes of A and B: decode(mean code), float [2, 1, 28, 28]; its blur is the VAE's."""
    vae, x = encode_pair(model, image_a, image_b)
    return vae.decode(vae.encode(x)[0]).cpu()


def reconstructions(model: str, image_a, image_b) -> tuple[Image.Image, Image.Image]:
    """-> the reconstructions of A and B, upscaled like the frames."""
    a, b = reconstruction_tensors(model, image_a, image_b)
    return to_pil(a, SCALE), to_pil(b, SCALE)


@torch.inference_mode()
def sample_tensors(model: str, count=DEFAULT_SAMPLES, temperature=DEFAULT_TEMPERATURE, seed=0) -> torch.Tensor:
    """Samples from the prior (N(0, T²I), or each class's Gaussian with its spread scaled by T), decoded:
    float [count, 1, 28, 28].

    count is clamped to [1, 64], temperature to [0, 2] and seed to [0, 2³¹ - 1]; the same seed gives
    the same codes at every temperature (scaled), and temperature 0 decodes the prior's centres.
    """
    count = integer(count, "count", MIN_SAMPLES, MAX_SAMPLES, DEFAULT_SAMPLES)
    temperature = number(temperature, "temperature", 0.0, MAX_TEMPERATURE, DEFAULT_TEMPERATURE)
    seed = integer(seed, "seed", 0, MAX_SEED, 0)
    vae = registry().get(model, "vae")
    return vae.decode(vae.sample_latents(count, torch.Generator().manual_seed(seed), temperature)).cpu()


def sample(model: str, count=DEFAULT_SAMPLES, temperature=DEFAULT_TEMPERATURE, seed=0) -> Image.Image:
    """The samples as one grid picture, as square as their count allows."""
    samples = sample_tensors(model, count, temperature, seed)
    columns = math.ceil(math.sqrt(len(samples)))
    return to_pil(make_grid(samples, columns, padding=2, pad_value=0.25), SAMPLE_SCALE)

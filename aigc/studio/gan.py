"""The GAN tab: one picture from a seed, a class, the truncation trick and eight latent directions.

The directions are SeFa's (Shen & Zhou, 2021): the latent directions the
generator's first layer responds to most, strongest first, found in closed form
from its weights once per model.  A slider value is a distance along a unit
direction, in standard deviations of the prior.
"""

import functools

import torch
from PIL import Image

from aigc.images import save_gif, to_pil
from aigc.latent import sefa_directions, truncate
from aigc.studio import MAX_SEED, InputError, gpu, integer, number, output_file
from aigc.studio.models import GAN_TYPES, registry

NUM_DIRECTIONS = 8
MAX_OFFSET = 3.0
DEFAULT_TRUNCATION = 0.7
SCALE = 10  # 28 px -> 280 px, nearest neighbour
MIN_FRAMES, MAX_FRAMES, DEFAULT_FRAMES = 3, 61, 25
FRAME_MS = 60


def gan_models() -> list[str]:
    return registry().names(*GAN_TYPES)


def class_names(model: str) -> list[str]:
    """The class names a GAN can be asked for ([] for an unconditional one)."""
    gan = registry().get(model, *GAN_TYPES)
    return list(gan.config.class_names) or [str(i) for i in range(gan.config.num_classes)]


@functools.lru_cache(maxsize=None)
def directions(model: str) -> torch.Tensor:
    """[NUM_DIRECTIONS, latent_dim] unit SeFa directions; rows beyond latent_dim are zero."""
    gan = registry().get(model, *GAN_TYPES)
    found, _ = sefa_directions(gan, min(NUM_DIRECTIONS, gan.config.latent_dim))
    padded = torch.zeros(NUM_DIRECTIONS, gan.config.latent_dim)
    padded[: len(found)] = found
    return padded


def label_index(gan, label) -> int | None:
    """A class given by name ("Sneaker") or index (7, "7") -> its index; None for an unconditional GAN."""
    num_classes = gan.config.num_classes
    if not num_classes:
        return None
    if label is None or label == "":
        return 0
    names = list(gan.config.class_names)
    by_name = {name.lower(): i for i, name in enumerate(names)}
    text = str(label).strip()
    if text.lower() in by_name:
        return by_name[text.lower()]
    try:
        index = int(float(text))
    except ValueError:
        index = -1
    if 0 <= index < num_classes:
        return index
    raise InputError(f"Unknown class {label!r}; choose one of: {', '.join(names) or f'0 to {num_classes - 1}'}")


def latent_point(model: str, label, seed, truncation, offsets
                 ) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor | None]:
    """Check and clamp the inputs -> (generator, z [1, latent_dim], label [1] or None).

    z is the seed's draw from the prior, pulled toward its mean by ``truncation``
    (ψ; 0 gives the mean, the same picture for every seed), then moved along each
    direction by its offset.
    """
    gan = registry().get(model, *GAN_TYPES)
    seed = integer(seed, "seed", 0, MAX_SEED, 0)
    psi = number(truncation, "truncation", 0.0, 1.0, DEFAULT_TRUNCATION)
    offsets = list(offsets)
    if len(offsets) != NUM_DIRECTIONS:
        raise InputError(f"Expected {NUM_DIRECTIONS} direction offsets, got {len(offsets)}")
    offsets = torch.tensor([number(value, f"direction {i}", -MAX_OFFSET, MAX_OFFSET, 0.0)
                            for i, value in enumerate(offsets, start=1)])
    z = torch.randn(1, gan.config.latent_dim, generator=torch.Generator().manual_seed(seed))
    z = truncate(z, psi) + offsets @ directions(model)
    index = label_index(gan, label)
    return gan, z, None if index is None else torch.tensor([index])


@gpu
def generate(model: str, label=None, seed=0, truncation=DEFAULT_TRUNCATION,
             offsets=(0.0,) * NUM_DIRECTIONS) -> Image.Image:
    """One picture, upscaled to 280 px with crisp pixels."""
    gan, z, labels = latent_point(model, label, seed, truncation, offsets)
    return to_pil(gan.generate(z, labels)[0], SCALE)


@gpu
def sweep_frames(model: str, label=None, seed=0, truncation=DEFAULT_TRUNCATION, direction=1,
                 frames=DEFAULT_FRAMES) -> list[Image.Image]:
    """Pictures along one direction (1-based, as the sliders are numbered) from -3 to +3, in one batch.

    The number of frames is made odd so that the middle frame is offset 0: the
    picture :func:`generate` gives at this point with every slider at 0.
    """
    direction = integer(direction, "direction", 1, NUM_DIRECTIONS, 1)
    count = integer(frames, "frames", MIN_FRAMES, MAX_FRAMES, DEFAULT_FRAMES) | 1
    gan, z, labels = latent_point(model, label, seed, truncation, [0.0] * NUM_DIRECTIONS)
    steps = torch.linspace(-MAX_OFFSET, MAX_OFFSET, count)[:, None]
    path = z + steps * directions(model)[direction - 1]
    images = gan.generate(path, None if labels is None else labels.expand(count))
    return [to_pil(image, SCALE) for image in images]


def sweep(model: str, label=None, seed=0, truncation=DEFAULT_TRUNCATION, direction=1, frames=DEFAULT_FRAMES) -> str:
    """:func:`sweep_frames` as a looping animated GIF (forth and back) -> its path."""
    pictures = sweep_frames(model, label, seed, truncation, direction, frames)
    return str(save_gif(pictures, output_file(".gif"), FRAME_MS, ping_pong=True))

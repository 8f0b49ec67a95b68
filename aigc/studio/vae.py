"""The VAE tab: encode two pictures, walk the latent space between their codes, decode every step.

The walk goes from the mean code of A to that of B (straight, or along the
great circle with slerp), and all the frames are decoded in one batch, so the
first and last frames are the VAE's reconstructions of A and B.
"""

import functools

import torch
from PIL import Image

from aigc.data import load_images
from aigc.images import save_gif, to_pil
from aigc.latent import INTERPOLATIONS
from aigc.studio import InputError, gpu, integer, output_file
from aigc.studio.models import dataset_of, registry
from aigc.studio.uploads import to_model_input

MIN_STEPS, MAX_STEPS, DEFAULT_STEPS = 2, 64, 10
SCALE = 8  # 28 px -> 224 px frames
FRAME_MS = 80
MARGIN = {"mnist": 4, "fashion": 0}  # MNIST digits sit in a 20 px box; Fashion-MNIST items fill the frame
DEFAULT_MARGIN = 2


def vae_models() -> list[str]:
    return registry().names("vae")


@functools.lru_cache(maxsize=None)
def examples(dataset: str | None) -> tuple[torch.Tensor, ...]:
    """The first test image of every class, for people with no picture at hand; () without the data."""
    if dataset is None:
        return ()
    try:
        images, labels = load_images(dataset, "test")
    except (FileNotFoundError, ValueError):
        return ()
    firsts = [int((labels == c).nonzero()[0]) for c in labels.unique(sorted=True).tolist()]
    return tuple(images[i] for i in firsts)


def example_pictures(model: str) -> list[Image.Image]:
    """The examples for a VAE's dataset, upscaled for display."""
    return [to_pil(image, SCALE) for image in examples(dataset_of(registry().get(model, "vae")))]


def example_picture(model: str, index) -> Image.Image:
    pictures = example_pictures(model)
    if not pictures:
        raise InputError("No example images: the test data is not prepared (python -m aigc.data prepare)")
    return pictures[integer(index, "example", 0, len(pictures) - 1, 0)]


def encode_pair(model: str, image_a, image_b) -> tuple[torch.nn.Module, torch.Tensor]:
    """Both pictures as model inputs -> (vae, x [2, 1, 28, 28])."""
    vae = registry().get(model, "vae")
    margin = MARGIN.get(dataset_of(vae), DEFAULT_MARGIN)
    size = vae.config.image_size
    pair = [to_model_input(image_a, "Image A", size, margin), to_model_input(image_b, "Image B", size, margin)]
    return vae, torch.stack(pair)


@gpu
@torch.inference_mode()
def interpolate_tensors(model: str, image_a, image_b, steps=DEFAULT_STEPS, mode="lerp") -> torch.Tensor:
    """-> frames float [steps, 1, 28, 28] in [0, 1]; steps is clamped to [2, 64]."""
    if mode not in INTERPOLATIONS:
        raise InputError(f"Unknown mode {mode!r}; choose one of: {', '.join(INTERPOLATIONS)}")
    steps = integer(steps, "steps", MIN_STEPS, MAX_STEPS, DEFAULT_STEPS)
    vae, x = encode_pair(model, image_a, image_b)
    mu, _ = vae.encode(x)
    path = INTERPOLATIONS[mode](mu[0], mu[1], torch.linspace(0, 1, steps, device=mu.device))
    return vae.decode(path)


def interpolate(model: str, image_a, image_b, steps=DEFAULT_STEPS, mode="lerp") -> tuple[list[Image.Image], str]:
    """-> (frames upscaled to 224 px, path of a looping GIF that plays them forth and back)."""
    frames = [to_pil(frame, SCALE) for frame in interpolate_tensors(model, image_a, image_b, steps, mode)]
    return frames, str(save_gif(frames, output_file(".gif"), FRAME_MS, ping_pong=True))

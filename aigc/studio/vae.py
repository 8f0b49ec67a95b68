"""The VAE tab: encode two pictures, walk the latent space between their codes, decode every step.

The walk goes from the mean code of A to that of B (straight, or along the
great circle with slerp), and all the frames are decoded in one batch, so the
first and last frames are the VAE's reconstructions of A and B.  Samples from the
prior, z ~ N(0, T²I), show what the decoder makes of codes that no picture gave.
The maps of the latent space are in :mod:`aigc.studio.latent_map`.
"""

import functools
import math

import torch
from PIL import Image

from aigc.data import load_images
from aigc.images import make_grid, save_gif, to_pil
from aigc.latent import INTERPOLATIONS
from aigc.studio import MAX_SEED, InputError, integer, number, output_file, shown
from aigc.studio.models import dataset_of, registry
from aigc.studio.uploads import to_model_input

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


@functools.lru_cache(maxsize=None)
def example_indices(dataset: str | None) -> tuple[int, ...]:
    """Test-set indices of the first image of every class, for people with no picture at hand; () without the data."""
    if dataset is None:
        return ()
    try:
        _, labels = load_images(dataset, "test")
    except (FileNotFoundError, ValueError):
        return ()
    return tuple(int((labels == c).nonzero()[0]) for c in labels.unique(sorted=True).tolist())


def example_sources(model: str) -> list[str]:
    """The examples for a VAE's dataset, named as share links name test pictures: "mnist:3"."""
    dataset = dataset_of(registry().get(model, "vae"))
    return [f"{dataset}:{index}" for index in example_indices(dataset)]


def example_pictures(model: str) -> list[Image.Image]:
    """The examples for a VAE's dataset, upscaled for display."""
    return [held_out_picture(source) for source in example_sources(model)]


def example_source(model: str, position) -> str:
    """The name of the example at ``position`` in the gallery."""
    sources = example_sources(model)
    if not sources:
        raise InputError("No example images: the test data is not prepared (python -m aigc.data prepare)")
    return sources[integer(position, "example", 0, len(sources) - 1, 0)]


def held_out_picture(source) -> Image.Image:
    """"dataset:index" -> that test image, upscaled like the frames."""
    dataset, _, index = str(source).partition(":")
    try:
        images, _ = load_images(dataset, "test")
    except ValueError:
        raise InputError(f"{shown(source)} names no test picture; they look like mnist:3 or fashion:120") from None
    except FileNotFoundError:
        raise InputError(f"The {dataset} test pictures are not available here (python -m aigc.data prepare)") from None
    return to_pil(images[integer(index, "test picture", 0, len(images) - 1, 0)], SCALE)


def model_input(vae: torch.nn.Module, image, what: str) -> torch.Tensor:
    """Any picture -> this VAE's input [1, 28, 28], framed the way its dataset's pictures are."""
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
    """Samples from the prior, z ~ N(0, T²I), decoded: float [count, 1, 28, 28].

    count is clamped to [1, 64], temperature to [0, 2] and seed to [0, 2³¹ - 1]; the same seed gives
    the same codes at every temperature (scaled), and temperature 0 decodes the prior's mean, z = 0.
    """
    count = integer(count, "count", MIN_SAMPLES, MAX_SAMPLES, DEFAULT_SAMPLES)
    temperature = number(temperature, "temperature", 0.0, MAX_TEMPERATURE, DEFAULT_TEMPERATURE)
    seed = integer(seed, "seed", 0, MAX_SEED, 0)
    vae = registry().get(model, "vae")
    z = torch.randn(count, vae.config.latent_dim, generator=torch.Generator().manual_seed(seed))
    return vae.decode(z * temperature).cpu()


def sample(model: str, count=DEFAULT_SAMPLES, temperature=DEFAULT_TEMPERATURE, seed=0) -> Image.Image:
    """The samples as one grid picture, as square as their count allows."""
    samples = sample_tensors(model, count, temperature, seed)
    columns = math.ceil(math.sqrt(len(samples)))
    return to_pil(make_grid(samples, columns, padding=2, pad_value=0.25), SAMPLE_SCALE)

"""The GAN tab: a picture from a seed, a class, the truncation trick and eight latent directions.

The directions come from one of two methods, found once per (model, method) and cached:

* **SeFa** (Shen & Zhou, 2021): the latent directions the generator's first layer
  responds to most, in closed form from its weights;
* **GANSpace** (Härkönen et al., 2020): the principal components of the first
  layer's activations over sampled latents, carried back to z.

Both give unit directions, strongest first.  A slider value is a distance along
a direction, in standard deviations of the prior.

Everything here is plain Python (no Gradio): the tab wires it to widgets, and
every value is checked and clamped here so that the page and API clients meet
the same limits.  A point of the latent space can be written out as JSON
(:func:`state_json`) and read back (:func:`parse_state`).
"""

import json
import math
import threading

import torch
from PIL import Image

from aigc.images import make_grid, save_gif, to_pil
from aigc.latent import ganspace_directions, sefa_directions, truncate
from aigc.studio import MAX_SEED, InputError, integer, number, output_file, share, shown
from aigc.studio.models import GAN_TYPES, registry

NUM_DIRECTIONS = 8
MAX_OFFSET = 3.0
DEFAULT_TRUNCATION = 0.7
SCALE = 10  # 28 px -> 280 px, nearest neighbour
MIN_FRAMES, MAX_FRAMES, DEFAULT_FRAMES = 3, 61, 25
FRAME_MS = 60
METHODS = {"sefa": "SeFa", "ganspace": "GANSpace"}  # key -> name shown
DEFAULT_METHOD = "sefa"
PREVIEW_FRAMES = 7  # -3, -2, ..., +3
PREVIEW_SCALE = 2
GRID_SEEDS = 8  # the grid shows this many seeds: seed, seed + 1, ...
GRID_COLUMNS = 4
GRID_SCALE = 4
MAX_JSON_CHARS = 20_000
JSON_DIGITS = 6  # z is written with this many decimals


def gan_models() -> list[str]:
    return registry().names(*GAN_TYPES)


def class_names(model: str) -> list[str]:
    """The class names a GAN can be asked for ([] for an unconditional one)."""
    gan = registry().get(model, *GAN_TYPES)
    return list(gan.config.class_names) or [str(i) for i in range(gan.config.num_classes)]


def method_key(method) -> str:
    """"SeFa", "sefa", "GANSpace", "ganspace" (or None: the default) -> "sefa" or "ganspace"."""
    if method is None or method == "":
        return DEFAULT_METHOD
    key = str(method).strip().lower()
    if key not in METHODS:
        raise InputError(f"Unknown direction method {shown(method)}; choose one of: {', '.join(METHODS.values())}")
    return key


_directions_cache: dict[tuple[str, str], torch.Tensor] = {}
_directions_lock = threading.Lock()


def directions(model: str, method=DEFAULT_METHOD) -> torch.Tensor:
    """[NUM_DIRECTIONS, latent_dim] unit directions of ``method``, strongest first; rows beyond latent_dim are zero.

    Computed once per (model, method) and cached; requests for cached ones never wait on a computation.
    """
    key = (model, method_key(method))
    if key in _directions_cache:
        return _directions_cache[key]
    gan = registry().get(model, *GAN_TYPES)  # unknown or broken models raise here, and are never cached
    with _directions_lock:  # concurrent first requests compute it once
        if key not in _directions_cache:
            k = min(NUM_DIRECTIONS, gan.config.latent_dim)
            if key[1] == "sefa":
                found, _ = sefa_directions(gan, k)
            else:
                found, _ = ganspace_directions(gan, k)
            padded = torch.zeros(NUM_DIRECTIONS, gan.config.latent_dim)
            padded[: len(found)] = found.cpu()
            _directions_cache[key] = padded
        return _directions_cache[key]


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
        index = float(text)
    except ValueError:
        index = -1
    if math.isfinite(index) and index == int(index) and 0 <= index < num_classes:
        return int(index)
    raise InputError(f"Unknown class {shown(label)}; choose one of: {', '.join(names) or f'0 to {num_classes - 1}'}")


def checked_offsets(offsets) -> list[float]:
    """Eight finite offsets clamped to [-3, 3] (None -> 0)."""
    if isinstance(offsets, (str, bytes)) or not hasattr(offsets, "__len__"):
        raise InputError(f"Expected a list of {NUM_DIRECTIONS} direction offsets, not {shown(offsets)}")
    if len(offsets) != NUM_DIRECTIONS:
        raise InputError(f"Expected {NUM_DIRECTIONS} direction offsets, got {len(offsets)}")
    return [number(value, f"direction {i}", -MAX_OFFSET, MAX_OFFSET, 0.0) for i, value in enumerate(offsets, start=1)]


def seed_latent(latent_dim: int, seed: int) -> torch.Tensor:
    """The seed's draw from the prior: [latent_dim]."""
    return torch.randn(1, latent_dim, generator=torch.Generator().manual_seed(seed))[0]


def latent_point(model: str, label, seed, truncation, offsets, method=DEFAULT_METHOD
                 ) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor | None]:
    """Check and clamp the inputs -> (generator, z [1, latent_dim], label [1] or None).

    z is the seed's draw from the prior, pulled toward its mean by ``truncation``
    (ψ; 0 gives the mean, the same picture for every seed), then moved along each
    direction by its offset.
    """
    gan = registry().get(model, *GAN_TYPES)
    seed = integer(seed, "seed", 0, MAX_SEED, 0)
    psi = number(truncation, "truncation", 0.0, 1.0, DEFAULT_TRUNCATION)
    offsets = torch.tensor(checked_offsets(offsets))
    method = method_key(method)
    index = label_index(gan, label)
    z = truncate(seed_latent(gan.config.latent_dim, seed), psi) + offsets @ directions(model, method)
    return gan, z[None], None if index is None else torch.tensor([index])


def generate_batch(models, labels, seeds, truncations, offsets, methods=None) -> list[Image.Image]:
    """Many pictures at once (what concurrent slider drags are batched into): lists in, a list out.

    Requests for the same model share one forward pass.  Item i equals
    ``generate(models[i], labels[i], seeds[i], truncations[i], offsets[i], methods[i])``;
    a bad item raises its InputError.
    """
    count = len(models)
    methods = [DEFAULT_METHOD] * count if methods is None else methods
    if not all(len(values) == count for values in (labels, seeds, truncations, offsets, methods)):
        raise InputError("Every argument of a batch must have one value per picture")
    points = [latent_point(*args) for args in zip(models, labels, seeds, truncations, offsets, methods)]
    pictures: list[Image.Image | None] = [None] * count
    by_model: dict[int, list[int]] = {}
    for i, (gan, _, _) in enumerate(points):
        by_model.setdefault(id(gan), []).append(i)
    for items in by_model.values():
        gan = points[items[0]][0]
        z = torch.cat([points[i][1] for i in items])
        conditional = points[items[0]][2] is not None
        classes = torch.cat([points[i][2] for i in items]) if conditional else None
        for i, image in zip(items, gan.generate(z, classes)):
            pictures[i] = to_pil(image, SCALE)
    return pictures


def generate(model: str, label=None, seed=0, truncation=DEFAULT_TRUNCATION,
             offsets=(0.0,) * NUM_DIRECTIONS, method=DEFAULT_METHOD) -> Image.Image:
    """One picture, upscaled to 280 px with crisp pixels."""
    return generate_batch([model], [label], [seed], [truncation], [offsets], [method])[0]


def grid(model: str, label=None, seed=0, truncation=DEFAULT_TRUNCATION, offsets=(0.0,) * NUM_DIRECTIONS,
         method=DEFAULT_METHOD, count=GRID_SEEDS) -> Image.Image:
    """The pictures of ``count`` seeds (seed, seed + 1, ...) under the same class, ψ and offsets, as one grid."""
    count = integer(count, "count", 1, 64, GRID_SEEDS)
    seed = integer(seed, "seed", 0, MAX_SEED, 0)
    seeds = [(seed + i) % (MAX_SEED + 1) for i in range(count)]
    gan, _, labels = latent_point(model, label, seed, truncation, offsets, method)
    points = [latent_point(model, label, s, truncation, offsets, method)[1] for s in seeds]
    images = gan.generate(torch.cat(points), None if labels is None else labels.expand(count))
    return to_pil(make_grid(images, min(GRID_COLUMNS, count), padding=2, pad_value=0.5), GRID_SCALE)


def preview_strips(model: str, label=None, seed=0, truncation=DEFAULT_TRUNCATION, method=DEFAULT_METHOD,
                   frames=PREVIEW_FRAMES) -> list[Image.Image]:
    """For each direction, a small strip of pictures from -3 to +3 at this point (every slider at 0).

    All NUM_DIRECTIONS × frames pictures come from one forward pass.  A direction
    the model does not have (latent_dim < 8) gives a strip of the unmoved picture.
    """
    count = integer(frames, "frames", 3, 15, PREVIEW_FRAMES) | 1
    gan, z, labels = latent_point(model, label, seed, truncation, [0.0] * NUM_DIRECTIONS, method)
    steps = torch.linspace(-MAX_OFFSET, MAX_OFFSET, count)
    path = z + (steps[None, :, None] * directions(model, method)[:, None, :]).reshape(-1, z.shape[1])
    images = gan.generate(path, None if labels is None else labels.expand(len(path)))
    strips = images.reshape(NUM_DIRECTIONS, count, *images.shape[1:])
    return [to_pil(make_grid(strip, count, padding=1, pad_value=1.0), PREVIEW_SCALE) for strip in strips]


def sweep_frames(model: str, label=None, seed=0, truncation=DEFAULT_TRUNCATION, direction=1,
                 frames=DEFAULT_FRAMES, method=DEFAULT_METHOD) -> list[Image.Image]:
    """Pictures along one direction (1-based, as the sliders are numbered) from -3 to +3, in one batch.

    The number of frames is made odd so that the middle frame is offset 0: the
    picture :func:`generate` gives at this point with every slider at 0.
    """
    direction = integer(direction, "direction", 1, NUM_DIRECTIONS, 1)
    count = integer(frames, "frames", MIN_FRAMES, MAX_FRAMES, DEFAULT_FRAMES) | 1
    gan, z, labels = latent_point(model, label, seed, truncation, [0.0] * NUM_DIRECTIONS, method)
    steps = torch.linspace(-MAX_OFFSET, MAX_OFFSET, count)[:, None]
    path = z + steps * directions(model, method)[direction - 1]
    images = gan.generate(path, None if labels is None else labels.expand(count))
    return [to_pil(image, SCALE) for image in images]


def sweep(model: str, label=None, seed=0, truncation=DEFAULT_TRUNCATION, direction=1, frames=DEFAULT_FRAMES,
          method=DEFAULT_METHOD) -> str:
    """:func:`sweep_frames` as a looping animated GIF, one frame each -> its path."""
    pictures = sweep_frames(model, label, seed, truncation, direction, frames, method)
    return str(save_gif(pictures, output_file(".gif"), FRAME_MS))


# --- the point as JSON ---------------------------------------------------------------------------

def state_json(model: str, label=None, seed=0, truncation=DEFAULT_TRUNCATION, offsets=(0.0,) * NUM_DIRECTIONS,
               method=DEFAULT_METHOD) -> str:
    """This point of the latent space as JSON: everything needed to restore it, and z itself.

    ``z`` is what ``load(model).generate(torch.tensor([z]), torch.tensor([label]))`` takes.
    """
    gan, z, labels = latent_point(model, label, seed, truncation, offsets, method)
    state = {
        "model": model,
        "method": METHODS[method_key(method)],
        "label": None if labels is None else int(labels[0]),
        "class": None if labels is None else class_names(model)[int(labels[0])],
        "seed": integer(seed, "seed", 0, MAX_SEED, 0),
        "truncation": number(truncation, "truncation", 0.0, 1.0, DEFAULT_TRUNCATION),
        "offsets": checked_offsets(offsets),
        "z": [round(value, JSON_DIGITS) for value in z[0].tolist()],
    }
    return json.dumps(state, separators=(", ", ": "))


def parse_state(text) -> dict:
    """JSON written by :func:`state_json` -> {model, method, label, seed, truncation, offsets}, checked.

    The label comes back as an index (None for an unconditional GAN) and the
    method as its shown name.  ``z`` may be left out; if present it must be the
    point that seed, truncation and offsets give (the sliders cannot reach any other).
    Anything else raises InputError saying what is wrong.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError("Paste the latent JSON first (it looks like {\"model\": \"gan-mnist\", \"seed\": 42, ...})")
    if len(text) > MAX_JSON_CHARS:
        raise InputError(f"That JSON is too long ({len(text):,} characters; at most {MAX_JSON_CHARS:,})")
    state = share.json_object(text, "The latent JSON", '{"model": ..., "seed": ..., ...}')
    unknown = set(state) - {"model", "method", "label", "class", "seed", "truncation", "offsets", "z"}
    if unknown:
        raise InputError(f"Unknown key(s) in the latent JSON: {', '.join(sorted(unknown))}")
    if "model" not in state:
        raise InputError("The latent JSON has no \"model\"")
    model = state["model"]
    if not isinstance(model, str):
        raise InputError(f"\"model\" must be a model name, not {model!r}")
    gan = registry().get(model, *GAN_TYPES)
    method = method_key(state.get("method"))
    label = state.get("label", state.get("class"))
    if isinstance(label, bool) or not isinstance(label, (str, int, float, type(None))):
        raise InputError(f"\"label\" must be a class index or name, not {label!r}")
    index = label_index(gan, label)
    for key in ("seed", "truncation"):
        if isinstance(state.get(key), (bool, list, dict)):
            raise InputError(f"\"{key}\" must be a number, not {state[key]!r}")
    seed = state.get("seed", 0)
    if seed is not None and not (isinstance(seed, (int, float)) and float(seed).is_integer() and 0 <= seed <= MAX_SEED):
        raise InputError(f"\"seed\" must be a whole number from 0 to {MAX_SEED}, not {seed!r}")
    seed = integer(seed, "seed", 0, MAX_SEED, 0)
    truncation = number(state.get("truncation"), "truncation", 0.0, 1.0, DEFAULT_TRUNCATION)
    offsets = state.get("offsets", [0.0] * NUM_DIRECTIONS)
    if not isinstance(offsets, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                for v in offsets):
        raise InputError(f"\"offsets\" must be a list of {NUM_DIRECTIONS} numbers")
    offsets = checked_offsets(offsets)
    if "z" in state:
        z = state["z"]
        dim = gan.config.latent_dim
        if not (isinstance(z, list) and len(z) == dim
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in z)):
            raise InputError(f"\"z\" must be a list of {dim} numbers for {model}")
        _, expected, _ = latent_point(model, index, seed, truncation, offsets, method)
        if (torch.tensor(z, dtype=torch.float32) - expected[0]).abs().max() > 10 ** -(JSON_DIGITS - 2):
            raise InputError("\"z\" is not the point that seed, truncation and offsets give; "
                             "fix it, or remove \"z\" to restore from those alone")
    return {"model": model, "method": METHODS[method], "label": index, "seed": seed, "truncation": truncation,
            "offsets": offsets}


# --- the point as a share link -------------------------------------------------------------------

def shared_state(model: str, label=None, seed=0, truncation=DEFAULT_TRUNCATION,
                 offsets=(0.0,) * NUM_DIRECTIONS, method=DEFAULT_METHOD) -> dict:
    """The fields of a share link: the state JSON without z (the link rebuilds it), the class by name."""
    state = json.loads(state_json(model, label, seed, truncation, offsets, method))
    del state["z"], state["label"]
    return state


def restore_state(text) -> dict:
    """Pasted text -> the checked state: the latent JSON, a share link, or a share link's JSON."""
    text = str(text or "").strip()
    if "tab=" in text or (text.startswith("{") and '"tab"' in text):
        tab, fields = share.read(text)
        if tab != "gan":
            raise InputError(f"That link is for the {tab} tab, not the GAN tab")
        return state_from_link(fields)
    return parse_state(text)


def state_from_link(fields: dict[str, str]) -> dict:
    """A share link's text fields -> the checked state, as :func:`parse_state` gives it."""
    typed: dict = dict(fields)
    for key in ("seed", "truncation"):
        if key in typed:
            typed[key] = link_number(typed[key], key)
    if "offsets" in typed:
        typed["offsets"] = [link_number(v, "offsets") for v in share.number_list(typed["offsets"], "offsets",
                                                                                NUM_DIRECTIONS)]
    return parse_state(json.dumps(typed))


def link_number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{what} in the link must be a number, not {text!r}") from None

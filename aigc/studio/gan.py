"""The GAN tab: a picture from a seed, a class, the truncation trick and eight latent directions.

The directions come from one of two methods, found once per (model, method) and cached:

* **SeFa** (Shen & Zhou, 2021): the latent directions the generator's first layer
  responds to most, in closed form from its weights;
* **GANSpace** (Härkönen et al., 2020): the principal components of the first
  layer's activations over sampled latents, carried back to z.

Both give unit directions in their own order of strength: how much the first layer
responds, not what a viewer sees.  So each direction's effect on the pictures is
measured (aigc.directions): the sliders are ordered by it, strongest first, named by
it ("narrower ↔ wider", "toward Shirt"), turned so that the name reads from -3 to +3,
and one whose effect nobody sees has no name (the tab hides its slider).  A slider
value is a distance along a direction, in standard deviations of the prior.

Everything here is plain Python (no Gradio): the tab wires it to widgets, and
every value is checked and clamped here so that the page and API clients meet
the same limits.  A point of the latent space can be written out as JSON
(:func:`state_json`) and read back (:func:`parse_state`), also from JSON and links
written before the sliders were ordered (their offsets are in the method's own order).
"""

import json
import math
import threading
from dataclasses import dataclass

import torch
from PIL import Image

from aigc.directions import Effect, measure
from aigc.hub import ModelLoadError
from aigc.images import make_grid, save_gif, to_pil
from aigc.latent import ganspace_directions, sefa_directions, truncate
from aigc.studio import MAX_SEED, InputError, integer, number, output_file, share, shown
from aigc.studio.models import GAN_TYPES, dataset_of, registry

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
MARK_COLOUR = (0.976, 0.451, 0.086)  # the frame round a strip's cell at its slider's value: Gradio's orange
GRID_SEEDS = 8  # the grid shows this many seeds: seed, seed + 1, ...
GRID_COLUMNS = 4
GRID_SCALE = 4
MAX_JSON_CHARS = 20_000
JSON_DIGITS = 6  # z is written with this many decimals
OLD_AXES = list(range(1, NUM_DIRECTIONS + 1))  # the sliders' directions before they were ordered by their effect


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


@dataclass(frozen=True)
class Sliders:
    """A method's directions as the sliders move them: strongest visible effect first (aigc.directions), each
    turned so that its name reads from -3 to +3."""

    directions: torch.Tensor  # [NUM_DIRECTIONS, latent_dim], slider k's in row k - 1; rows beyond latent_dim are 0
    axes: list[int]  # slider k moves the method's own direction |axes[k - 1]| (1-based), turned round if negative
    names: list[str | None]  # None: a direction whose effect nobody sees (the tab hides its slider)
    effects: list[Effect]


_directions_cache: dict[tuple[str, str], Sliders] = {}
_directions_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_lock = threading.Lock()


def sliders(model: str, method=DEFAULT_METHOD) -> Sliders:
    """The directions of ``method``, measured, named and ordered: computed once per (model, method) and cached.

    Requests for cached ones never wait; a first request waits only for its own (model, method).
    """
    key = (model, method_key(method))
    if key in _directions_cache:
        return _directions_cache[key]
    gan = registry().get(model, *GAN_TYPES)  # unknown or broken models raise here, and are never cached
    with _locks_lock:
        lock = _directions_locks.setdefault(key, threading.Lock())
    with lock:  # concurrent first requests compute it once
        if key not in _directions_cache:
            _directions_cache[key] = arranged(gan, key[1])
        return _directions_cache[key]


def arranged(gan, method: str) -> Sliders:
    """Find NUM_DIRECTIONS directions by ``method`` (in its own order of strength), then order and turn them by
    the effect they have on the pictures."""
    k = min(NUM_DIRECTIONS, gan.config.latent_dim)
    found, _ = sefa_directions(gan, k) if method == "sefa" else ganspace_directions(gan, k)
    padded = torch.zeros(NUM_DIRECTIONS, gan.config.latent_dim)
    padded[: len(found)] = found.cpu()
    classify, names = classifier_for(gan)
    effects = measure(gan.generate, padded, gan.config.num_classes, classify, names)
    return Sliders(torch.stack([padded[e.axis] * e.sign for e in effects]), [(e.axis + 1) * e.sign for e in effects],
                   [e.name for e in effects], effects)


def classifier_for(gan) -> tuple:
    """(class probabilities of pictures, class names) by the GAN's dataset's classifier; (None, []) without one."""
    dataset = dataset_of(gan)
    try:
        classifier = registry().get(f"classifier-{dataset}", "classifier") if dataset else None
    except (InputError, ModelLoadError):
        classifier = None
    if classifier is None or (classifier.config.image_size, classifier.config.channels) != \
            (gan.config.image_size, gan.config.channels):
        return None, []

    def probabilities(images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return classifier(images.to(classifier.device)).softmax(1)

    return probabilities, list(classifier.config.class_names)


def directions(model: str, method=DEFAULT_METHOD) -> torch.Tensor:
    """[NUM_DIRECTIONS, latent_dim] unit directions of ``method`` in slider order (strongest effect first)."""
    return sliders(model, method).directions


def direction_names(model: str, method=DEFAULT_METHOD) -> list[str | None]:
    """Each slider's name ("narrower ↔ wider", "toward Shirt"), in slider order; None for a hidden one."""
    return list(sliders(model, method).names)


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
                   offsets=None, frames=PREVIEW_FRAMES) -> list[Image.Image]:
    """For each slider, a small strip of pictures from -3 to +3 at this point, the other sliders where they are.

    The cell nearest the slider's value shows the picture at that value itself (the one the tab shows) and is
    framed in MARK_COLOUR.  All NUM_DIRECTIONS × frames pictures come from one forward pass.  A direction the
    model does not have (latent_dim < 8) gives a strip of the unmoved picture.
    """
    count = integer(frames, "frames", 3, 15, PREVIEW_FRAMES) | 1
    offsets = torch.tensor(checked_offsets([0.0] * NUM_DIRECTIONS if offsets is None else offsets))
    gan, z, labels = latent_point(model, label, seed, truncation, offsets.tolist(), method)
    values = torch.linspace(-MAX_OFFSET, MAX_OFFSET, count).repeat(NUM_DIRECTIONS, 1)
    marked = (values - offsets[:, None]).abs().argmin(1)
    values[torch.arange(NUM_DIRECTIONS), marked] = offsets
    moves = (values - offsets[:, None])[:, :, None] * directions(model, method)[:, None, :]
    path = z + moves.reshape(-1, z.shape[1])
    images = gan.generate(path, None if labels is None else labels.expand(len(path)))
    strips = images.reshape(NUM_DIRECTIONS, count, *images.shape[1:])
    return [to_pil(framed(make_grid(strip, count, padding=1, pad_value=0.0), int(cell), strip.shape[-1]),
                   PREVIEW_SCALE) for strip, cell in zip(strips, marked, strict=True)]


def framed(strip: torch.Tensor, cell: int, size: int) -> torch.Tensor:
    """A strip made by make_grid (one row, padding 1) -> in colour, the padding around ``cell`` in MARK_COLOUR."""
    strip = strip.expand(3, -1, -1).clone() if strip.shape[0] == 1 else strip.clone()
    left, right = cell * (size + 1), (cell + 1) * (size + 1)
    colour = torch.tensor(MARK_COLOUR)[:, None]
    strip[:, [0, -1], left:right + 1] = colour[:, :, None]
    strip[:, :, [left, right]] = colour[:, None]
    return strip


def sweep_frames(model: str, label=None, seed=0, truncation=DEFAULT_TRUNCATION, direction=1,
                 frames=DEFAULT_FRAMES, method=DEFAULT_METHOD, offsets=None) -> list[Image.Image]:
    """Pictures along one slider's direction (1-based, as the sliders are numbered) from -3 to +3, in one batch,
    with every other slider kept at its offset.

    The number of frames is made odd so that the middle frame is that slider at 0.
    """
    direction = integer(direction, "direction", 1, NUM_DIRECTIONS, 1)
    count = integer(frames, "frames", MIN_FRAMES, MAX_FRAMES, DEFAULT_FRAMES) | 1
    offsets = checked_offsets([0.0] * NUM_DIRECTIONS if offsets is None else offsets)
    offsets[direction - 1] = 0.0
    gan, z, labels = latent_point(model, label, seed, truncation, offsets, method)
    steps = torch.linspace(-MAX_OFFSET, MAX_OFFSET, count)[:, None]
    path = z + steps * directions(model, method)[direction - 1]
    images = gan.generate(path, None if labels is None else labels.expand(count))
    return [to_pil(image, SCALE) for image in images]


def sweep(model: str, label=None, seed=0, truncation=DEFAULT_TRUNCATION, direction=1, frames=DEFAULT_FRAMES,
          method=DEFAULT_METHOD, offsets=None) -> str:
    """:func:`sweep_frames` as a looping animated GIF, one frame each -> its path."""
    pictures = sweep_frames(model, label, seed, truncation, direction, frames, method, offsets)
    return str(save_gif(pictures, output_file(".gif"), FRAME_MS))


# --- the point as JSON ---------------------------------------------------------------------------

def state_json(model: str, label=None, seed=0, truncation=DEFAULT_TRUNCATION, offsets=(0.0,) * NUM_DIRECTIONS,
               method=DEFAULT_METHOD) -> str:
    """This point of the latent space as JSON: everything needed to restore it, and z itself.

    ``names`` are the sliders' names, for the reader; ``axes`` say which of the method's own directions each
    offset moves along (:attr:`Sliders.axes`), so that the point can be rebuilt whatever order the sliders
    have when it is read.  ``z`` is what ``load(model).generate(torch.tensor([z]), torch.tensor([label]))`` takes.
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
        "names": direction_names(model, method),
        "axes": sliders(model, method).axes,
        "z": [round(value, JSON_DIGITS) for value in z[0].tolist()],
    }
    return json.dumps(state, separators=(", ", ": "), ensure_ascii=False)


def parse_state(text) -> dict:
    """JSON written by :func:`state_json` -> {model, method, label, seed, truncation, offsets}, checked.

    The label comes back as an index (None for an unconditional GAN), the
    method as its shown name and the offsets in today's slider order.  ``z`` may be left out; if present it
    must be the point that seed, truncation and offsets give (the sliders cannot reach any other).
    Anything else raises InputError saying what is wrong.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError("Paste the latent JSON first (it looks like {\"model\": \"gan-mnist\", \"seed\": 42, ...})")
    if len(text) > MAX_JSON_CHARS:
        raise InputError(f"That JSON is too long ({len(text):,} characters; at most {MAX_JSON_CHARS:,})")
    state = share.json_object(text, "The latent JSON", '{"model": ..., "seed": ..., ...}')
    unknown = set(state) - {"model", "method", "label", "class", "seed", "truncation", "offsets", "names", "axes", "z"}
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
    offsets = state_offsets(state, model, method)
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


def state_offsets(state: dict, model: str, method: str) -> list[float]:
    """The offsets of a state (JSON or link) -> the same point's offsets in today's slider order.

    They lie along ``axes`` (see :func:`state_json`); a state without them was written before the sliders were
    ordered by their effect, when slider k moved the method's own direction k (OLD_AXES).  ``names`` are not
    read: they are the writer's, and the model's own are measured again.
    """
    offsets, axes = state.get("offsets", [0.0] * NUM_DIRECTIONS), state.get("axes", OLD_AXES)
    if not is_list_of(offsets, (int, float)):
        raise InputError(f"\"offsets\" must be a list of {NUM_DIRECTIONS} numbers")
    if not is_list_of(state.get("names", []), (str, type(None))):
        raise InputError("\"names\" must be a list of the sliders' names (text, or null for a hidden one)")
    offsets = checked_offsets(offsets)
    if not is_list_of(axes, (int,)) or sorted(abs(axis) for axis in axes) != OLD_AXES:
        raise InputError(f"\"axes\" must hold each of 1 to {NUM_DIRECTIONS} once, with a sign, not {shown(axes)}")
    along = {abs(axis): value * (1 if axis > 0 else -1) for axis, value in zip(axes, offsets, strict=True)}
    return [along[abs(axis)] * (1 if axis > 0 else -1) + 0.0 for axis in sliders(model, method).axes]  # no -0.0


def is_list_of(values, kinds: tuple) -> bool:
    return isinstance(values, list) and all(isinstance(v, kinds) and not isinstance(v, bool) for v in values)


# --- the point as a share link -------------------------------------------------------------------

def shared_state(model: str, label=None, seed=0, truncation=DEFAULT_TRUNCATION,
                 offsets=(0.0,) * NUM_DIRECTIONS, method=DEFAULT_METHOD) -> dict:
    """The fields of a share link: the state JSON without z (the link rebuilds it), the class by name, a hidden
    slider's name as ""."""
    state = json.loads(state_json(model, label, seed, truncation, offsets, method))
    del state["z"], state["label"]
    state["names"] = [name or "" for name in state["names"]]
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
    """A share link's text fields -> the checked state, as :func:`parse_state` gives it.

    The sliders' names are for whoever reads the link; like parse_state, this does not read them (a name may
    hold a comma, so they are not even split).
    """
    typed: dict = dict(fields)
    typed.pop("names", None)
    for key in ("seed", "truncation"):
        if key in typed:
            typed[key] = link_number(typed[key], key)
    for key in ("offsets", "axes"):
        if key in typed:
            values = [link_number(v, key) for v in share.number_list(typed[key], key, NUM_DIRECTIONS)]
            typed[key] = values if key == "offsets" else [int(v) if v.is_integer() else v for v in values]
    return parse_state(json.dumps(typed))


def link_number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{what} in the link must be a number, not {text!r}") from None

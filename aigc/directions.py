"""What each latent direction does to the pictures, measured over many samples: its name, its size, its order.

SeFa and GANSpace find directions in z by what the generator's first layer does, not by what a viewer sees:
some turn a shirt into a white square, others change nothing visible.  Here each direction is judged by its
pictures.  Many latents of every class are moved to -3 and to +3 along it, and each pair of pictures is compared
on properties a viewer names at a glance (:data:`PROPERTIES`: width, height, stroke thickness, ink area,
brightness, left-right symmetry) and, when the dataset's classifier is at hand, on its class probabilities.
Each property's mean change is divided by the smallest change of it that a viewer sees; the largest of these
ratios is the direction's size, and its property names the direction.  A size below 1 is a change nobody sees:
that direction is hidden.

Plain torch: the generator and the classifier come in as functions, so any model (or a synthetic one) can be
measured.
"""

import itertools
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

SPAN = 3.0  # the sliders' range: a direction is measured from -SPAN to +SPAN
SAMPLES = 64  # latents measured per direction, spread evenly over the classes
TRUNCATION = 0.7  # the latents are drawn as the tab draws them by default
REFERENCE_SIZE = 28  # the visible changes below are in pixels of a 28-pixel picture; larger ones are scaled
EDGE_MASS = 0.02  # the ink's width and height leave out this share of it at each end
SECOND_SHARE = 0.5  # a name gives a second effect at least this share of its first (see name)
FOLLOWERS = ("ink", "thickness")  # properties that any change of size changes too (see name)
CLASS_VISIBLE = 0.1  # a class probability that moves by 0.1 on average: one picture in ten changes class


@dataclass(frozen=True)
class Property:
    key: str
    less: str  # what a slider whose pictures lose this property is called at that end
    more: str
    unit: str
    visible: float  # the smallest mean change from -3 to +3 that a viewer sees, in ``unit``


PROPERTIES = (
    Property("width", "narrower", "wider", "px", 1.0),
    Property("height", "shorter", "taller", "px", 1.0),
    Property("thickness", "thinner", "thicker", "px", 0.4),
    Property("ink", "less ink", "more ink", "px", 30.0),
    Property("brightness", "darker", "lighter", "grey levels", 12.0),
    Property("symmetry", "lopsided", "symmetric", "px", 20.0),
)
"""Why these thresholds.  The tab shows a 28-pixel picture 10× enlarged (280 px) and its strips 2× (56 px a cell),
so one model pixel is a block a viewer sees at once in the picture and barely in a strip.

* width, height: 1 px, 1/28 of the frame, about 4% of a garment or digit, the Weber fraction for length
  (3-5%): two pictures side by side that differ by less look the same size.
* thickness: 0.4 px, about 15% of a 2.5-pixel stroke, the smallest change of a line's weight that shows at 2×;
  a stroke widens on both sides, so 0.4 px moves both edges by a fifth of a pixel.
* ink: 30 px, 4% of the frame and about a fifth of a digit's ink: less is lost in the GAN's own texture.  It is
  set so that a thicker stroke (which adds ink all along the stroke) is named by its thickness, not its ink.
* brightness: 12 of 255 grey levels, 5% of the range, twice the Weber fraction of luminance (about 2%) because
  the pictures are seen one after the other as the slider moves, not side by side.
* symmetry: 20 px that stop (or start) matching their mirror image across the vertical centre line, 2.5% of the
  frame: about a sleeve's or a stroke's end.
* classes (CLASS_VISIBLE): the classifier's probability of a class moves by 0.1 averaged over all samples of all
  classes, as when one picture in ten changes into that class.
"""


@dataclass(frozen=True)
class Effect:
    """What one direction does, measured from -SPAN to +SPAN."""

    axis: int  # the direction's index among those measured (0-based, in the order they were given)
    sign: int  # -1 where the named change lies toward -SPAN: the slider is turned round so that it lies toward +SPAN
    name: str | None  # None: no change a viewer sees
    size: float  # the largest change, in multiples of the smallest visible one
    changes: dict[str, float]  # every property's mean change along the signed direction, in its unit


def picture_properties(images: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] in [0, 1] -> [N, len(PROPERTIES)], in PROPERTIES' order and units.

    The ink is the grey picture itself (no threshold, so every measure changes smoothly): its mass is the sum of
    its pixels, its brightness the mass-weighted mean grey level, its area the mass over that brightness (the
    pixel count of a uniform shape), its width and height the extent of its mass along each axis, its thickness
    twice its area over its outline (the width of a long stroke), its symmetry minus the pixels that differ from
    their mirror image.
    """
    grey = images.float().mean(1)  # [N, H, W]
    size = grey.shape[-1]
    scale = REFERENCE_SIZE / size
    mass = grey.sum((1, 2)).clamp_min(1e-6)
    shade = ((grey**2).sum((1, 2)) / mass).clamp_min(1e-6)  # in [0, 1]
    area = mass / shade
    rows, columns = grey.sum(2) / mass[:, None], grey.sum(1) / mass[:, None]
    width, height = extent(columns), extent(rows)
    padded = F.pad(grey, (1, 1, 1, 1))
    outline = (padded.diff(dim=1).abs().sum((1, 2)) + padded.diff(dim=2).abs().sum((1, 2))) / shade
    thickness = 2 * area / outline.clamp_min(1e-6)
    unmirrored = (grey - grey.flip(2)).abs().sum((1, 2)) / (2 * shade)
    return torch.stack([width * scale, height * scale, thickness * scale, area * scale**2, shade * 255,
                        -unmirrored * scale**2], 1)


def extent(profile: torch.Tensor) -> torch.Tensor:
    """[N, L] ink distributions along a line (each summing to 1) -> [N]: the length holding all but EDGE_MASS
    of it at each end (the ink's extent, in pixels, unmoved by a stray grey pixel)."""
    return quantile(profile, 1 - EDGE_MASS) - quantile(profile, EDGE_MASS)


def quantile(profile: torch.Tensor, q: float) -> torch.Tensor:
    """Where the distribution's cumulative mass reaches q, pixel i spanning [i, i + 1], each pixel's mass spread
    evenly over it (so the answer moves smoothly with the ink)."""
    cumulative = profile.cumsum(1)
    index = (cumulative < q).sum(1, keepdim=True).clamp(max=profile.shape[1] - 1)
    before = (cumulative - profile).gather(1, index)
    return (index + (q - before) / profile.gather(1, index).clamp_min(1e-9))[:, 0]


@torch.no_grad()
def measure(generate, directions: torch.Tensor, num_classes: int = 0, classify=None, class_names=(),
            samples: int = SAMPLES, seed: int = 0) -> list[Effect]:
    """The effect of each direction, strongest first; each direction's sign so that its named change is toward +.

    generate: (z [N, D], labels [N] or None) -> images [N, C, H, W] in [0, 1];
    directions: [K, D] (all-zero rows are directions the model does not have: they measure as nothing);
    classify: None, or images -> class probabilities [N, len(class_names)].
    The latents are drawn from ``seed``, so the same model always gets the same names and order.
    """
    gen = torch.Generator().manual_seed(seed)
    z = TRUNCATION * torch.randn(samples, directions.shape[1], generator=gen)
    labels = torch.arange(samples) % num_classes if num_classes else None
    both = None if labels is None else torch.cat([labels, labels])
    keys = [p.key for p in PROPERTIES] + [f"p({name})" for name in class_names]
    visible = torch.tensor([p.visible for p in PROPERTIES] + [CLASS_VISIBLE] * len(class_names))
    effects = []
    for axis, direction in enumerate(directions.float().cpu()):
        change = torch.zeros(len(keys))
        if direction.any():
            images = generate(torch.cat([z - SPAN * direction, z + SPAN * direction]), both)
            values = picture_properties(images.cpu())
            if classify is not None:
                values = torch.cat([values, classify(images).float().cpu()], 1)
            change = (values[samples:] - values[:samples]).mean(0)
        effects.append(effect(axis, change, visible, keys, class_names))
    return distinct(sorted(effects, key=lambda e: (-e.size, e.axis)), visible, class_names)


def distinct(effects: list[Effect], visible: torch.Tensor, class_names) -> list[Effect]:
    """Two sliders of one name leave a viewer guessing which is which: a weaker direction whose name a stronger one
    has is named by its next visible effect too, however small (ink and thickness included), and numbered if that
    is still not enough."""
    taken, named = set(), []
    for e in effects:
        label = e.name
        if label is not None and label in taken:
            ratios = torch.tensor(list(e.changes.values())) / visible
            label = name(ratios, class_names, second_share=0.0, followers=())
            if label in taken:
                label = next(f"{label} ({n})" for n in itertools.count(2) if f"{label} ({n})" not in taken)
        taken.add(label)
        named.append(replace(e, name=label))
    return named


def effect(axis: int, change: torch.Tensor, visible: torch.Tensor, keys: list[str], class_names) -> Effect:
    """One direction's mean changes -> its Effect, turned so that its largest change (relative to the smallest
    visible one) is an increase toward +SPAN."""
    ratios = change / visible
    best = int(ratios.abs().argmax())
    sign = -1 if ratios[best] < 0 else 1
    size = float(ratios[best].abs())
    changes = {key: round(float(value) * sign, 4) for key, value in zip(keys, change, strict=True)}
    return Effect(axis, sign, name(ratios * sign, class_names) if size >= 1 else None, round(size, 4), changes)


def name(ratios: torch.Tensor, class_names, second_share: float = SECOND_SHARE, followers=FOLLOWERS) -> str:
    """Signed ratios (the largest positive) -> "narrower ↔ wider", "darker, narrower ↔ lighter, wider",
    "toward Shirt", "narrower ↔ wider, toward 0": its two largest visible effects, each at the end where it is.

    A second effect is named when it is at least ``second_share`` of the first: a smaller one is not what a viewer
    notices, and mostly a consequence of the first (a thicker stroke also reaches further out: wider).  The
    ``followers`` (ink and thickness) are never the second effect: they follow from almost any change of size, so
    they would add a word and no news.  All class probabilities count as one effect: the class that gains most
    toward + (and toward -, if one visibly does).
    """
    count = len(PROPERTIES)
    classes = ratios[count:]
    sizes = [(float(ratios[i].abs()), i) for i in range(count)]
    if len(classes):
        sizes.append((float(classes.abs().max()), count))
    first, *rest = sorted(sizes, reverse=True)
    second = [(size, i) for size, i in rest if i == count or PROPERTIES[i].key not in followers]
    minus, plus = [], []
    for size, i in [first, *second[:1]]:
        if size < max(1.0, second_share * first[0]):
            break
        if i < count:
            words = (PROPERTIES[i].less, PROPERTIES[i].more)
            low, high = words if ratios[i] > 0 else words[::-1]
            minus.append(low)
            plus.append(high)
            continue
        if classes.max() >= 1:
            plus.append(f"toward {class_names[int(classes.argmax())]}")
        if classes.min() <= -1:
            minus.append(f"toward {class_names[int(classes.argmin())]}")
    return f"{', '.join(minus)} ↔ {', '.join(plus)}" if minus else ", ".join(plus)

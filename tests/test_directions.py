"""The effect measure (aigc.directions): synthetic generators whose directions each do one known thing are named
by that thing, ordered by how much they do it, and hidden when they do nothing a viewer sees."""

import pytest
import torch

from aigc.directions import CLASS_VISIBLE, PROPERTIES, SPAN, measure, picture_properties

SIZE = 28
ROWS, COLUMNS = torch.meshgrid(torch.arange(SIZE, dtype=torch.float32), torch.arange(SIZE, dtype=torch.float32),
                               indexing="ij")
RADIUS = ((ROWS - 13.5) ** 2 + (COLUMNS - 13.5) ** 2).sqrt()  # from the centre of the frame


def soft(distance: torch.Tensor) -> torch.Tensor:
    """Ink where distance < 0, none where it is > 1, a grey pixel between: edges that move by fractions of a pixel."""
    return (0.5 - distance).clamp(0, 1)


def disk(shade: torch.Tensor) -> torch.Tensor:
    """[N] shades -> [N, 1, 28, 28]: a disk of radius 8 in that shade."""
    return (soft(RADIUS - 8) * shade[:, None, None])[:, None]


def ring(thickness: torch.Tensor) -> torch.Tensor:
    """A ring of radius 8 whose stroke has ``thickness`` pixels, thickened on both sides.

    Under 2.5 px its grey edges are much of the stroke, which then looks (and measures) darker too.
    """
    return soft((RADIUS - 8).abs()[None] - thickness[:, None, None] / 2)[:, None]


def bars(gap: torch.Tensor) -> torch.Tensor:
    """Two upright strokes, 2 px thick and 16 px tall, ``gap`` pixels apart (centre to centre): only the width
    of the whole changes with the gap."""
    tall = soft((ROWS - 13.5).abs() - 8)
    left, right = ((COLUMNS[None] - (13.5 + side * gap[:, None, None] / 2)).abs() - 1 for side in (-1, 1))
    return (torch.maximum(soft(left), soft(right)) * tall)[:, None]


def generator(draw, per_unit: float, base: float):
    """A "generator" whose latent coordinate 0 sets one property (base + per_unit × z0); coordinate 1 does nothing."""
    return lambda z, labels: draw(base + per_unit * z[:, 0])


AXES = torch.eye(2)  # direction 0 moves z0, direction 1 moves z1 (which nothing reads)


@pytest.mark.parametrize("draw, per_unit, base, named", [
    (disk, 0.08, 0.6, "darker ↔ lighter"),
    (ring, 0.3, 4.0, "thinner ↔ thicker"),
    (bars, 1.0, 12.0, "narrower ↔ wider"),
])
def test_a_direction_that_changes_one_property_is_named_by_it(draw, per_unit, base, named):
    effects = measure(generator(draw, per_unit, base), AXES)
    assert [effect.axis for effect in effects] == [0, 1]  # the one that does something first
    assert effects[0].name == named and effects[0].sign == 1 and effects[0].size >= 1


def test_a_direction_with_no_effect_is_hidden():
    effects = measure(generator(disk, 0.08, 0.6), AXES)
    assert effects[1].axis == 1 and effects[1].name is None and effects[1].size == 0
    assert set(effects[1].changes.values()) == {0}
    assert measure(generator(disk, 0.08, 0.6), torch.zeros(1, 2))[0].name is None  # a direction the model lacks


def test_a_change_too_small_to_see_is_hidden_and_one_just_large_enough_is_shown():
    brightness = next(p for p in PROPERTIES if p.key == "brightness")
    per_unit = brightness.visible / 255 / (2 * SPAN)  # the whole -3..+3 move changes the shade by `visible`
    below, above = (measure(generator(disk, per_unit * factor, 0.5), AXES[:1])[0] for factor in (0.8, 1.25))
    assert below.name is None and 0.75 < below.size < 0.85
    assert above.name == "darker ↔ lighter" and 1.2 < above.size < 1.3


def test_directions_are_ordered_by_the_size_of_their_effect():
    """Four directions of one shade: z0 a little, z1 a lot, z2 a lot toward darker (turned round), z3 nothing."""
    def draw(z, labels):
        return disk(0.5 + 0.01 * z[:, 0] + 0.06 * z[:, 1] - 0.03 * z[:, 2])

    effects = measure(draw, torch.eye(4))
    assert [(e.axis, e.sign) for e in effects] == [(1, 1), (2, -1), (0, 1), (3, 1)]
    assert [e.name for e in effects] == ["darker ↔ lighter", "darker ↔ lighter (2)", "darker ↔ lighter (3)", None]
    assert effects[0].size > effects[1].size > effects[2].size > effects[3].size == 0
    assert effects[1].changes["brightness"] > 0  # measured along the turned direction: + is lighter


def test_the_measure_is_deterministic_and_drawn_over_every_class():
    seen = []

    def draw(z, labels):
        seen.append(labels)
        return ring(2.5 + 0.3 * z[:, 0] + 0.01 * labels)

    first = measure(draw, AXES, num_classes=10)
    assert measure(draw, AXES, num_classes=10) == first
    assert sorted(seen[0].tolist()) == sorted(list(range(10)) * 12 + list(range(4)) * 2)  # 64 latents, twice
    assert measure(draw, AXES, num_classes=10, seed=1)[0].name == first[0].name  # other latents, same verdict


def test_the_classifier_names_a_direction_that_moves_the_class():
    """A change the pixel measures cannot see (one corner pixel), but the classifier reads as Shirt vs Coat."""
    def draw(z, labels):
        pictures = disk(torch.full((len(z),), 0.6))
        pictures[:, 0, 0, 0] = (0.5 + 0.1 * z[:, 0]).clamp(0, 1)
        return pictures

    def classify(pictures):
        shirt = pictures[:, 0, 0, 0]
        return torch.stack([(1 - shirt) / 2, shirt, (1 - shirt) / 2], 1)  # Coat, Shirt, Bag

    effects = measure(draw, AXES, num_classes=3, classify=classify, class_names=["Coat", "Shirt", "Bag"])
    assert effects[0].name == "toward Coat ↔ toward Shirt"
    assert effects[0].changes["p(Shirt)"] / CLASS_VISIBLE == pytest.approx(effects[0].size)
    assert effects[1].name is None


def test_a_second_visible_effect_is_named_at_its_end():
    """Pictures that grow lighter and wider together: both effects, each where it is."""
    def draw(z, labels):
        return bars(12.0 + z[:, 0]) * (0.5 - 0.05 * z[:, 0])[:, None, None, None]

    effect = measure(draw, AXES[:1])[0]
    assert effect.name == "narrower, lighter ↔ wider, darker"


def test_two_directions_of_one_effect_are_told_apart_by_the_next_one():
    """z0 lightens a lot; z1 lightens a little less and widens a little: too little to name it first, enough to
    tell the second slider from the first."""
    def draw(z, labels):
        return bars(12.0 + 0.25 * z[:, 1]) * (0.5 + 0.06 * z[:, 0] + 0.05 * z[:, 1])[:, None, None, None]

    effects = measure(draw, torch.eye(3))
    assert [e.name for e in effects] == ["darker ↔ lighter", "darker, narrower ↔ lighter, wider", None]


def test_the_pixel_measures_read_what_was_drawn():
    width, height, thickness, ink, brightness, symmetry = picture_properties(bars(torch.tensor([12.0])))[0].tolist()
    assert width == pytest.approx(14, abs=0.2)  # 12 px apart, 2 px each: the outer edges 14 px apart
    assert height == pytest.approx(16 * 0.96, abs=0.1)  # the extent leaves out 2% of the ink at each end
    assert thickness == pytest.approx(2, abs=0.3)
    assert ink == pytest.approx(2 * 2 * 16, rel=0.05) and brightness == pytest.approx(255)
    assert symmetry == pytest.approx(0, abs=1e-3)  # a mirror image of itself
    big = picture_properties(torch.nn.functional.interpolate(bars(torch.tensor([12.0])), scale_factor=2))[0]
    assert big[:4].tolist() == pytest.approx([width, height, thickness, ink], rel=0.05)  # in 28-pixel pixels

"""The VAE tab's latent map, manifold, prior samples and reconstructions (aigc.studio.latent_map, aigc.studio.vae).

Nothing here depends on how well a model is trained: only on how codes, pixels and pictures map to each other.
"""

import math

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from aigc.data import CLASS_NAMES, held_out
from aigc.studio import InputError, latent_map, vae
from aigc.ui import vae as ui

VAE_2D, VAE_32D = "vae-mnist-2d", "vae-mnist"
CELL = 28 * latent_map.CELL_SCALE


def pixels(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture, dtype=np.int16)


def drawing(shape="disk") -> Image.Image:
    picture = Image.new("RGB", (90, 60), "white")
    draw = ImageDraw.Draw(picture)
    if shape == "disk":
        draw.ellipse((14, 12, 50, 48), fill="black")
    else:
        draw.rectangle((36, 6, 45, 54), fill="black")
    return picture


# --- the manifold ------------------------------------------------------------------------------------

def test_manifold_codes_sit_at_the_priors_quantiles_with_z2_upwards():
    codes = latent_map.manifold_codes()
    assert codes.shape == (latent_map.GRID, latent_map.GRID, 2)
    edge = math.sqrt(2) * float(torch.erfinv(torch.tensor(2 * 0.95 - 1, dtype=torch.float64)))  # 1.645
    assert codes[0, -1].tolist() == pytest.approx([edge, edge], abs=1e-5)  # top right: both large
    assert codes[-1, 0].tolist() == pytest.approx([-edge, -edge], abs=1e-5)  # bottom left: both small
    assert codes[7, 7].tolist() == pytest.approx([0, 0], abs=1e-6)  # the centre cell is the prior's mean
    assert (codes[:, 1:, 0] > codes[:, :-1, 0]).all() and (codes[1:, :, 1] < codes[:-1, :, 1]).all()


@pytest.mark.parametrize("row, column", [(0, 0), (0, 14), (7, 7), (3, 11), (14, 2)])
def test_the_centre_of_a_manifold_cell_maps_to_that_cells_code(row, column):
    z = latent_map.manifold_pixel_to_z((column + 0.5) * CELL, (row + 0.5) * CELL)
    torch.testing.assert_close(z, latent_map.manifold_codes()[row, column], atol=1e-5, rtol=0)


def test_pixels_between_centres_map_between_their_codes_and_clicks_outside_are_clamped():
    codes = latent_map.manifold_codes()
    between = latent_map.manifold_pixel_to_z(4 * CELL, 2 * CELL)  # the corner of cells (1, 3) and (2, 4)
    assert codes[1, 3, 0] < between[0] < codes[2, 4, 0] and codes[2, 4, 1] < between[1] < codes[1, 3, 1]
    size = latent_map.GRID * CELL
    torch.testing.assert_close(latent_map.manifold_pixel_to_z(-50, 10**9), latent_map.manifold_pixel_to_z(0, size))
    with pytest.raises(InputError, match="NaN"):
        latent_map.manifold_pixel_to_z(float("nan"), 3)


def test_a_click_on_the_manifold_decodes_the_cell_under_the_cursor():
    grid = latent_map.manifold(VAE_2D)
    assert grid.size == (latent_map.GRID * CELL, latent_map.GRID * CELL)
    for row, column in [(0, 0), (5, 9), (14, 14)]:
        picture, z = latent_map.click_manifold(VAE_2D, [int((column + 0.5) * CELL), int((row + 0.5) * CELL)])
        torch.testing.assert_close(z, latent_map.manifold_codes()[row, column], atol=1e-5, rtol=0)
        scale = latent_map.POINT_SCALE
        assert picture.size == (28 * scale, 28 * scale)
        cell = pixels(grid)[row * CELL:(row + 1) * CELL:latent_map.CELL_SCALE,
                            column * CELL:(column + 1) * CELL:latent_map.CELL_SCALE]
        assert np.abs(pixels(picture)[::scale, ::scale] - cell).max() <= 1  # the same picture, up to rounding


def test_the_manifold_needs_a_2d_vae_and_a_real_click():
    with pytest.raises(InputError, match="32-d latent space"):
        latent_map.click_manifold(VAE_32D, [10, 10])
    with pytest.raises(InputError, match="pixel coordinates"):
        latent_map.click_manifold(VAE_2D, "middle")
    with pytest.raises(InputError, match="Unknown model"):
        latent_map.manifold("gan-mnist")


# --- the map of the test codes -----------------------------------------------------------------------

@pytest.mark.parametrize("model", [VAE_2D, VAE_32D])
def test_the_map_has_one_colour_per_class_and_a_legend(model):
    view = latent_map.latent_map(model)
    assert view.class_names == tuple(CLASS_NAMES["mnist"])
    assert len(view.class_colours) == len(set(view.class_colours)) == len(view.class_names)
    assert view.coords.shape == (len(view.labels), 2) and set(view.labels.tolist()) == set(range(10))
    drawn = pixels(view.picture.convert("RGB")).reshape(-1, 3)
    for colour in view.class_colours:  # the legend's markers show every class's colour at full strength
        rgb = np.round(np.array(colour[:3]) * 255)
        assert np.abs(drawn - rgb).max(1).min() <= 3, f"colour {rgb} is not in the picture"
    assert latent_map.latent_map(model) is view  # computed once


def test_the_maps_pixels_follow_the_axes_drawn():
    view = latent_map.latent_map(VAE_2D)
    left, top, right, bottom = view.box
    dark = pixels(view.picture.convert("L"))
    middle_x, middle_y = int((left + right) / 2), int((top + bottom) / 2)
    for x, y in [(left, middle_y), (right, middle_y)]:  # the frame of the axes is where the box says
        assert dark[y, int(x) - 1:int(x) + 2].min() < 100
    for x, y in [(middle_x, top), (middle_x, bottom)]:
        assert dark[int(y) - 1:int(y) + 2, x].min() < 100
    corners = torch.tensor([[view.limits[0], view.limits[3]], [view.limits[1], view.limits[2]]])
    torch.testing.assert_close(view.plane_to_pixels(corners).float(), torch.tensor([[left, top], [right, bottom]]))


def test_a_click_on_the_map_decodes_the_code_under_the_cursor():
    view = latent_map.latent_map(VAE_2D)
    torch.testing.assert_close(view.mean, torch.zeros(2))  # a 2-d VAE is mapped in its own coordinates
    z = torch.tensor([0.7, -1.2])
    x, y = view.plane_to_pixels(z).tolist()[0]
    picture, decoded_z = latent_map.click_map(VAE_2D, [x, y])
    torch.testing.assert_close(decoded_z, z, atol=1e-5, rtol=0)
    assert np.array_equal(pixels(picture), pixels(latent_map.decode_point(VAE_2D, z)))


def test_a_click_on_the_pca_map_decodes_a_point_of_the_plane():
    view = latent_map.latent_map(VAE_32D)
    torch.testing.assert_close(view.components @ view.components.T, torch.eye(2), atol=1e-5, rtol=0)
    assert 0 < view.explained[1] <= view.explained[0] < 1
    point = view.coords[0]
    x, y = view.plane_to_pixels(point).tolist()[0]
    _, z = latent_map.click_map(VAE_32D, [x, y])
    assert z.shape == (32,)
    torch.testing.assert_close(view.to_plane(z)[0], point, atol=1e-4, rtol=0)
    with pytest.raises(InputError, match="NaN"):
        latent_map.click_map(VAE_32D, [float("nan"), 3])


@pytest.mark.parametrize("mode", ["lerp", "slerp"])
def test_the_pca_path_has_a_point_per_frame_from_a_to_b(mode):
    a, b = drawing(), drawing("bar")
    model, path = vae.latent_path(VAE_32D, a, b, 7, mode)
    assert path.shape == (7, 32)
    on_map = latent_map.path_pixels(VAE_32D, path)
    assert on_map.shape == (7, 2)
    _, x = vae.encode_pair(VAE_32D, a, b)
    with torch.inference_mode():
        ends = latent_map.path_pixels(VAE_32D, model.encode(x)[0])
    torch.testing.assert_close(on_map[[0, -1]], ends, atol=1e-3, rtol=0)
    assert len(latent_map.path_pixels(VAE_32D, vae.path_codes(VAE_32D, a, b, 1000))) == vae.MAX_STEPS
    base, drawn = latent_map.latent_map(VAE_32D).picture, latent_map.map_picture(VAE_32D, path)
    assert drawn.size == base.size and not np.array_equal(pixels(drawn), pixels(base))
    assert np.array_equal(pixels(latent_map.map_picture(VAE_32D, None)), pixels(base))


# --- samples from the prior --------------------------------------------------------------------------

def test_prior_samples_are_fixed_by_the_seed():
    first = vae.sample_tensors(VAE_32D, 16, 1.0, seed=3)
    assert first.shape == (16, 1, 28, 28) and 0 <= first.min() and first.max() <= 1
    torch.testing.assert_close(vae.sample_tensors(VAE_32D, 16, 1.0, seed=3), first, atol=0, rtol=0)
    assert not torch.equal(vae.sample_tensors(VAE_32D, 16, 1.0, seed=4), first)
    assert not torch.equal(first[0], first[1])


def test_temperature_0_decodes_the_priors_mean_every_time():
    samples = vae.sample_tensors(VAE_2D, 9, temperature=0, seed=11)
    with torch.inference_mode():
        mean = latent_map.vae_of(VAE_2D).decode(torch.zeros(1, 2))
    torch.testing.assert_close(samples, samples[:1].expand_as(samples), atol=1e-6, rtol=0)  # all alike
    torch.testing.assert_close(samples, mean.expand_as(samples), atol=1e-6, rtol=0)  # up to batching's rounding


def test_sample_grid_and_limits():
    grid = vae.sample(VAE_32D, 16, 0.8, 1)
    side = (4 * 30 + 2) * vae.SAMPLE_SCALE  # 4 × 4 samples of 28 px, 2 px apart
    assert grid.size == (side, side)
    assert len(vae.sample_tensors(VAE_32D, 10**12)) == vae.MAX_SAMPLES
    assert len(vae.sample_tensors(VAE_32D, -5)) == vae.MIN_SAMPLES
    torch.testing.assert_close(vae.sample_tensors(VAE_32D, 4, 1e9, 2), vae.sample_tensors(VAE_32D, 4, 2.0, 2))
    with pytest.raises(InputError, match="temperature"):
        vae.sample_tensors(VAE_32D, 4, float("nan"))
    with pytest.raises(InputError, match="seed"):
        vae.sample(VAE_32D, 4, 1.0, "lucky")
    with pytest.raises(InputError, match="Unknown model"):
        vae.sample("gan-mnist")


# --- reconstructions and the tab's handlers ----------------------------------------------------------

def test_reconstructions_are_the_first_and_last_frames():
    a, b = drawing(), drawing("bar")
    recon_a, recon_b = vae.reconstructions(VAE_32D, a, b)
    frames, _ = vae.interpolate(VAE_32D, a, b, steps=5)
    assert np.array_equal(pixels(recon_a), pixels(frames[0])) and np.array_equal(pixels(recon_b), pixels(frames[-1]))


def test_the_map_shows_without_pictures_and_bad_models_are_errors(tmp_path):
    recon_a, recon_b, picture = ui.latent_views(VAE_32D, None, None)
    assert recon_a is None and recon_b is None
    assert np.array_equal(pixels(picture), pixels(latent_map.latent_map(VAE_32D).picture))
    drawing().save(tmp_path / "a.png")
    drawing("bar").save(tmp_path / "b.png")
    upload = {"path": str(tmp_path / "a.png")}, {"path": str(tmp_path / "b.png")}
    recon_a, recon_b, with_path = ui.latent_views(VAE_32D, *upload, 6, "slerp")
    assert recon_a.size == (224, 224) and not np.array_equal(pixels(with_path), pixels(picture))
    with pytest.raises(gr.Error, match="Unknown model"):
        ui.latent_views("gpt-shakespeare", None, None)
    with pytest.raises(gr.Error, match="temperature"):
        ui.prior_samples(VAE_32D, "nan")


def test_a_click_event_decodes_and_labels_the_point():
    centre = int(11.5 * CELL), int(2.5 * CELL)  # cell (row 2, column 11)
    update = ui.decode_manifold_click(VAE_2D, gr.SelectData(None, {"index": list(centre), "value": None}))
    z = latent_map.manifold_codes()[2, 11]
    assert update.label == f"Decoded point: z = ({z[0]:+.2f}, {z[1]:+.2f})"
    with pytest.raises(gr.Error, match="32-d latent space"):
        ui.decode_manifold_click(VAE_32D, gr.SelectData(None, {"index": list(centre), "value": None}))


def test_each_picture_is_shown_as_the_model_sees_it(tmp_path):
    """A dark drawing on white is shown light on dark, 28×28 upscaled: exactly what the encoder gets."""
    seen = vae.as_the_model_sees_it(VAE_32D, drawing("bar"))
    vae_model = vae.registry().get(VAE_32D, "vae")
    expected = vae.to_pil(vae.model_input(vae_model, drawing("bar"), "B"), vae.SCALE)
    assert seen.size == (28 * vae.SCALE, 28 * vae.SCALE) and np.array_equal(pixels(seen), pixels(expected))
    column = pixels(seen)[:, seen.width // 2]
    assert column.max() > 200 and pixels(seen)[:, :20].max() < 30  # a light bar in the middle, dark around it
    drawing().save(tmp_path / "a.png")
    assert np.array_equal(pixels(ui.model_view(VAE_32D, {"path": str(tmp_path / "a.png")}, what="Image A")),
                          pixels(vae.as_the_model_sees_it(VAE_32D, drawing())))
    assert ui.model_view(VAE_32D, None, what="Image A") is None  # cleared: nothing to show, and no error
    Image.new("RGB", (50, 50), "white").save(tmp_path / "blank.png")
    with pytest.warns(UserWarning, match="blank"):
        assert ui.model_view(VAE_32D, {"path": str(tmp_path / "blank.png")}, what="Image A") is None


def test_a_changed_picture_walks_again_but_waits_for_both():
    assert ui.walk_on_change(VAE_32D, None, {"path": "b.png"}) == [gr.skip(), gr.skip()]  # the frames, the GIF


def test_a_blank_sketchpad_and_a_page_without_pictures_change_nothing():
    blank = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    assert ui.drawing({"composite": blank}) == ui.drawing(None) == [gr.skip(), gr.skip()]  # the picture, its name

    class NoLink:
        query_params: dict = {}

    assert ui.open_page(VAE_32D, [None, None], NoLink()) == [gr.skip()] * (len(ui.LINKED) + len(ui.WALK))


# --- picked test pictures go in as they are ----------------------------------------------------------

def picked(tmp_path, model: str, position: int) -> tuple[dict, str]:
    """A gallery click, as the page holds its result: the picture as a PNG file, and the picture's name."""
    picture, source = ui.pick_example(model, gr.SelectData(None, {"index": position, "value": None}))
    picture.save(tmp_path / f"{position}.png")
    return {"path": str(tmp_path / f"{position}.png")}, source


def dataset_image(source: str) -> torch.Tensor:
    dataset, _, index = source.partition(":")
    images = held_out(dataset)
    return images.images[images.position(int(index))]


@pytest.mark.parametrize("model", [VAE_32D, "vae-fashion"])
def test_a_picked_test_picture_reaches_the_model_as_its_dataset_tensor(tmp_path, model):
    """No re-framing for a test picture: "as seen" is the dataset image, and the walk starts from its code."""
    (payload_a, source_a), (payload_b, source_b) = picked(tmp_path, model, 4), picked(tmp_path, model, 7)
    x_a, x_b = dataset_image(source_a), dataset_image(source_b)
    seen = ui.model_view(model, payload_a, source_a, what="Image A")
    assert np.array_equal(pixels(seen), pixels(vae.to_pil(x_a, vae.SCALE)))
    assert np.array_equal(pixels(seen)[::vae.SCALE, ::vae.SCALE], np.round(x_a[0].numpy() * 255))
    vae_model = vae.registry().get(model, "vae")
    assert torch.equal(vae.model_input(vae_model, ui.fed(payload_a, source_a, "Image A"), "Image A"), x_a)
    assert not torch.equal(vae.model_input(vae_model, payload_a["path"], "Image A"), x_a)  # what re-framing did
    frames = [frame for frame, _ in ui.vae_interpolate(model, payload_a, payload_b, 4, "lerp", source_a, source_b)[0]]
    with torch.inference_mode():
        ends = vae_model.decode(vae_model.encode(torch.stack([x_a, x_b]))[0])
    assert np.abs(pixels(frames[0]) - pixels(vae.to_pil(ends[0], vae.SCALE))).max() <= 1  # up to batching's rounding
    assert np.abs(pixels(frames[-1]) - pixels(vae.to_pil(ends[1], vae.SCALE))).max() <= 1


def test_an_upload_that_replaced_a_picked_picture_is_framed_as_an_upload(tmp_path):
    """The page's name of a picked picture may lag behind an upload: the picture shown decides."""
    _, source = picked(tmp_path, VAE_32D, 4)
    drawing().save(tmp_path / "upload.png")
    upload = {"path": str(tmp_path / "upload.png")}
    assert np.array_equal(pixels(ui.model_view(VAE_32D, upload, source, what="Image A")),
                          pixels(vae.as_the_model_sees_it(VAE_32D, drawing())))
    assert ui.fed(upload, source, "Image A") == upload["path"]


def test_the_starting_walk_and_a_linked_walk_start_from_the_dataset_tensors():
    class NoLink:
        query_params: dict = {}

    sources = [vae.example_source(VAE_32D, i) for i in (ui.EXAMPLE_A, ui.EXAMPLE_B)]
    frames = ui.open_page(VAE_32D, sources, NoLink())[len(ui.LINKED)]
    expected, _ = vae.interpolate(VAE_32D, *map(vae.dataset_picture, sources))
    assert len(frames) == vae.DEFAULT_STEPS
    assert all(np.array_equal(pixels(x), pixels(y)) for (x, _), y in zip(frames, expected, strict=True))
    linked = ui.linked_walk({"model": VAE_32D, "a": sources[0], "b": sources[1], "steps": "10"})
    assert all(np.array_equal(pixels(x), pixels(y)) for (x, _), y in zip(linked[7], expected, strict=True))


# --- what the page says about its pictures, and how the tab is wired ----------------------------------------------

def test_each_frame_says_which_frame_of_the_walk_it_is(tmp_path):
    drawing().save(tmp_path / "a.png")
    drawing("bar").save(tmp_path / "b.png")
    frames, gif = ui.vae_interpolate(VAE_32D, {"path": str(tmp_path / "a.png")}, {"path": str(tmp_path / "b.png")}, 4)
    assert [caption for _, caption in frames] == ["Frame 1 of 4", "Frame 2 of 4", "Frame 3 of 4", "Frame 4 of 4"]
    assert all(picture.size == (224, 224) for picture, _ in frames) and gif.endswith(".gif")


def test_the_test_pictures_are_captioned_and_described_by_their_class():
    gallery = ui.example_gallery("vae-fashion")
    assert [caption for _, caption in gallery] == CLASS_NAMES["fashion"]  # the first picture of each class
    source = vae.example_source("vae-fashion", 3)
    assert ui.picture_text(source, "Image A") == f"Image A: test picture {source}, class Dress"
    assert ui.picture_text(None, "Image B") == "Image B: an uploaded or drawn picture"
    assert ui.picture_text("mnist:123456789", "Image A") == "Image A: an uploaded or drawn picture"  # not here


@pytest.fixture(scope="module")
def page():
    """The VAE tab alone, built as the app builds it (its components and events, not served)."""
    with gr.Blocks() as blocks:
        ui.tab(blocks)
    return blocks


def components(blocks: gr.Blocks, kind) -> list:
    return [block for block in blocks.blocks.values() if isinstance(block, kind)]


def triggers(blocks: gr.Blocks, handler) -> set[tuple[str, str]]:
    """(elem_id or label, event) of every trigger of the events that run ``handler``."""
    named = {id_: block.elem_id or getattr(block, "label", None) for id_, block in blocks.blocks.items()}
    return {(named.get(id_), event) for fn in blocks.fns.values() if fn.name == handler.__name__
            for id_, event in fn.targets}


def test_every_picture_of_the_tab_has_a_text_alternative(page):
    images = components(page, gr.Image)
    assert len(images) == 11 and all(image.alt_text for image in images)  # 3 a side, GIF, map (2), point, prior
    shown_a = next(image for image in images if image.elem_id == "vae-image-a")
    assert shown_a.alt_text == ui.picture_text(vae.example_source(VAE_32D, ui.EXAMPLE_A), "Image A")


def test_the_frames_and_the_test_pictures_are_for_looking_at_not_for_uploading(page):
    galleries = [gallery for gallery in components(page, gr.Gallery) if "vae-gallery" in gallery.elem_classes]
    assert len(galleries) == 3 and all(gallery.interactive is False for gallery in galleries)  # frames, A's, B's
    examples = [gallery for gallery in galleries if gallery.elem_id != "vae-frames"]
    assert all([item["caption"] for item in gallery.value] == CLASS_NAMES["mnist"] for gallery in examples)


def test_steps_and_temperature_follow_a_drag_the_arrow_keys_and_a_typed_value(page):
    """A slider's input event fires for each of them; release fires for the mouse alone."""
    for handler in (ui.vae_interpolate, ui.latent_views):
        assert ("vae-steps", "input") in triggers(page, handler)
    assert ("vae-temperature", "input") in triggers(page, ui.prior_samples)
    assert not any(event == "release" for fn in page.fns.values() for _, event in fn.targets)

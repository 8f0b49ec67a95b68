"""The app's plain functions (aigc.studio) on the bundled weights, without Gradio or a browser."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from aigc.hub import ModelLoadError
from aigc.models import VAE, VAEConfig
from aigc.studio import InputError, compare, gan, text, uploads, vae
from aigc.studio.models import GAN_TYPES, Registry, registry

GAN, VAE_NAME, GPT = "gan-mnist", "vae-mnist", "gpt-shakespeare"
NO_OFFSETS = [0.0] * gan.NUM_DIRECTIONS


def pixels(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture, dtype=np.int16)


def offsets(direction: int, value: float) -> list[float]:
    moved = list(NO_OFFSETS)
    moved[direction] = value
    return moved


def drawing(size=(90, 60), mode="RGB", ink="black", paper="white", shape="disk") -> Image.Image:
    """A dark disk (or bar) on light paper, off-centre in a frame that is not square."""
    picture = Image.new(mode, size, paper)
    w, h = size
    draw = ImageDraw.Draw(picture)
    if shape == "disk":
        draw.ellipse((w * 0.15, h * 0.2, w * 0.15 + h * 0.6, h * 0.8), fill=ink)
    else:
        draw.rectangle((w * 0.4, h * 0.1, w * 0.5, h * 0.9), fill=ink)
    return picture


def last(stream):
    *_, result = stream
    return result


# --- GAN ------------------------------------------------------------------------------------------

def test_gan_picture_is_crisp_280px_and_fixed_by_its_seed():
    picture = gan.generate(GAN, "3", seed=1)
    assert picture.size == (280, 280) and picture.mode == "L"
    assert np.array_equal(pixels(picture)[::10, ::10].repeat(10, 0).repeat(10, 1), pixels(picture))  # nearest
    assert np.array_equal(pixels(gan.generate(GAN, 3, seed=1)), pixels(picture))  # a class by index or name
    assert not np.array_equal(pixels(gan.generate(GAN, "3", seed=2)), pixels(picture))


@pytest.mark.parametrize("method", list(gan.METHODS.values()))
def test_gan_sliders_are_named_strongest_first_and_every_named_one_visibly_changes_the_picture(method):
    sliders = gan.sliders(GAN, method)
    names = gan.direction_names(GAN, method)
    assert len(names) == gan.NUM_DIRECTIONS and names[0] is not None
    assert names == sorted(names, key=lambda name: name is None)  # hidden ones last
    sizes = [effect.size for effect in sliders.effects]
    assert sizes == sorted(sizes, reverse=True)
    assert all((name is None) == (size < 1) for name, size in zip(names, sizes, strict=True))
    for k, name in enumerate(names):
        if name is None:
            continue
        changes = [np.abs(pixels(gan.generate(GAN, label, seed, 0.7, offsets(k, 3.0), method))
                          - pixels(gan.generate(GAN, label, seed, 0.7, offsets(k, -3.0), method))).mean()
                   for label, seed in ((0, 1), (4, 2), (7, 3))]
        assert np.mean(changes) > 2, f"{method} slider {k + 1} ({name}) changes {changes} grey levels on average"


def test_each_gan_slider_moves_one_of_the_methods_own_directions_turned_as_its_name_reads():
    from aigc.latent import sefa_directions

    found = sefa_directions(registry().get(GAN), gan.NUM_DIRECTIONS)[0]
    sliders = gan.sliders(GAN, "SeFa")
    assert sorted(map(abs, sliders.axes)) == list(range(1, gan.NUM_DIRECTIONS + 1))
    for row, axis in zip(sliders.directions, sliders.axes, strict=True):
        torch.testing.assert_close(row, found[abs(axis) - 1] * (1 if axis > 0 else -1))
    assert gan.directions(GAN, "SeFa") is sliders.directions  # measured once, cached


def test_the_gan_effect_is_measured_by_the_datasets_classifier_when_there_is_one():
    effects = gan.sliders("gan-fashion", "SeFa").effects
    assert "p(Shirt)" in effects[0].changes and "brightness" in effects[0].changes


def test_truncation_zero_gives_the_same_picture_for_every_seed():
    assert np.array_equal(pixels(gan.generate(GAN, 5, 1, 0.0)), pixels(gan.generate(GAN, 5, 12345, 0.0)))


def test_out_of_range_values_are_clamped():
    clamped = gan.generate(GAN, 0, 1, 1.0, offsets(0, 3.0))
    assert np.array_equal(pixels(gan.generate(GAN, 0, 1, 7.5, offsets(0, 99))), pixels(clamped))
    assert np.array_equal(pixels(gan.generate(GAN, 0, -5, 0.7)), pixels(gan.generate(GAN, 0, 0, 0.7)))


def test_bad_gan_inputs_say_what_is_wrong():
    with pytest.raises(InputError, match="Unknown model 'nope'; choose one of: .*gan-mnist"):
        gan.generate("nope")
    with pytest.raises(InputError, match="Unknown model"):
        gan.generate(VAE_NAME)  # a VAE is not a GAN
    with pytest.raises(InputError, match="Unknown class 'Sneaker'"):
        gan.generate(GAN, "Sneaker")
    with pytest.raises(InputError, match="Expected a number for seed"):
        gan.generate(GAN, 0, "lucky")


def test_gan_sweep_moves_one_slider_and_keeps_the_others():
    kept = [1.0, 0, 0.7, 0, 0, 0, 0, -2.0]
    frames = gan.sweep_frames(GAN, 2, 7, 0.7, direction=3, frames=10, offsets=kept)
    assert len(frames) == 11  # made odd, so that the middle is offset 0
    moved = lambda value: [1.0, 0, value, 0, 0, 0, 0, -2.0]  # noqa: E731
    assert np.array_equal(pixels(frames[5]), pixels(gan.generate(GAN, 2, 7, 0.7, moved(0.0))))
    assert np.array_equal(pixels(frames[0]), pixels(gan.generate(GAN, 2, 7, 0.7, moved(-3.0))))
    assert np.array_equal(pixels(frames[-1]), pixels(gan.generate(GAN, 2, 7, 0.7, moved(3.0))))
    alone = gan.sweep_frames(GAN, 2, 7, 0.7, direction=3, frames=10)  # no offsets: every other slider at 0
    assert np.array_equal(pixels(alone[5]), pixels(gan.generate(GAN, 2, 7, 0.7)))
    assert len(gan.sweep_frames(GAN, 2, 7, 0.7, direction=99, frames=10**6)) == gan.MAX_FRAMES
    gif = Image.open(gan.sweep(GAN, 2, 7, 0.7, direction=1, frames=5, offsets=kept))
    assert gif.format == "GIF" and gif.n_frames == 5  # the asked number: -3 to +3, then it loops


def test_each_gan_strip_frames_the_picture_at_its_sliders_value():
    point = [1.3, -3.0, 0, 0.4, 0, 0, 2.9, 0]
    strips = gan.preview_strips(GAN, 5, 3, 0.7, "SeFa", point)
    shown = pixels(gan.generate(GAN, 5, 3, 0.7, point))[::gan.SCALE, ::gan.SCALE]
    scale, cell = gan.PREVIEW_SCALE, 29  # 28 px and 1 px of padding
    mark = np.array([round(channel * 255) for channel in gan.MARK_COLOUR])
    for k, (strip, value) in enumerate(zip(strips, point, strict=True)):
        assert strip.mode == "RGB"
        grid = pixels(strip)[::scale, ::scale]
        framed = [i for i in range(gan.PREVIEW_FRAMES) if (grid[0, i * cell + 1:(i + 1) * cell] == mark).all()]
        assert framed == [round(value + 3)], f"slider {k + 1} at {value}: frames {framed}"  # the nearest cell
        x = framed[0] * cell + 1
        assert np.abs(grid[1:29, x:x + 28, 0] - shown).max() <= 1  # it shows the picture at the value itself
        assert (grid[:, x - 1] == mark).all() and (grid[:, x + 28] == mark).all()
    at_zero = gan.preview_strips(GAN, 5, 3, 0.7, "SeFa")  # no offsets: every strip at 0, its middle cell framed
    middle = (gan.PREVIEW_FRAMES // 2) * cell + 1
    assert all((pixels(strip)[0, middle * scale] == mark).all() for strip in at_zero)


# --- uploads and the VAE --------------------------------------------------------------------------

def save(picture: Image.Image, path, **kwargs) -> str:
    picture.save(path, **kwargs)
    return str(path)


def sixteen_bit(folder) -> str:
    levels = np.where(np.asarray(drawing(mode="L")) < 128, 3_000, 60_000).astype(np.uint16)
    picture = Image.fromarray(levels)
    assert picture.mode == "I;16"
    return save(picture, folder / "a.png")


def text_file(folder) -> str:
    (folder / "notes.png").write_text("not a picture")
    return str(folder / "notes.png")


UPLOADS = {
    "rgb, dark on white": lambda d: save(drawing(), d / "a.png"),
    "rgba, dark on transparent": lambda d: save(drawing(mode="RGBA", paper=(0, 0, 0, 0)), d / "a.png"),
    "rgba, white on transparent": lambda d: save(drawing(mode="RGBA", ink="white", paper=(0, 0, 0, 0)), d / "a.png"),
    "palette": lambda d: save(drawing(ink=(200, 30, 30)).convert("P", palette=Image.Palette.ADAPTIVE), d / "a.gif"),
    "grayscale, light on dark": lambda d: save(drawing(mode="L", ink=230, paper=20), d / "a.bmp"),
    "16-bit": sixteen_bit,
    "huge": lambda d: save(drawing(size=(6000, 4000)), d / "a.jpg", quality=85),
    "tiny": lambda d: save(drawing(size=(9, 6)), d / "a.png"),
}


@pytest.mark.parametrize("kind", UPLOADS)
def test_uploads_of_any_kind_become_a_light_drawing_on_dark(kind, tmp_path):
    x = uploads.to_model_input(UPLOADS[kind](tmp_path))
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert x[0, 12:16, 12:16].mean() > 0.7, "the drawing should be bright and centred"
    assert x[0, :2].max() < 0.1 and x[0, :, :2].max() < 0.1, "the background should be dark"


def test_pictures_in_memory_work_too():
    as_pil = uploads.to_model_input(drawing())
    assert torch.allclose(uploads.to_model_input(np.asarray(drawing())), as_pil)


@pytest.mark.parametrize("make, message", [
    (lambda d: None, "Image A is missing"),
    (lambda d: save(Image.new("RGB", (50, 50), "white"), d / "blank.png"), "blank"),
    (lambda d: save(Image.new("RGBA", (280, 280), (0, 0, 0, 0)), d / "empty-sketch.png"), "blank"),
    (text_file, "not a picture"),
    (lambda d: save(Image.new("1", (8000, 8000)), d / "bomb.png"), "limit is 50 megapixels"),
])
def test_unusable_pictures_say_why(make, message, tmp_path):
    with pytest.raises(InputError, match=message):
        uploads.to_model_input(make(tmp_path), "Image A")


@pytest.mark.parametrize("mode", ["lerp", "slerp"])
def test_interpolation_starts_and_ends_at_the_reconstructions(mode):
    a, b = drawing(), drawing(shape="bar")
    frames = vae.interpolate_tensors(VAE_NAME, a, b, 7, mode)
    assert frames.shape == (7, 1, 28, 28) and 0 <= frames.min() and frames.max() <= 1
    model, x = vae.encode_pair(VAE_NAME, a, b)
    with torch.inference_mode():
        reconstructions = model.decode(model.encode(x)[0])
    torch.testing.assert_close(frames[[0, -1]], reconstructions, atol=1e-5, rtol=0)


def test_interpolate_gives_upscaled_frames_and_a_gif():
    frames, gif = vae.interpolate(VAE_NAME, drawing(), drawing(shape="bar"), steps=1000, mode="slerp")
    assert len(frames) == vae.MAX_STEPS and frames[0].size == (224, 224)
    assert Image.open(gif).n_frames == 2 * vae.MAX_STEPS - 2
    assert len(vae.interpolate_tensors(VAE_NAME, drawing(), drawing(), steps=0)) == vae.MIN_STEPS


def test_bad_vae_inputs_say_what_is_wrong():
    with pytest.raises(InputError, match="Image B is missing"):
        vae.interpolate(VAE_NAME, drawing(), None)
    with pytest.raises(InputError, match="Unknown mode 'cubic'"):
        vae.interpolate(VAE_NAME, drawing(), drawing(), mode="cubic")
    with pytest.raises(InputError, match="Unknown model"):
        vae.interpolate(GAN, drawing(), drawing())


# --- text -----------------------------------------------------------------------------------------

def test_text_is_fixed_by_its_seed_and_reports_probabilities():
    first = last(text.stream("ROMEO:", 40, 1.0, 0, 1.0, seed=1, model=GPT))
    assert len(first.text) == 40 and first.seed == 1
    assert len(first.probabilities) == 40 and all(0 < p <= 1 for p in first.probabilities)
    assert last(text.stream("ROMEO:", 40, 1.0, 0, 1.0, seed=1, model=GPT)).text == first.text
    assert last(text.stream("ROMEO:", 40, 1.0, 0, 1.0, seed=2, model=GPT)).text != first.text
    random_seed = last(text.stream("ROMEO:", 5, seed=None, model=GPT)).seed
    assert 0 <= random_seed  # reported so that the person can repeat it


def test_max_new_tokens_is_clamped(monkeypatch):
    assert text.MAX_NEW_TOKENS == 2000
    monkeypatch.setattr(text, "MAX_NEW_TOKENS", 25)  # the clamp, without sampling 2000 characters
    assert len(last(text.stream("", 10**9, seed=0, model=GPT)).text) == 25
    assert len(last(text.stream("", -3, seed=0, model=GPT)).text) == 1


def test_prompts_empty_long_or_with_unknown_characters():
    assert last(text.stream("", 3, seed=0, model=GPT)).prompt == "\n"
    block = registry().get(GPT).config.block_size
    long = last(text.stream("To be, or not to be. " * 100, 3, seed=0, model=GPT))
    assert len(long.prompt) == block and any(f"last {block}" in note for note in long.notes)
    with pytest.raises(InputError, match="does not know these characters: 'é' '😀'"):
        last(text.stream("héllo 😀", 3, model=GPT))


# --- compare and the registry ---------------------------------------------------------------------

def test_compare_has_one_row_per_model_of_the_dataset():
    result = compare.compare("mnist", seed=0)
    expected = registry().of_dataset("mnist", *GAN_TYPES, "vae")
    assert sorted(row[0] for row in result.rows) == sorted(expected)
    assert all(len(row) == len(result.headers) for row in result.rows)
    assert {"FID ↓", "IS ↑", "Precision ↑", "Recall ↑"} <= set(result.headers)
    vaes = registry().of_dataset("mnist", "vae")
    assert len(result.panels) == len(expected) + len(vaes) + 1  # + reconstructions, + the real images
    assert all(picture.size == result.panels[0][0].size for picture, _ in result.panels)
    with pytest.raises(InputError, match="Unknown dataset"):
        compare.compare("cifar")


def test_missing_metrics_show_as_a_dash():
    row = compare.metrics_row("not-a-bundled-model", registry().get(VAE_NAME))
    assert row[2:] == [compare.MISSING] * len(compare.METRICS)


def test_a_model_that_fails_to_load_keeps_its_error_and_the_rest_work(tmp_path):
    good, broken = tmp_path / "good", tmp_path / "broken"
    VAE(VAEConfig(latent_dim=2)).save_pretrained(good)
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "vae"}')
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    models = Registry([str(good), str(broken)])
    assert models.get(str(good), "vae").config.latent_dim == 2
    with pytest.raises(ModelLoadError, match="unavailable: .*corrupt"):
        models.get(str(broken), "vae")
    assert models.names("vae") == [str(good), str(broken)]

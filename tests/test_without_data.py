"""A server with no prepared data and no Debian dataset, as a Hugging Face Space is: every tab still works in full,
from the example pictures shipped in the package, and nothing a visitor reads names a command or a server path."""

import re
import warnings

import numpy as np
import pytest
import torch

from aigc import nearest as index_module
from aigc.data import CLASS_NAMES, held_out, load_images, load_pixels, load_text
from aigc.studio import compare, gan, latent_map, nearest, vae
from aigc.ui import compare as compare_ui
from aigc.ui import nearest as nearest_ui
from aigc.ui import vae as vae_ui

CACHES = (load_pixels, load_images, load_text, held_out, vae.example_indices, latent_map.latent_map,
          index_module.training_set_sha256, nearest.training_images, nearest.held_out_features)
DEVELOPER_WORDS = re.compile(r"prepare|python -m|(?<![\w.])~?/[\w.-]+/|Traceback")  # commands, paths, tracebacks


def forget_the_data() -> None:
    for cache in CACHES:
        cache.cache_clear()


@pytest.fixture(scope="module", autouse=True)
def empty_data(tmp_path_factory):
    """AIGC_DATA is an empty folder and Debian's Fashion-MNIST is hidden, for this module's tests only."""
    folder = tmp_path_factory.mktemp("no-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIGC_DATA", str(folder))
        patch.setenv("AIGC_DEBIAN_FASHION", "")
        forget_the_data()
        yield folder
        forget_the_data()


def for_visitors(text: str) -> str:
    assert not DEVELOPER_WORDS.search(text), text
    return text


@pytest.fixture
def no_warnings():
    """Fails the test if a handler shows a warning (a toast, in the page)."""
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        yield
    assert [str(w.message) for w in shown if issubclass(w.category, UserWarning)] == []


def picked(tmp_path, model: str, position: int) -> tuple[dict, str]:
    """A gallery click, as the page holds it: the picture as a PNG file, and its name."""
    picture, source = vae_ui.pick_example(model, vae_ui.gr.SelectData(None, {"index": position, "value": None}))
    path = tmp_path / f"{model}-{position}.png"
    picture.save(path)
    return {"path": str(path)}, source


def test_the_data_is_really_hidden_and_the_log_says_what_is_missing(empty_data, caplog):
    for dataset in ("mnist", "fashion"):
        with pytest.raises(FileNotFoundError):
            load_images(dataset, "test")
    held_out.cache_clear()
    with caplog.at_level("WARNING", logger="aigc.data"):
        assert not held_out("fashion").complete and len(held_out("fashion").labels) == 1_000
    assert str(empty_data) in caplog.text and "python -m aigc.data prepare" in caplog.text


@pytest.mark.parametrize("model", ["vae-mnist", "vae-fashion"])
def test_the_vae_tab_has_its_examples_its_walk_and_its_map(tmp_path, model, no_warnings):
    assert len(vae_ui.example_gallery(model)) == 10
    starts = [vae.example_source(model, i) for i in (vae_ui.EXAMPLE_A, vae_ui.EXAMPLE_B)]

    class NoLink:
        query_params: dict = {}

    frames, gif = vae_ui.open_page(model, starts, NoLink())[7:]
    assert len(frames) == vae.DEFAULT_STEPS and gif.endswith(".gif")
    (a, source_a), (b, source_b) = picked(tmp_path, model, 2), picked(tmp_path, model, 5)
    seen = vae_ui.model_view(model, a, source_a, what="Image A")
    assert np.array_equal(np.asarray(seen), np.asarray(vae.held_out_picture(source_a)))
    frames, _ = vae_ui.vae_interpolate(model, a, b, 6, "slerp", source_a, source_b)
    assert len(frames) == 6
    recon_a, recon_b, scatter = vae_ui.latent_views(model, a, b, 6, "slerp", source_a, source_b)
    assert recon_a.size == recon_b.size == (224, 224) and scatter is not None
    assert len(latent_map.latent_map(model).labels) == 1_000


def test_the_2d_vae_has_its_manifold_and_its_map(no_warnings):
    manifold, _, hint = vae_ui.manifold_view("vae-mnist-2d")
    assert manifold.visible and for_visitors(hint)
    view = latent_map.latent_map("vae-mnist-2d")
    assert view.coords.shape == (1_000, 2) and set(view.labels.tolist()) == set(range(10))


def test_a_share_link_to_test_pictures_opens_from_the_examples():
    linked = vae_ui.linked_walk({"model": "vae-fashion", "a": "fashion:0", "b": "fashion:19", "steps": "5"})
    assert len(linked[7]) == 5
    left_out = next(i for i in range(10_000) if held_out("fashion").position(i) is None)
    with pytest.raises(vae.InputError, match="not among the 1,000 test images kept with the app") as missing:
        vae.held_out_picture(f"fashion:{left_out}")  # a link made where the whole test split is
    for_visitors(str(missing.value))


def test_compare_shows_real_images_and_reconstructions_from_the_examples():
    panels, table, notes = compare_ui.compare("fashion", 3)
    captions = [caption for _, caption in panels]
    assert captions[-1] == "real: held-out test images" and "vae-fashion: reconstructions" in captions
    assert len(table) == len(compare.generator_names("fashion"))
    assert "The real images are drawn from 1,000 test images kept with the app" in for_visitors(notes)
    reading, curves = compare_ui.reading_and_curves("fashion")
    assert for_visitors(reading) and curves is not None


def test_measure_now_measures_against_the_examples_and_says_so():
    steps = list(compare_ui.measure("fashion", compare.MIN_SAMPLES, 0))
    table, status = steps[-1]
    assert sorted(set(table["Model"])) == sorted(compare.generator_names("fashion"))
    assert all(value != compare.MISSING for value in table["Live"])
    assert f"**{compare.MIN_SAMPLES}** samples each (seed 0), against 1,000 test images kept with the app" in status
    for _, text in steps:
        for_visitors(text)


@pytest.mark.parametrize("model", ["gan-mnist", "gan-fashion"])
def test_the_nearest_panel_gives_distances_and_classes_and_shows_held_out_pictures(tmp_path, model):
    path = tmp_path / "generated.png"
    gan.generate(model, 3, 5, 0.7).save(path)
    result = nearest.nearest(model, str(path), k=6)
    assert len(result.indices) == len(result.distances) == 6 and result.distances == sorted(result.distances)
    assert set(result.classes) <= set(CLASS_NAMES[result.dataset]) and result.verdict
    assert result.pictures == [] and len(result.gallery) == 6
    assert all(" · test #" in caption for _, caption in result.gallery)
    gallery, summary = nearest_ui.nearest(model, {"path": str(path)}, 6)
    assert [caption for _, caption in gallery] == [caption for _, caption in result.gallery]
    assert not nearest.training_images_kept()  # so the panel's gallery says it may hold held-out pictures
    assert "not training pictures" in for_visitors(summary) and result.captions[0] in summary


def test_a_frame_of_the_walk_finds_its_nearest_too(tmp_path):
    (a, source_a), (b, source_b) = picked(tmp_path, "vae-mnist", 0), picked(tmp_path, "vae-mnist", 9)
    frames, _ = vae_ui.vae_interpolate("vae-mnist", a, b, 5, "lerp", source_a, source_b)
    frames[2][0].save(tmp_path / "frame.png")  # (picture, "Frame 3 of 5")
    gallery = [{"image": {"path": str(tmp_path / "frame.png")}, "caption": None}] * 5
    pictures, summary = nearest_ui.nearest_to_frame("vae-mnist", gallery, 2, 3)
    assert len(pictures) == 3 and for_visitors(summary).startswith("Frame 3 of 5.")


def test_held_out_features_are_worked_out_once_per_set_of_pictures():
    first = nearest.held_out_features(held_out("mnist"))
    assert first.shape == (1_000, nearest.classifier_of("mnist").config.feature_dim)
    assert nearest.held_out_features(held_out("mnist")) is first
    torch.testing.assert_close(first[:3], nearest.features("mnist", held_out("mnist").images[:3]))  # up to batching

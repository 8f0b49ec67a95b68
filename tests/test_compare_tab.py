"""The Compare tab: the metrics table, its reading, the training curves and the live measurement."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from aigc.studio import InputError, compare
from aigc.studio.models import GAN_TYPES, registry, stored_metrics


def sharp_and_wide():
    return [
        {"model": "alpha", "fid": 20.0, "inception_score": 8.1, "precision": 0.80, "recall": 0.60,
         "class_accuracy": 0.95},
        {"model": "beta", "fid": 90.0, "inception_score": 4.2, "precision": 0.55, "recall": 0.35,
         "class_accuracy": 0.70},
    ]


def swap_numbers(rows):
    a, b = rows
    return [{**b, "model": a["model"]}, {**a, "model": b["model"]}]


def swap_names(text, a, b):
    return text.replace(a, "\0").replace(b, a).replace("\0", b)


# --- the reading follows the numbers --------------------------------------------------------------

def test_the_reading_names_the_best_model_by_its_numbers():
    text = compare.reading(sharp_and_wide())
    assert "**alpha** is closest to the real images" in text and "(lowest FID, 20.0)" in text
    assert "**beta** is furthest (90.0)" in text
    assert "highest precision (0.800)" in text
    assert "**alpha** covers the most of the data (highest recall, 0.600), **beta** the least (0.350)" in text
    assert "**alpha** keeps the class best: 95.0%" in text
    assert "collapse" not in text


def test_swapping_two_models_numbers_swaps_the_reading():
    rows = sharp_and_wide()
    before, after = compare.reading(rows), compare.reading(swap_numbers(rows))
    assert before != after
    assert after == swap_names(before, "alpha", "beta")


def test_sharpest_and_widest_can_be_different_models():
    rows = [{"model": "gan", "fid": 40.0, "precision": 0.9, "recall": 0.5},
            {"model": "vae", "fid": 30.0, "precision": 0.6, "recall": 0.7}]
    text = compare.reading(rows)
    assert "**vae** is closest" in text and "**gan** is the sharpest" in text
    assert "**vae** covers the most" in text


def test_high_precision_with_tiny_recall_is_called_mode_collapse():
    rows = [{"model": "healthy", "fid": 30.0, "precision": 0.7, "recall": 0.6},
            {"model": "collapsed", "fid": 80.0, "precision": 0.9, "recall": 0.05}]
    text = compare.reading(rows)
    collapse = next(sentence for sentence in text.split(". ") if "Mode collapse" in sentence)
    assert "**collapsed** (precision 0.900, recall 0.050)" in collapse and "healthy" not in collapse
    # recall far below precision is collapse too, even above the 0.2 floor
    text = compare.reading([{"model": "narrow", "precision": 0.9, "recall": 0.25}])
    assert "Mode collapse shows in **narrow**" in text
    # low on both counts is not collapse but plain poor samples
    text = compare.reading([{"model": "noise", "precision": 0.05, "recall": 0.01}])
    assert "Mode collapse" not in text and "**noise** (precision 0.050, recall 0.010) neither looks" in text


def test_missing_metrics_are_skipped_gracefully():
    rows = [{"model": "a", "fid": 50.0}, {"model": "b", "fid": None, "precision": "n/a", "recall": math.nan},
            {"model": "c"}, {"fid": 1.0}, "not a row"]
    text = compare.reading(rows)
    assert text == "Only **a** has an FID (50.0), so there is nothing to compare it with."
    assert "No metrics" in compare.reading([])
    assert "No metrics" in compare.reading([{"model": "x"}, {"model": "y", "fid": True}])
    # a model without recall is left out of the coverage sentence, not counted as zero
    text = compare.reading([{"model": "p", "recall": 0.5}, {"model": "q", "recall": 0.4}, {"model": "r", "fid": 9.0}])
    assert "**p** covers the most" in text and "**q** the least" in text


# --- the stored table ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mnist():
    return compare.compare("mnist", seed=0)


def test_the_table_has_one_row_per_model_with_its_stored_values_formatted(mnist):
    expected = registry().of_dataset("mnist", *GAN_TYPES, "vae")
    assert sorted(row[0] for row in mnist.rows) == sorted(expected) and len(mnist.rows) == len(expected)
    keys = [key for _, key, _ in compare.METRICS]
    for row, values in zip(mnist.rows, mnist.metrics, strict=True):
        assert values["model"] == row[0]
        stored = stored_metrics(row[0])
        for key, cell in zip(keys, row[2:], strict=True):
            value = stored.get(key)
            if isinstance(value, (int, float)):
                assert cell == compare.METRICS[keys.index(key)][2].format(value) and values[key] == value
            else:
                assert cell == compare.MISSING and key not in values


def test_the_real_row_and_the_reconstructions_are_of_the_dataset_tensors(mnist):
    real = compare.real_rows("mnist", 0)
    test = compare.held_out("mnist")
    labels = [int(test.labels[(test.images == image).flatten(1).all(1)][0]) for image in real]
    assert labels == [c for c in range(10) for _ in range(compare.PER_CLASS)]  # one class a row, as captioned
    panels = {caption: np.asarray(picture, dtype=int) for picture, caption in mnist.panels}
    assert np.array_equal(panels["real: held-out test images"], np.asarray(compare.grid(real), dtype=int))
    vae = registry().get("vae-mnist")
    with torch.inference_mode():
        reconstructions = compare.grid(vae.decode(vae.encode(real)[0]))
    assert np.abs(panels["vae-mnist: reconstructions"] - np.asarray(reconstructions, dtype=int)).max() <= 1


def test_metrics_rows_format_each_figure(monkeypatch):
    monkeypatch.setattr(compare, "stored_metrics", lambda name: {
        "fid": 63.7057, "inception_score": 2.4509, "precision": 0.8183, "recall": 0.237, "class_accuracy": 0.9243,
        "elbo_nats": "oops"})
    row = compare.metrics_row("vae-mnist", registry().get("vae-mnist"))
    assert row[2:] == ["63.7", "2.45", "0.818", "0.237", "92.4%", compare.MISSING]


# --- training curves -------------------------------------------------------------------------------

def test_training_curves_have_a_panel_per_model_with_a_log():
    one = compare.training_curves("mnist", names=["vae-mnist"])
    two = compare.training_curves("mnist", names=["vae-mnist", "gan-mlp-mnist"])
    assert isinstance(one, Image.Image) and isinstance(two, Image.Image)
    assert two.width > 1.8 * one.width and two.height == one.height
    assert compare.training_curves("mnist", names=["no-such-model"]) is None
    whole = compare.training_curves("mnist")
    assert whole is not None and whole.width >= two.width
    with pytest.raises(InputError, match="Unknown dataset"):
        compare.training_curves("cifar")


def test_training_history_survives_missing_and_corrupt_logs(tmp_path, monkeypatch):
    monkeypatch.setattr(compare, "bundled_file", lambda name, filename: tmp_path / name / filename)
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "training_log.json").write_text("{not json")
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "training_log.json").write_text(json.dumps(
        {"history": [{"step": 1, "loss": 2.0}, "junk", {"loss": 3.0}, {"step": 2, "loss": None}]}))
    assert compare.training_history("absent") == [] and compare.training_history("corrupt") == []
    assert compare.training_history("odd") == [{"step": 1, "loss": 2.0}, {"step": 2, "loss": None}]
    assert compare.training_curves("mnist", names=["absent", "corrupt", "odd"]).width > 100


# --- measuring live --------------------------------------------------------------------------------

def test_delta_is_live_minus_stored():
    assert compare.delta("fid", 70.0, 63.7) == "+6.3"
    assert compare.delta("precision", 0.5, 0.8) == "-0.300"
    assert compare.delta("class_accuracy", 0.9, 0.95) == "-5.0 pp"
    assert compare.delta("recall", 0.5, None) == compare.MISSING


def test_measure_reuses_sample_metrics_clamps_n_and_streams(monkeypatch):
    calls = []
    real = compare.sample_metrics

    def spy(images, labels, dataset, classifier, held_out_images, held_out_features):
        calls.append((len(images), labels is not None))
        assert len(held_out_features) == len(held_out_images)
        return real(images, labels, dataset, classifier, held_out_images, held_out_features)

    monkeypatch.setattr(compare, "sample_metrics", spy)
    names = ["gan-mlp-mnist", "vae-mnist"]
    monkeypatch.setattr(compare, "generator_names", lambda dataset: names)
    steps = list(compare.measure("mnist", samples=5, seed=1))  # 5 is clamped up to MIN_SAMPLES
    assert [step.done for step in steps] == [0, 1, 2] and [step.current for step in steps] == [*names, None]
    assert calls == [(compare.MIN_SAMPLES, True), (compare.MIN_SAMPLES, False)]  # GANs are asked for classes
    final = steps[-1]
    assert final.samples == compare.MIN_SAMPLES and [v["model"] for v in final.values] == names
    gan_rows = [row for row in final.rows if row[0] == "gan-mlp-mnist"]
    assert [row[1] for row in gan_rows] == ["FID ↓", "IS ↑", "Precision ↑", "Recall ↑", "Class accuracy ↑"]
    assert all(len(row) == len(compare.LIVE_HEADERS) for row in final.rows)
    stored = stored_metrics("gan-mlp-mnist")
    if "fid" in stored:
        live = final.values[0]["fid"]
        assert gan_rows[0][2:] == [f"{stored['fid']:.1f}", f"{live:.1f}", f"{live - stored['fid']:+.1f}"]
    assert not any(row[1] == "Class accuracy ↑" for row in final.rows if row[0] == "vae-mnist")
    calls.clear()
    assert next(iter(compare.measure("mnist", samples=10**9))).samples == compare.MAX_SAMPLES
    with pytest.raises(InputError, match="Unknown dataset"):
        next(iter(compare.measure("cifar")))
    with pytest.raises(InputError, match="Expected a number for samples"):
        next(iter(compare.measure("mnist", samples="many")))


# --- through the running app -----------------------------------------------------------------------

def test_measure_now_streams_a_growing_table_through_the_api(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    job = client.submit(dataset="mnist", samples=50, seed=0, api_name="/compare_measure")
    table, status = job.result()
    models = compare.generator_names("mnist")
    assert table["headers"] == compare.LIVE_HEADERS
    assert sorted({row[0] for row in table["data"]}) == sorted(models)
    assert f"**{compare.MIN_SAMPLES}** samples" in status and "Reading of the live figures" in status
    partial = [len(output[0]["data"]) for output in job.outputs()]
    assert len(partial) == len(models) + 1 and partial == sorted(partial) and partial[0] == 0


def test_a_lone_class_accuracy_is_stated_not_ranked():
    assert compare.reading([{"model": "g", "class_accuracy": 0.5}]) == \
        "50.0% of **g**'s samples are classified as the class asked for."


def test_remembering_the_held_out_features_changes_no_figure():
    vae, classifier = registry().get("vae-mnist"), registry().get("classifier-mnist")
    live = compare.live_metrics("vae-mnist", "mnist", compare.MIN_SAMPLES, 3)
    again = compare.live_metrics("vae-mnist", "mnist", compare.MIN_SAMPLES, 3)  # from the remembered features
    z = vae.sample_latents(compare.MIN_SAMPLES, torch.Generator().manual_seed(3))  # as the prior is sampled
    with torch.inference_mode():
        plain = compare.sample_metrics(vae.decode(z.to(vae.device)).cpu(), None, "mnist", classifier)
    assert live == again == plain


class CountingClassifier(torch.nn.Module):
    """A classifier that counts the images it works out features of."""

    def __init__(self, classifier):
        super().__init__()
        self.classifier, self.images = classifier, 0
        self.head, self.device = classifier.head, classifier.device

    def features(self, x):
        self.images += len(x)
        return self.classifier.features(x)


def test_the_held_out_features_are_worked_out_once_a_dataset_whatever_tensor_holds_the_images():
    counting = CountingClassifier(registry().get("classifier-mnist"))
    real = compare.held_out("mnist").images[:600]
    remembered = compare.HeldOutFeatures()
    first = remembered("mnist", counting, real)
    assert counting.images == len(real)
    again = remembered("mnist", counting, real.clone())  # the same images in another tensor: remembered
    assert counting.images == len(real) and torch.equal(first, again)
    assert torch.equal(first, compare.batched(counting.classifier.features, real))
    remembered("mnist", counting, real[:200])  # another sample size: worked out for it
    assert counting.images == len(real) + 200
    reloaded = CountingClassifier(counting.classifier)  # a classifier loaded again: its own features
    remembered("mnist", reloaded, real)
    assert reloaded.images == len(real)


# --- what the pictures say ---------------------------------------------------------------------------

def test_every_grid_is_captioned_with_what_it_shows(mnist):
    captions = [caption for _, caption in mnist.panels]
    for name in registry().of_dataset("mnist", *GAN_TYPES):
        assert any(caption.startswith(f"{name} (") and caption.endswith("samples, one class a row")
                   for caption in captions), name
    for name in registry().of_dataset("mnist", "vae"):
        assert f"{name}: samples, in rows by classifier-mnist's guess of their class" in captions
        assert f"{name}: reconstructions" in captions
    assert captions[-1] == "real: held-out test images"


def test_the_training_curves_have_a_text_alternative_naming_each_panel():
    from aigc.ui import compare as ui

    reading, curves = ui.reading_and_curves("mnist")
    drawn = [name for name in compare.generator_names("mnist") if compare.training_history(name)]
    assert drawn and curves.alt_text == compare.training_curves_text("mnist")
    assert curves.alt_text.startswith("Training curves of ") and all(name in curves.alt_text for name in drawn)
    assert "losses against the training step" in curves.alt_text and reading.startswith("**Reading of the table**")


@pytest.mark.browser
def test_in_the_browser_every_picture_has_its_text_and_a_typed_seed_redraws_the_grids(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)  # the machine is shared: the comparison queues behind other heavy work
    page.goto(app_url)
    page.get_by_role("tab", name="Compare").click()
    pictures = page.locator("#compare-grids img, #compare-curves img")
    page.locator("#compare-curves img").wait_for()
    grids = len(registry().of_dataset("mnist", *GAN_TYPES)) + 2 * len(registry().of_dataset("mnist", "vae")) + 1
    page.wait_for_function("n => document.querySelectorAll('#compare-grids img').length >= n", arg=grids)
    alts = [picture.get_attribute("alt") for picture in pictures.all()]
    assert len(alts) >= grids + 1 and all(alts), alts
    assert compare.training_curves_text("mnist") in alts and "real: held-out test images" in alts
    first = page.locator("#compare-grids img").first.get_attribute("src")
    seed = page.locator("#compare-seed input")
    seed.fill("7")  # typed, no Enter: the grids follow
    page.wait_for_function("src => document.querySelector('#compare-grids img').src !== src", arg=first)
    typed = page.locator("#compare-grids img").first.get_attribute("src")
    seed.press("ArrowUp")  # and the arrow keys: seed 8
    page.wait_for_function("src => document.querySelector('#compare-grids img').src !== src", arg=typed)
    assert seed.input_value() == "8"
    page.close()

"""The memorisation check: nearest training images, their index, and the /nearest endpoint."""

import shutil

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image, ImageDraw

from aigc import nearest as index_module
from aigc.data import load_images
from aigc.hub import WEIGHTS_DIR, ModelLoadError
from aigc.images import to_pil
from aigc.studio import InputError, gan
from aigc.studio import nearest as studio

TRAINING_IMAGE = 123


def training_picture(dataset: str, number: int = TRAINING_IMAGE, scale: int = 1) -> Image.Image:
    return to_pil(load_images(dataset, "train")[0][number], scale)


@pytest.mark.parametrize("model, dataset, scale", [("gan-mnist", "mnist", 1), ("vae-mnist", "mnist", 8),
                                                   ("gan-fashion", "fashion", 10)])
def test_a_training_image_finds_itself_first_at_distance_zero(model, dataset, scale):
    result = studio.nearest(model, training_picture(dataset, scale=scale), k=5)
    assert result.dataset == dataset
    assert result.indices[0] == TRAINING_IMAGE and result.distances[0] == pytest.approx(0, abs=0.02)
    assert result.distances[0] < 0.01 * result.typical
    assert np.array_equal(np.asarray(result.pictures[0]), np.asarray(training_picture(dataset, scale=studio.SCALE)))
    assert "a copy" in result.verdict and result.captions[0].endswith(f" · #{TRAINING_IMAGE} {result.classes[0]}")


def test_distances_are_sorted_and_k_is_clamped():
    picture = np.asarray(training_picture("mnist", 7))
    result = studio.nearest("classifier-mnist", picture, k=12)
    assert len(result.indices) == len(result.distances) == len(result.pictures) == 12
    assert result.distances == sorted(result.distances)
    assert len(studio.nearest("gan-mnist", picture, k=0).indices) == studio.MIN_K
    assert len(studio.nearest("gan-mnist", picture, k=500).indices) == studio.MAX_K
    assert len(studio.nearest("gan-mnist", picture, k=None).indices) == studio.DEFAULT_K
    with pytest.raises(InputError, match="Expected a number for k"):
        studio.nearest("gan-mnist", picture, k="many")


def test_a_generated_picture_has_k_neighbours_and_a_verdict():
    result = studio.nearest("gan-mnist", gan.generate("gan-mnist", 3, 11, 0.7), k=7)
    assert len(result.pictures) == len(result.captions) == 7
    assert result.distances[0] > 0.1 and result.verdict
    assert f"typically {result.typical:.2f}" in result.summary


def test_a_held_out_test_image_is_not_called_a_copy():
    test_image = to_pil(load_images("mnist", "test")[0][0], 8)
    assert "not a copy" in studio.nearest("vae-mnist", test_image).verdict


def test_an_upload_of_another_size_is_framed_like_the_dataset(tmp_path):
    upload = Image.new("RGB", (150, 90), "white")
    ImageDraw.Draw(upload).ellipse((50, 10, 100, 80), outline="black", width=8)
    upload.save(tmp_path / "zero.png")
    result = studio.nearest("gan-mnist", str(tmp_path / "zero.png"), k=3)
    assert len(result.indices) == 3 and result.classes[0] == "0"


def test_without_the_training_images_the_numbers_and_distances_remain(monkeypatch, caplog):
    """Where the training pictures are not on the server, the nearest held-out pictures it keeps are shown instead,
    and marked as such."""
    def not_prepared(dataset):
        raise FileNotFoundError("MNIST is not prepared in /some/folder; run `python -m aigc.data prepare`")

    studio.training_images.cache_clear()
    monkeypatch.setattr(studio, "training_set_sha256", not_prepared)
    try:
        with caplog.at_level("INFO", logger=studio.__name__):
            result = studio.nearest("gan-mnist", training_picture("mnist"), k=4)
    finally:
        studio.training_images.cache_clear()
    assert result.pictures == [] and len(result.indices) == 4 and result.indices[0] == TRAINING_IMAGE
    assert "not kept on this server" in result.note and result.captions[0] in result.summary
    assert "not training pictures" in result.summary
    assert len(result.gallery) == 4 and all(" · test #" in caption for _, caption in result.gallery)
    distances = [float(caption.split(" · ")[0]) for _, caption in result.gallery]
    assert distances == sorted(distances)
    assert "python -m" not in result.summary and "/some/folder" not in result.summary
    assert "/some/folder" in caplog.text  # the details are in the log


def test_a_held_out_picture_finds_itself_among_those_shown_without_the_training_images(monkeypatch):
    monkeypatch.setattr(studio, "training_images", lambda dataset, sha256: "The training pictures are not here.")
    number = 17
    result = studio.nearest("vae-mnist", to_pil(load_images("mnist", "test")[0][number], 8), k=3)
    assert result.gallery[0][1].startswith(f"0.00 · test #{number} ")
    assert np.array_equal(np.asarray(result.gallery[0][0]),
                          np.asarray(to_pil(load_images("mnist", "test")[0][number], studio.SCALE)))


def test_other_local_training_images_are_not_shown_as_the_neighbours(caplog):
    with caplog.at_level("WARNING", logger=studio.__name__):
        note = studio.training_images("mnist", "0" * 64)
    assert "not the ones the index was made from" in note and "python -m" not in note
    assert "python -m aigc.nearest build mnist" in caplog.text


@pytest.fixture
def classifier_folder(tmp_path):
    folder = tmp_path / "classifier-mnist"
    shutil.copytree(WEIGHTS_DIR / "classifier-mnist", folder)
    return folder


def test_the_bundled_index_reads_back(classifier_folder):
    index = index_module.read_index(classifier_folder, "mnist")
    assert index.features.shape == (4000, 128) and len(index.labels) == 4000
    assert 0 < index.typical_distance(5) < index.typical_distance(50) < index.typical_distance(95)


def test_the_index_is_read_from_where_the_classifiers_files_are(classifier_folder, monkeypatch):
    """weights/classifier-NAME, or the Hub cache's copy where a Space pulled the classifier from the Hub."""
    asked = []

    def hub_copy(name, filename):
        asked.append((name, filename))
        return classifier_folder / filename

    monkeypatch.setattr(index_module, "bundled_file", hub_copy)
    index = index_module.index_of.__wrapped__("mnist")
    assert asked == [("classifier-mnist", index_module.INDEX_FILE)] and index.features.shape == (4000, 128)


def test_a_missing_index_says_how_to_build_it(classifier_folder):
    (classifier_folder / index_module.INDEX_FILE).unlink()
    with pytest.raises(ModelLoadError, match=r"has no index .*python -m aigc.nearest build mnist"):
        index_module.read_index(classifier_folder, "mnist")


def test_an_index_of_other_classifier_weights_is_stale(classifier_folder):
    shutil.copy(WEIGHTS_DIR / "classifier-fashion" / "model.safetensors", classifier_folder / "model.safetensors")
    with pytest.raises(ModelLoadError, match=r"stale: it was made with other weights.*aigc.nearest build mnist"):
        index_module.read_index(classifier_folder, "mnist")


def test_a_corrupt_or_foreign_index_is_refused(classifier_folder):
    with pytest.raises(ModelLoadError, match="not a format-1 index of fashion"):
        index_module.read_index(classifier_folder, "fashion")
    (classifier_folder / index_module.INDEX_FILE).write_bytes(b"not safetensors")
    with pytest.raises(ModelLoadError, match="is corrupt"):
        index_module.read_index(classifier_folder, "mnist")


def test_a_missing_index_is_a_plain_message_in_the_studio_and_the_details_are_logged(monkeypatch, classifier_folder,
                                                                                      caplog):
    (classifier_folder / index_module.INDEX_FILE).unlink()
    monkeypatch.setattr(studio, "index_of", lambda dataset: index_module.read_index(classifier_folder, dataset))
    with pytest.raises(InputError, match="MNIST training pictures cannot be searched") as raised:
        studio.nearest("gan-mnist", training_picture("mnist"))
    assert "python -m" not in str(raised.value) and str(classifier_folder) not in str(raised.value)
    assert "python -m aigc.nearest build mnist" in caplog.text and str(classifier_folder) in caplog.text


@pytest.mark.parametrize("model, image, message", [
    ("nope", "picture", "Unknown model 'nope'"),
    ("gpt-shakespeare", "picture", "gpt-shakespeare is a text model"),
    ("gan-mnist", None, "image is missing"),
    ("gan-mnist", "", "image is missing"),
    ("gan-mnist", "text file", "image is not a picture"),
    ("gan-mnist", np.zeros((2, 3, 4, 5)), "is not a picture"),
])
def test_bad_input_is_an_input_error(tmp_path, model, image, message):
    if isinstance(image, str) and image == "picture":
        image = training_picture("mnist")
    elif isinstance(image, str) and image == "text file":
        image = tmp_path / "notes.png"
        image.write_text("not a picture")
    with pytest.raises(InputError, match=message):
        studio.nearest(model, image)


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_the_api_finds_a_training_image_first_at_distance_zero(client, tmp_path):
    path = tmp_path / "training.png"
    training_picture("fashion", scale=10).save(path)
    gallery, summary = client.predict(model="gan-fashion", image=handle_file(path), k=3, api_name="/nearest")
    assert len(gallery) == 3 and gallery[0]["caption"].startswith(f"0.00 · #{TRAINING_IMAGE} ")
    assert "a copy" in summary
    assert np.array_equal(np.asarray(Image.open(gallery[0]["image"]).convert("L")),
                          np.asarray(training_picture("fashion", scale=studio.SCALE)))


def test_the_app_has_exactly_one_nearest_endpoint_and_it_refuses_bad_input(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert [name for name in endpoints if "nearest" in name] == ["/nearest"]
    with pytest.raises(AppError, match="image is missing"):
        client.predict(model="gan-mnist", api_name="/nearest")
    with pytest.raises(AppError, match="is a text model"):
        client.predict(model="gpt-shakespeare", image=handle_file(WEIGHTS_DIR / "gan-mnist" / "samples.png"),
                       api_name="/nearest")

"""The datasets: shapes, ranges and splits of the images, and the shape of the Shakespeare text."""

import re

import numpy as np
import pytest
import torch

import aigc.data
from aigc.data import (
    CLASS_NAMES,
    DATASETS,
    DEBIAN_FASHION,
    EXAMPLES_PER_CLASS,
    VALIDATION_PLAYS,
    data_dir,
    debian_fashion,
    examples_path,
    find_idx,
    held_out,
    is_prepared,
    load_examples,
    load_images,
    load_pixels,
    load_text,
    make_examples,
    mnist_sample,
    play_to_text,
    prepare,
)


@pytest.fixture(scope="module", autouse=True)
def prepared():
    prepare()  # idempotent: quick where the data is there, a download on a clean machine


def check_images(images: torch.Tensor, labels: torch.Tensor, count: int) -> None:
    assert images.shape == (count, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (count,) and labels.dtype == torch.int64
    assert images.min() == 0 and images.max() == 1
    assert images.mean() < 0.5 and images[:, :, 0, 0].mean() < 0.01  # light on dark: dark background
    assert set(labels.tolist()) == set(range(10))


def test_fashion_is_the_official_split():
    for split, count in (("train", 60_000), ("test", 10_000)):
        images, labels = load_images("fashion", split)
        check_images(images, labels, count)
        assert torch.bincount(labels).tolist() == [count // 10] * 10


def test_mnist_sample_is_split_400_and_100_per_digit():
    if find_idx([data_dir() / "mnist"], "train-images-idx3-ubyte"):
        pytest.skip("the full MNIST IDX files are in use")
    train, train_labels = load_images("mnist", "train")
    test, test_labels = load_images("mnist", "test")
    check_images(train, train_labels, 4_000)
    check_images(test, test_labels, 1_000)
    assert torch.bincount(train_labels).tolist() == [400] * 10
    assert torch.bincount(test_labels).tolist() == [100] * 10
    assert not (torch.cdist(test.flatten(1), train.flatten(1)).min(1).values == 0).any()  # no image in both
    assert torch.equal(load_images("mnist", "test")[0], test)  # cached, hence the same every call


def test_class_names():
    assert set(CLASS_NAMES) == set(DATASETS) == {"mnist", "fashion"}
    assert CLASS_NAMES["mnist"] == [str(d) for d in range(10)]
    assert CLASS_NAMES["fashion"][0] == "T-shirt/top" and CLASS_NAMES["fashion"][9] == "Ankle boot"
    assert len(CLASS_NAMES["fashion"]) == 10


def test_unknown_names_are_value_errors():
    with pytest.raises(ValueError, match="dataset"):
        load_images("cifar10", "train")
    with pytest.raises(ValueError, match="split"):
        load_images("fashion", "val")
    with pytest.raises(ValueError, match="split"):
        load_text("test")
    with pytest.raises(ValueError, match="unknown datasets"):
        prepare(("imagenet",))


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """No prepared data and no Debian dataset, as on a Space; the caches are emptied before and after."""
    monkeypatch.setenv("AIGC_DATA", str(tmp_path))
    monkeypatch.setenv("AIGC_DEBIAN_FASHION", "")
    caches = (load_pixels, load_images, load_text, held_out)
    for cached in caches:
        cached.cache_clear()
    yield
    for cached in caches:
        cached.cache_clear()


def test_unprepared_data_says_how_to_prepare(no_data):
    assert not any(is_prepared(dataset, split) for dataset in DATASETS for split in ("train", "test"))
    with pytest.raises(FileNotFoundError, match="python -m aigc.data prepare"):
        load_images("fashion", "test")
    with pytest.raises(FileNotFoundError, match="python -m aigc.data prepare"):
        load_images("mnist", "train")
    with pytest.raises(FileNotFoundError, match="python -m aigc.data prepare"):
        load_pixels("mnist", "test")
    with pytest.raises(FileNotFoundError, match="python -m aigc.data prepare"):
        load_text("val")


@pytest.mark.parametrize("split", ["train", "val"])
def test_shakespeare_is_speeches_of_plain_text(split):
    text = load_text(split)
    speeches = text.strip("\n").split("\n\n")
    assert len(speeches) > 2_000
    for speech in speeches:
        speaker, *lines = speech.split("\n")
        assert re.fullmatch(r"[A-Za-z][^:]*:", speaker), speaker
        assert lines and all(lines), speech
    stale = f"markup left in the text: delete {data_dir() / 'shakespeare'} and run prepare again"
    assert not set(text) & set("#*_[]\\\"$"), stale
    assert text.isascii() and len(set(text)) <= 70, stale


def test_validation_plays_are_held_out():
    assert VALIDATION_PLAYS == ("hamlet", "the-tempest", "julius-caesar")
    train, val = load_text("train"), load_text("val")
    for speaker in ("HAMLET:", "PROSPERO:", "CASSIUS:"):  # one from each held-out play
        assert f"\n{speaker}\n" in val and f"\n{speaker}\n" not in train
    assert "\nMACBETH:\n" in train and "\nMACBETH:\n" not in val
    assert set(val) <= set(train)  # a character model trained on train can read val
    assert len(train) > 10 * len(val)


def test_play_to_text():
    markdown = "\n".join([
        "# Macbeth", "", "## ACT I", "",
        "_Thunder and lightning. Enter three Witches,", "and a Messenger_", "",
        "**First Witch**  ", "When shall we three meet again  ", "In thunder, lightning, or in rain?", "",
        "**MESSENGER**  ", "_\\[Aside]_  ", "The king comes\u2014here\u2019s _his_ **word**.", "",
        "_Exit Sergeant, attended_", "", "Who comes here?", "",
        "1\\. A lively flourish of Trumpets.  ", "2\\. Then, two Judges.", "",
        "**ALL**  ", "*Exeunt.*",
    ])
    assert play_to_text(markdown) == (
        "First Witch:\nWhen shall we three meet again\nIn thunder, lightning, or in rain?\n\n"
        "MESSENGER:\nThe king comes--here's his word.\nWho comes here?\n\n"
    )


# --- the examples shipped in the package ---------------------------------------------------------------

def test_the_debian_dataset_can_be_moved_or_hidden(monkeypatch, tmp_path):
    assert debian_fashion() == DEBIAN_FASHION
    monkeypatch.setenv("AIGC_DEBIAN_FASHION", str(tmp_path))
    assert debian_fashion() == tmp_path
    monkeypatch.setenv("AIGC_DEBIAN_FASHION", "")
    assert debian_fashion() is None


@pytest.mark.parametrize("dataset", DATASETS)
def test_the_examples_are_the_first_100_test_images_of_each_class(dataset):
    pixels, labels, indices = load_examples(dataset)
    assert pixels.shape == (10 * EXAMPLES_PER_CLASS, 28, 28) and pixels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [EXAMPLES_PER_CLASS] * 10
    assert (np.diff(indices) > 0).all()
    test_pixels, test_labels = mnist_sample("test") if dataset == "mnist" else load_pixels(dataset, "test")
    assert np.array_equal(pixels, test_pixels[indices]) and np.array_equal(labels, test_labels[indices])
    for label in range(10):  # the first ones: no earlier test image of the class was left out
        assert (test_labels[: indices[labels == label].max() + 1] == label).sum() == EXAMPLES_PER_CLASS


def test_the_examples_are_small_and_remade_byte_for_byte(tmp_path, monkeypatch):
    shipped = {dataset: examples_path(dataset).read_bytes() for dataset in DATASETS}
    assert sum(len(data) for data in shipped.values()) < 1.7e6
    monkeypatch.setattr(aigc.data, "EXAMPLES_DIR", tmp_path)
    for dataset in DATASETS:
        made = make_examples(dataset)
        assert made.parent == tmp_path and made.read_bytes() == shipped[dataset]


def test_held_out_images_are_the_test_split_where_it_is_here():
    for dataset in DATASETS:
        assert is_prepared(dataset, "train") and is_prepared(dataset, "test")
        images, labels = load_images(dataset, "test")
        test = held_out(dataset)
        assert test.complete and test.images is images and torch.equal(test.labels, labels)
        assert test.position(7) == 7 and test.position(len(labels)) is None
        assert test.description == f"the {len(labels):,} test images"


def test_without_the_data_the_held_out_images_are_the_shipped_examples(no_data, caplog):
    with caplog.at_level("WARNING", logger="aigc.data"):
        test = held_out("fashion")
    pixels, labels, indices = load_examples("fashion")
    assert not test.complete and len(test.images) == 1_000 and test.images.dtype == torch.float32
    assert torch.equal(test.images, torch.from_numpy(pixels).float().unsqueeze(1) / 255)
    assert torch.equal(test.labels, torch.from_numpy(labels).long())
    left_out = next(i for i in range(10_000) if i not in set(indices.tolist()))
    assert test.position(int(indices[5])) == 5 and test.position(left_out) is None and test.position(10**6) is None
    assert test.description == "1,000 test images kept with the app (100 of each class)"
    assert "python -m aigc.data prepare" in caplog.text  # the log says how to get the whole split

"""The datasets: shapes, ranges and splits of the images, and the shape of the Shakespeare text."""

import re

import pytest
import torch

from aigc.data import (CLASS_NAMES, DATASETS, VALIDATION_PLAYS, data_dir, find_idx, load_images, load_pixels,
                       load_text, play_to_text, prepare)


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


def test_unprepared_data_says_how_to_prepare(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_DATA", str(tmp_path))
    for cached in (load_pixels, load_images, load_text):
        cached.cache_clear()
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

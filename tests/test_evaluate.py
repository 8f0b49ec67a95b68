"""Evaluation of the bundled models and the model cards written from it."""

import json
import shutil

import pytest

from aigc.cards import write_card
from aigc.evaluate import evaluate, evaluate_generator
from aigc.hub import WEIGHTS_DIR, load


def test_generator_metrics_are_in_range():
    metrics = evaluate_generator(load("gan-mnist", device="cpu"), samples=500, seed=0)
    assert metrics["fid"] >= 0 and 1 <= metrics["inception_score"] <= 10
    assert 0 <= metrics["precision"] <= 1 and 0 <= metrics["recall"] <= 1 and 0 <= metrics["class_accuracy"] <= 1
    assert metrics["num_samples"] == 500 and "classifier-mnist" in metrics["features"]


def test_vae_and_classifier_metrics():
    vae = evaluate("vae-mnist", samples=200)
    assert vae["elbo_nats"] < 0 and vae["reconstruction_nats"] > 0 and 0 <= vae["reconstruction_accuracy"] <= 1
    assert evaluate("classifier-mnist")["test_accuracy"] >= 0.97  # the shipped classifier's target


def test_gpt_metrics_on_a_slice_of_the_held_out_plays():
    metrics = evaluate("gpt-shakespeare", max_chars=3000)
    assert metrics["bits_per_char"] == pytest.approx(metrics["val_nats_per_char"] / 0.693147, rel=1e-3)
    assert 0 < metrics["val_nats_per_char"] < 4.4  # better than uniform over ~80 characters


def test_every_bundled_card_states_data_command_time_and_metrics():
    for folder in sorted(WEIGHTS_DIR.iterdir()):
        card = (folder / "README.md").read_text()
        assert card.startswith("---\nlibrary_name: aigc"), folder
        for needed in ("- data:", "- split:", "- command: `python -m aigc.train", "- wall time:", "| metric | value |"):
            assert needed in card, (folder.name, needed)


def test_card_says_when_a_target_is_missed(tmp_path):
    folder = tmp_path / "gpt-shakespeare"
    shutil.copytree(WEIGHTS_DIR / "gpt-shakespeare", folder)
    (folder / "metrics.json").write_text(json.dumps({"val_nats_per_char": 1.60, "bits_per_char": 2.31}))
    card = write_card(folder).read_text()
    assert "val_nats_per_char <= 1.45: 1.6, **missed** by 0.15" in card
    (folder / "metrics.json").write_text(json.dumps({"val_nats_per_char": 1.40, "bits_per_char": 2.02}))
    assert "val_nats_per_char <= 1.45: 1.4, met" in write_card(folder).read_text()

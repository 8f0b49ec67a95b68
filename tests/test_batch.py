"""One broken request in a batch fails alone: the others batched with it are still served (aigc.studio.batch)."""

import pytest
from PIL import Image

from aigc.studio import InputError
from aigc.studio import gan as studio
from aigc.studio.batch import each_alone, served


class FakeModel:
    """Draws one "picture" a request, all of a batch at once; the request "broken" breaks the whole batch, as
    a Hub GAN with NaN weights breaks GANSpace's SVD."""

    def __init__(self):
        self.batches = []

    def draw(self, requests):
        self.batches.append(list(requests))
        if "broken" in requests:
            raise RuntimeError("linalg.svd: the algorithm failed to converge")
        return [f"picture of {request}" for request in requests]

    def draw_one(self, request):
        return self.draw([request])[0]


def test_a_batch_that_works_is_drawn_in_one_pass():
    model = FakeModel()
    assert each_alone(model.draw, model.draw_one, ["a", "b"]) == ["picture of a", "picture of b"]
    assert model.batches == [["a", "b"]]


def test_a_broken_request_fails_alone_and_the_others_get_their_pictures():
    model = FakeModel()
    results = each_alone(model.draw, model.draw_one, ["a", "broken", "b"])
    assert results[0] == "picture of a" and results[2] == "picture of b"
    assert isinstance(results[1], RuntimeError)


def test_a_single_broken_request_raises_its_own_error():
    model = FakeModel()
    with pytest.raises(RuntimeError, match="converge"):
        each_alone(model.draw, model.draw_one, ["broken"])


def test_a_batched_endpoint_answers_none_for_a_failed_request_and_the_others_their_results(caplog):
    model = FakeModel()
    assert served(model.draw, model.draw_one, ["a", "broken", "b"]) == ["picture of a", None, "picture of b"]
    assert "converge" in caplog.text  # the failure is in the log, though nobody else sees it


def test_a_batched_endpoint_raises_the_first_failure_only_when_every_request_failed():
    model = FakeModel()
    with pytest.raises(RuntimeError, match="converge"):
        served(model.draw, model.draw_one, ["broken", "broken"])


def test_the_gan_tab_draws_the_others_when_one_request_breaks_its_model(monkeypatch):
    """Through the GAN tab's batched handler: any exception, not only a user error, stays with its request."""
    from aigc.ui.gan import gan_generate

    generate_batch = studio.generate_batch

    def breaks_on_gan_mlp(models, *args):
        if "gan-mlp-mnist" in models:
            raise RuntimeError("linalg.svd: the algorithm failed to converge")
        return generate_batch(models, *args)

    monkeypatch.setattr(studio, "generate_batch", breaks_on_gan_mlp)
    sliders = [[0.0] * 3 for _ in range(8)]
    [pictures] = gan_generate(["gan-mnist", "gan-mlp-mnist", "gan-mnist"], [0] * 3, [1, 2, 3], [1.0] * 3, *sliders,
                              ["SeFa"] * 3)
    assert isinstance(pictures[0], Image.Image) and pictures[1] is None and isinstance(pictures[2], Image.Image)


def test_the_gan_tab_shows_a_user_error_when_every_request_of_a_batch_fails():
    import gradio as gr

    from aigc.ui.gan import gan_generate

    sliders = [[0.0] * 2 for _ in range(8)]
    with pytest.raises(gr.Error, match="&lt;b&gt;"):
        gan_generate(["<b>nope</b>", "<b>nope</b>"], [0] * 2, [1, 2], [1.0] * 2, *sliders, ["SeFa"] * 2)
    with pytest.raises(InputError):
        studio.generate("<b>nope</b>")

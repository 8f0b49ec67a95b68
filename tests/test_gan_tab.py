"""The GAN tab's plain functions (aigc.studio.gan): directions, preview strips, grids, the latent as JSON, batching."""

import json

import numpy as np
import pytest
import torch

import aigc
from aigc.studio import InputError, gan

GAN = "gan-mnist"
NO_OFFSETS = [0.0] * gan.NUM_DIRECTIONS
METHODS = list(gan.METHODS.values())


def pixels(picture) -> np.ndarray:
    return np.asarray(picture, dtype=np.int16)


def offsets(direction: int, value: float) -> list[float]:
    moved = list(NO_OFFSETS)
    moved[direction] = value
    return moved


def test_the_same_seed_gives_the_same_picture():
    for method in METHODS:
        point = (GAN, 4, 123, 0.8, offsets(1, 1.25), method)
        assert np.array_equal(pixels(gan.generate(*point)), pixels(gan.generate(*point)))
    assert not np.array_equal(pixels(gan.generate(GAN, 4, 123)), pixels(gan.generate(GAN, 4, 124)))


@pytest.mark.parametrize("method", METHODS)
def test_every_direction_of_both_methods_changes_the_picture(method):
    base = pixels(gan.generate(GAN, 0, 1, 0.7, NO_OFFSETS, method))
    for direction in range(gan.NUM_DIRECTIONS):
        for value in (-3.0, 3.0):
            moved = pixels(gan.generate(GAN, 0, 1, 0.7, offsets(direction, value), method))
            assert np.abs(moved - base).mean() > 0.1, f"{method} direction {direction + 1} at {value} does nothing"


def test_directions_are_cached_unit_and_differ_by_method():
    sefa, ganspace = gan.directions(GAN, "SeFa"), gan.directions(GAN, "ganspace")
    assert gan.directions(GAN, "sefa") is sefa and gan.directions(GAN, "GANSpace") is ganspace  # computed once
    for found in (sefa, ganspace):
        assert torch.allclose(found @ found.T, torch.eye(gan.NUM_DIRECTIONS), atol=1e-4)
    assert not torch.allclose(sefa, ganspace)
    with pytest.raises(InputError, match="Unknown direction method 'pca'; choose one of: SeFa, GANSpace"):
        gan.generate(GAN, method="pca")


def test_ganspace_holds_the_label_so_its_components_come_from_z():
    """With random labels, class differences dominate the activations' variance and the "directions" are noise."""
    from aigc.latent import ganspace_directions

    generator = aigc.load("gan-fashion", device="cpu")  # its top two components are well apart in variance
    first, second = (ganspace_directions(generator, 2, seed=s)[0] for s in (0, 1))
    assert (first * second).sum(1).abs().min() > 0.6  # the same directions from two independent samples


def test_the_label_picks_the_class_as_our_classifier_judges():
    classifier = aigc.load("classifier-mnist", device="cpu").eval()
    pictures = [gan.generate(GAN, digit, seed=7, truncation=0.7) for digit in range(10)]
    small = torch.stack([torch.from_numpy(pixels(p)[::gan.SCALE, ::gan.SCALE].astype(np.float32) / 255)[None]
                         for p in pictures])
    with torch.no_grad():
        predicted = classifier(small).argmax(1).tolist()
    right = sum(p == digit for digit, p in enumerate(predicted))
    assert right >= 8, f"classifier saw {predicted} for the labels 0..9"


def test_truncation_zero_gives_the_same_picture_for_any_seed():
    for method in METHODS:
        first = pixels(gan.generate(GAN, 5, 1, 0.0, offsets(2, 1.5), method))
        for seed in (2, 999, gan.MAX_SEED):
            assert np.array_equal(pixels(gan.generate(GAN, 5, seed, 0.0, offsets(2, 1.5), method)), first)


def test_the_batched_function_equals_the_unbatched_one():
    requests = [
        (GAN, 3, 5, 0.5, [1.5, 0, 0, 0, 0, 0, 0, -3], "SeFa"),
        ("gan-mlp-mnist", 7, 11, 0.9, offsets(4, -2.0), "GANSpace"),
        (GAN, "8", 5, 0.5, offsets(7, 2.5), "GANSpace"),
        (GAN, 0, 2**31 - 1, 1.0, NO_OFFSETS, "sefa"),
        ("gan-mlp-mnist", 1, 0, 0.0, offsets(0, 3.0), "SeFa"),
    ]
    batched = gan.generate_batch(*map(list, zip(*requests)))
    assert len(batched) == len(requests)
    for request, picture in zip(requests, batched):
        assert np.array_equal(pixels(picture), pixels(gan.generate(*request))), request
    with pytest.raises(InputError, match="Unknown class 'Sneaker'"):
        gan.generate_batch([GAN, GAN], [0, "Sneaker"], [1, 2], [0.7, 0.7], [NO_OFFSETS] * 2, ["SeFa"] * 2)


def test_preview_strips_sweep_each_direction_from_minus_3_to_plus_3_in_one_pass():
    strips = gan.preview_strips(GAN, 2, 9, 0.7, "GANSpace")
    assert len(strips) == gan.NUM_DIRECTIONS
    size = 28 * gan.PREVIEW_SCALE
    frames = gan.PREVIEW_FRAMES
    for direction, strip in enumerate(strips):
        assert strip.size == ((frames * 29 + 1) * gan.PREVIEW_SCALE, 30 * gan.PREVIEW_SCALE)
        grey = pixels(strip.convert("L"))  # in colour: the frame round the cell at the slider's value
        cells = [grey[2:2 + size, (1 + 29 * i) * 2:(1 + 29 * i) * 2 + size] for i in range(frames)]
        # the middle frame is the picture with every slider at 0, the ends are offsets -3 and +3
        expected = [gan.generate(GAN, 2, 9, 0.7, offsets(direction, v), "GANSpace") for v in (-3.0, 0.0, 3.0)]
        for cell, picture in zip([cells[0], cells[frames // 2], cells[-1]], expected):
            small = pixels(picture)[::gan.SCALE, ::gan.SCALE]
            assert np.abs(cell[::2, ::2] - small).max() <= 1
        assert np.abs(cells[0] - cells[-1]).mean() > 0.1


def test_the_grid_shows_eight_seeds_under_the_same_offsets():
    picture = gan.grid(GAN, 6, 40, 0.7, offsets(0, 2.0), "SeFa")
    columns, rows = gan.GRID_COLUMNS, gan.GRID_SEEDS // gan.GRID_COLUMNS
    assert picture.size == ((columns * 30 + 2) * gan.GRID_SCALE, (rows * 30 + 2) * gan.GRID_SCALE)
    for i in range(gan.GRID_SEEDS):
        y, x = (2 + (i // columns) * 30) * gan.GRID_SCALE, (2 + (i % columns) * 30) * gan.GRID_SCALE
        cell = pixels(picture)[y:y + 28 * gan.GRID_SCALE:gan.GRID_SCALE, x:x + 28 * gan.GRID_SCALE:gan.GRID_SCALE]
        alone = pixels(gan.generate(GAN, 6, 40 + i, 0.7, offsets(0, 2.0), "SeFa"))[::gan.SCALE, ::gan.SCALE]
        assert np.abs(cell - alone).max() <= 1, f"seed {40 + i}"


@pytest.mark.parametrize("model", [GAN, "gan-mlp-mnist"])
def test_the_latent_json_round_trip_restores_the_exact_picture(model):
    point = dict(label=7, seed=31337, truncation=0.83, offsets=[0.35, -1.2, 0, 3.0, -3.0, 0.05, 2.2, -0.7],
                 method="GANSpace")
    text = gan.state_json(model, point["label"], point["seed"], point["truncation"], point["offsets"],
                          point["method"])
    written = json.loads(text)
    assert set(written) >= {"model", "method", "label", "seed", "truncation", "offsets", "z"}
    assert written["model"] == model and len(written["z"]) == aigc.load(model, device="cpu").config.latent_dim
    state = gan.parse_state(text)
    assert state == dict(model=model, **point)
    again = gan.generate(state["model"], state["label"], state["seed"], state["truncation"], state["offsets"],
                         state["method"])
    original = gan.generate(model, point["label"], point["seed"], point["truncation"], point["offsets"],
                            point["method"])
    assert np.array_equal(pixels(again), pixels(original))
    # z itself draws the same picture through the public Python API
    generator = aigc.load(model, device="cpu")
    from_z = generator.generate(torch.tensor([written["z"]]), torch.tensor([7]))[0, 0]
    assert np.abs((from_z.numpy() * 255).round() - pixels(original)[::gan.SCALE, ::gan.SCALE]).max() <= 1


@pytest.mark.parametrize("text, message", [
    ("", "Paste the latent JSON first"),
    ("{model: gan-mnist}", "That is not valid JSON"),
    ("[1, 2]", "must be an object"),
    ('{"seed": 3}', 'has no "model"'),
    ('{"model": "nope"}', "Unknown model 'nope'"),
    ('{"model": "vae-mnist"}', "Unknown model 'vae-mnist'"),
    ('{"model": "gan-mnist", "label": 12}', "Unknown class 12"),
    ('{"model": "gan-mnist", "method": "pca"}', "Unknown direction method"),
    ('{"model": "gan-mnist", "seed": -1}', '"seed" must be a whole number'),
    ('{"model": "gan-mnist", "seed": 1.5}', '"seed" must be a whole number'),
    ('{"model": "gan-mnist", "truncation": "high"}', "Expected a number for truncation"),
    ('{"model": "gan-mnist", "offsets": [1, 2]}', "Expected 8 direction offsets, got 2"),
    ('{"model": "gan-mnist", "offsets": "zero"}', '"offsets" must be a list of 8 numbers'),
    ('{"model": "gan-mnist", "z": [1, 2]}', '"z" must be a list of 64 numbers'),
    ('{"model": "gan-mnist", "colour": "red"}', "Unknown key.*colour"),
    ('{"model": "gan-mnist", "seed": 1e999}', '"seed" must be a whole number'),
    ("[" * 100_000, "too long"),
])
def test_bad_json_is_refused_clearly(text, message):
    with pytest.raises(InputError, match=message):
        gan.parse_state(text)


def test_json_whose_z_disagrees_with_its_seed_is_refused():
    state = json.loads(gan.state_json(GAN, 1, 2, 0.7, NO_OFFSETS))
    state["z"][0] += 0.5
    with pytest.raises(InputError, match='"z" is not the point that seed, truncation and offsets give'):
        gan.parse_state(json.dumps(state))
    del state["z"]
    assert gan.parse_state(json.dumps(state))["seed"] == 2  # without z, the rest restores the point


def test_gan_generate_through_the_api_takes_the_method(app_url):
    from gradio_client import Client
    from PIL import Image

    client = Client(app_url, verbose=False)
    path = client.predict(model=GAN, label=3, seed=5, truncation=0.5, d2=-2.0, method="GANSpace",
                          api_name="/gan_generate")
    expected = gan.generate(GAN, 3, 5, 0.5, offsets(1, -2.0), "GANSpace")
    assert np.array_equal(np.asarray(Image.open(path).convert("L")), np.asarray(expected))


def test_the_batched_handler_takes_lists_and_one_bad_request_spoils_no_other():
    import gradio as gr

    from aigc.ui import gan as tab

    columns = dict(model=[GAN, "nope", GAN], label=[3, 0, "7"], seed=[5, 1, 9], truncation=[0.5, 0.7, 0.9],
                   method=["SeFa", "SeFa", "GANSpace"])
    columns.update({f"d{i}": [0.0, 0.0, 1.0 if i == 3 else 0.0] for i in range(1, gan.NUM_DIRECTIONS + 1)})
    (pictures,) = tab.gan_generate(**columns)
    assert pictures[1] is None  # the unknown model
    assert np.array_equal(pixels(pictures[0]), pixels(gan.generate(GAN, 3, 5, 0.5)))
    assert np.array_equal(pixels(pictures[2]), pixels(gan.generate(GAN, 7, 9, 0.9, offsets(2, 1.0), "GANSpace")))
    alone = {key: [values[1]] for key, values in columns.items()}
    with pytest.raises(gr.Error, match="Unknown model 'nope'"):
        tab.gan_generate(**alone)


def test_restore_sets_every_control_and_a_model_change_keeps_the_restored_class():
    from aigc.ui import gan as tab

    text = gan.state_json(GAN, 6, 77, 0.4, offsets(5, -2.5), "GANSpace")
    model, method, label, seed, truncation, *sliders = tab.restore(text)
    assert (model.value, method, label.value, seed, truncation, sliders) == \
        (GAN, "GANSpace", 6, 77, 0.4, offsets(5, -2.5))
    assert tab.label_choices(GAN, 6).value == 6 and tab.label_choices(GAN, 42).value == 0


def point(model=GAN, label=0, seed=1, truncation=0.7, moved=NO_OFFSETS, method="SeFa") -> list:
    """The page's point: the values of /gan_generate's parameters, in its order."""
    return [model, label, seed, truncation, *moved, method]


def test_every_view_follows_the_point_as_the_studio_draws_it():
    from aigc.ui import gan as tab

    here = point(GAN, 6, 40, 0.6, offsets(0, 2.0), "GANSpace")
    assert tab.latent_json(here) == gan.state_json(GAN, 6, 40, 0.6, offsets(0, 2.0), "GANSpace")
    from PIL import Image

    shown = tab.seed_grid(True, here)
    expected = gan.grid(GAN, 6, 40, 0.6, offsets(0, 2.0), "GANSpace")
    assert shown.visible and np.array_equal(pixels(Image.open(shown.value["path"]).convert("L")), pixels(expected))
    assert tab.seed_grid(False, here).visible is False  # a hidden grid is not drawn
    strips = tab.preview_strips(here)
    assert len(strips) == gan.NUM_DIRECTIONS and all(strip.startswith('<img src="data:image/png;base64,')
                                                     for strip in strips)
    label = tab.slider_label(3, gan.direction_names(GAN, "GANSpace")[2])  # "Direction 3: thicker", say
    assert f'alt="{label}, from -3 to +3, marked at +0"' in strips[2]


def test_a_model_with_no_visible_direction_still_offers_its_strongest_to_animate(monkeypatch):
    from aigc.ui import gan as tab

    monkeypatch.setattr(gan, "direction_names", lambda model, method: [None] * gan.NUM_DIRECTIONS)
    *sliders_and_rows, sweep_choice = tab.named_directions(GAN, "SeFa")
    assert not any(row.visible for row in sliders_and_rows[gan.NUM_DIRECTIONS:])
    assert sweep_choice.choices == [("Direction 1", 1)] and sweep_choice.value == 1


def test_the_picture_says_what_it_shows():
    from aigc.ui import gan as tab

    alt = tab.picture_text(point(GAN, 7, 31337, 0.83, offsets(2, -1.5))).alt_text
    assert alt == "A picture drawn by gan-mnist: class 7, seed 31337, truncation 0.83, direction 3 -1.5"


def test_a_point_of_the_wrong_shape_is_refused_clearly():
    import gradio as gr

    from aigc.ui import gan as tab

    for bad in (None, "gan-mnist", point()[:-1]):
        with pytest.raises(gr.Error, match="Expected the tab's 13 values"):
            tab.latent_json(bad)


def test_the_pages_server_events_read_the_point_not_every_control():
    """Gradio's page keeps the loading status of every input of every finished server event and refreshes all
    of them at each later status change of any event: events that read every control slowed the picture."""
    import gradio as gr

    from aigc.ui import gan as tab

    with gr.Blocks() as demo:
        tab.tab(demo)
    events = demo.get_config_file()["dependencies"]
    fired_by_the_page = [event for event in events if event["backend_fn"] and event["targets"]]
    assert fired_by_the_page and all(len(event["inputs"]) <= 3 for event in fired_by_the_page)
    public = {event["api_name"]: event for event in events if event["api_visibility"] == "public"}
    assert public["gan_generate"]["targets"] == [] and len(public["gan_generate"]["inputs"]) == 13


def direct_call(url: str, values: list) -> str:
    """One call of /gan_generate as direct_call.js makes it -> the text of its event stream."""
    import httpx

    endpoint = f"{url}gradio_api/call/gan_generate"
    posted = httpx.post(endpoint, json={"data": values, "session_hash": "direct-test"}, timeout=60)
    return httpx.get(f"{endpoint}/{posted.json()['event_id']}", timeout=60).text


def test_the_direct_calls_protocol_is_the_one_gradio_serves(app_url):
    """direct_call.js's assumptions about Gradio's HTTP API, checked here so that a Gradio change fails a test
    rather than leaving the page's picture silently still."""
    import io
    import re

    import httpx
    from PIL import Image

    from aigc.ui import gan as tab

    assert '"gradio_api/call/" + apiName' in tab.DIRECT_CALL_JS and "event_id: eventId" in tab.DIRECT_CALL_JS
    complete = re.search(r"events\.match\(/(.+)/m\)", tab.DIRECT_CALL_JS)[1]  # the page's own reading of the reply
    events = direct_call(app_url, point(GAN, 3, 5, 0.5, offsets(1, -2.0), "GANSpace"))
    picture = json.loads(re.search(complete, events, re.M)[1])[0]
    shown = Image.open(io.BytesIO(httpx.get(picture["url"], timeout=60).content)).convert("L")
    assert np.array_equal(pixels(shown), pixels(gan.generate(GAN, 3, 5, 0.5, offsets(1, -2.0), "GANSpace")))
    assert re.search(r"^event: error$", direct_call(app_url, point("nope")), re.M)  # refused: no picture

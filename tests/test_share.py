"""Share links: a tab's state in the query string (or JSON) reopens exactly the same picture, walk or comparison."""

import io
import json
import os

import gradio as gr
import numpy as np
import pytest
import torch
from gradio_client import Client
from PIL import Image

from aigc.images import to_pil
from aigc.latent import ganspace_directions, sefa_directions, truncate
from aigc.studio import InputError, gan, share, vae
from aigc.studio import compare as compare_studio
from aigc.studio.models import registry
from aigc.ui import gan as gan_ui
from aigc.ui import vae as vae_ui
from aigc.ui.common import linked_fields

GAN, VAE = "gan-mnist", "vae-mnist"
CHROMIUM = "/usr/bin/chromium"


def pixels(picture) -> np.ndarray:
    return np.asarray(Image.open(picture) if isinstance(picture, (str, bytes, io.BytesIO)) else picture,
                      dtype=np.int16)


class FakeRequest:
    """What a handler sees of the page's address."""

    def __init__(self, query: str):
        self.query_params = dict(share.read(query)[1], tab=share.read(query)[0]) if query else {}


def point(model, label, seed, truncation, method, *offsets) -> list:
    """The GAN tab's point (the values of /gan_generate's parameters, in order)."""
    return [model, label, seed, truncation, *offsets, method]


def old_picture(model, label, seed, truncation, offsets, method) -> np.ndarray:
    """The picture a link or JSON written before the sliders were named showed: offsets along the method's own
    directions, in its own order (as aigc.latent finds them)."""
    generator = registry().get(model)
    z = truncate(gan.seed_latent(generator.config.latent_dim, seed), truncation)
    z = z + torch.tensor(offsets) @ own_directions(model, method)
    return pixels(to_pil(generator.generate(z[None], torch.tensor([label]))[0], gan.SCALE))


def own_directions(model, method) -> torch.Tensor:
    """The method's directions in its own order (the sliders' order before they were named)."""
    find = sefa_directions if method == "SeFa" else ganspace_directions
    return find(registry().get(model), gan.NUM_DIRECTIONS)[0]


def test_a_gan_link_holds_the_whole_state_and_restores_it():
    query = gan_ui.share_link(point(GAN, 7, 5, 0.5, "GANSpace", 1.5, 0, 0, 0, 0, 0, 0, -2))
    assert query.startswith("?tab=gan&") and "class=7" in query and "offsets=1.5" in query and "z=" not in query
    fields = share.read(query)[1]
    names = gan.direction_names(GAN, "GANSpace")
    assert fields["names"] == ",".join(name or "" for name in names)  # for whoever reads the link
    assert fields["axes"] == ",".join(map(str, gan.sliders(GAN, "GANSpace").axes))
    tab, fields = share.read("http://localhost:7860/" + query)
    state = gan.state_from_link(fields)
    assert tab == "gan" and state == {"model": GAN, "method": "GANSpace", "label": 7, "seed": 5, "truncation": 0.5,
                                      "offsets": [1.5, 0, 0, 0, 0, 0, 0, -2]}
    restored = gan.generate(state["model"], state["label"], state["seed"], state["truncation"], state["offsets"],
                            state["method"])
    original = gan.generate(GAN, 7, 5, 0.5, [1.5, 0, 0, 0, 0, 0, 0, -2], "ganspace")
    assert np.array_equal(pixels(restored), pixels(original))
    # the same through the tab's Restore box, as a link or as the link's JSON
    controls = gan_ui.restore(query)
    assert controls[0].value == GAN and controls[1:] == ["GANSpace", controls[2], 5, 0.5, 1.5, 0, 0, 0, 0, 0, 0, -2]
    assert controls[2].value == 7
    assert gan.restore_state(share.as_json("gan", fields)) == state


def test_opening_the_page_with_a_link_sets_the_gan_controls():
    query = gan_ui.share_link(point(GAN, 3, 11, 0.9, "SeFa", 0, 0, 2, 0, 0, 0, 0, 0))
    controls = gan_ui.open_link(FakeRequest(query))
    assert controls[0].value == GAN and controls[3:] == [11, 0.9, 0, 0, 2, 0, 0, 0, 0, 0]
    assert gan_ui.open_link(FakeRequest("")) == [gr.skip()] * 13  # no link: the tab keeps its defaults
    assert gan_ui.open_link(FakeRequest("?tab=vae&model=vae-mnist")) == [gr.skip()] * 13
    with pytest.warns(UserWarning, match="could not be opened.*offsets"):  # a bad link is a warning, not a dead tab
        assert gan_ui.open_link(FakeRequest("?tab=gan&model=gan-mnist&offsets=1,2")) == [gr.skip()] * 13


@pytest.mark.parametrize("method", ["SeFa", "GANSpace"])
def test_links_and_json_written_before_the_sliders_had_names_still_show_their_picture(method):
    """Their offsets are in the method's own order, and unturned: they are mapped onto today's sliders."""
    offsets = [1.5, 0, -2.0, 0, 0, 0.5, 0, 3.0]
    expected = old_picture(GAN, 3, 11, 0.9, offsets, method)
    link = f"?tab=gan&model=gan-mnist&class=3&seed=11&truncation=0.9&offsets={','.join(map(str, offsets))}" \
           f"&method={method}"
    written = json.loads(gan.state_json(GAN, 3, 11, 0.9, [0.0] * gan.NUM_DIRECTIONS, method))
    del written["names"], written["axes"], written["z"]
    old_json = json.dumps({**written, "offsets": offsets})
    for state in (gan.restore_state(link), gan.restore_state(old_json)):
        assert sorted(map(abs, state["offsets"])) == sorted(map(abs, offsets))  # the same moves, on other sliders
        restored = gan.generate(GAN, state["label"], state["seed"], state["truncation"], state["offsets"], method)
        assert np.abs(pixels(restored) - expected).max() <= 1
    # and the page opened with the old link sets the sliders to today's order
    controls = gan_ui.open_link(FakeRequest(link))
    assert controls[5:] == gan.restore_state(link)["offsets"]


def test_old_json_keeps_its_z():
    """Its z is the point its offsets give in the old order: it is accepted, and today's sliders reach it."""
    offsets = [0, 2.5, 0, 0, 0, 0, 0, -1.0]
    base = json.loads(gan.state_json(GAN, 2, 8, 0.7, [0.0] * gan.NUM_DIRECTIONS, "SeFa"))
    z = torch.tensor(base["z"]) + torch.tensor(offsets) @ own_directions(GAN, "SeFa")
    old = {key: base[key] for key in ("model", "method", "label", "class", "seed", "truncation")}
    old.update(offsets=offsets, z=[round(v, 6) for v in z.tolist()])
    state = gan.parse_state(json.dumps(old))
    again = json.loads(gan.state_json(GAN, 2, 8, 0.7, state["offsets"], "SeFa"))
    assert np.allclose(again["z"], old["z"], atol=1e-5)


@pytest.mark.parametrize("query, message", [
    ("?tab=gan&model=gan-mnist&seed=lucky", "seed"),
    ("?tab=gan&model=gan-mnist&axes=1,2,3,4,5,6,7,7", "each of 1 to 8 once"),
    ("?tab=gan&model=gan-mnist&axes=1,2,3,4,5,6,7,0", "each of 1 to 8 once"),
    ("?tab=gan&model=gan-mnist&axes=1,2,3,4,5,6,7,8.5", "each of 1 to 8 once"),
    ("?tab=gan&model=gan-mnist&axes=1,2,3", "8 comma-separated"),
    ("?tab=gan&model=gan-mnist&offsets=1,2,3", "8 comma-separated"),
    ("?tab=gan&model=gan-mnist&offsets=0,0,0,0,0,0,0,x", "offsets"),
    ("?tab=gan&model=vae-mnist", "Unknown model|VAE"),
    ("?tab=gan&model=gan-mnist&class=Sneaker", "Unknown class"),
    ("?tab=gan&model=gan-mnist&truncation=nan", "NaN"),
    ("?tab=gan&model=gan-mnist&colour=red", "Unknown key"),
])
def test_bad_gan_links_say_what_is_wrong(query, message):
    with pytest.raises(InputError, match=message):
        gan.state_from_link(share.read(query)[1])


def test_links_name_their_tab():
    with pytest.raises(InputError, match="names no tab"):
        share.read("?model=gan-mnist")
    with pytest.raises(InputError, match="for the vae tab"):
        gan.restore_state("?tab=vae&model=vae-mnist")
    with pytest.raises(InputError, match="not valid JSON"):
        share.read('{"tab": "gan",')
    with pytest.raises(InputError, match="too long"):
        share.read("?tab=gan&x=" + "a" * share.MAX_LINK_CHARS)
    assert linked_fields(FakeRequest("?tab=compare&dataset=fashion&seed=3"), "compare") == {"dataset": "fashion",
                                                                                            "seed": "3"}


def test_a_vae_link_names_test_pictures_and_restores_the_same_frames():
    a, b = vae.example_source(VAE, 3), vae.example_source(VAE, 8)
    query = vae_ui.share_link(VAE, a, b, 7, "slerp")
    state = vae.state_from_link(share.read(query)[1])
    assert (state["a"], state["b"], state["steps"], state["mode"]) == (a, b, 7, "slerp")
    restored, _ = vae.interpolate(state["model"], state["picture_a"], state["picture_b"], state["steps"],
                                  state["mode"])
    original, _ = vae.interpolate(VAE, vae.example_pictures(VAE)[3], vae.example_pictures(VAE)[8], 7, "slerp")
    assert len(restored) == 7 and all(np.array_equal(pixels(x), pixels(y)) for x, y in zip(restored, original))
    # the page opened with the link shows that walk, and remembers where the pictures came from
    outputs = vae_ui.open_page(VAE, [None, None], FakeRequest(query))
    assert outputs[3:7] == [a, b, 7, "slerp"] and len(outputs[7]) == 7


def test_a_vae_link_refuses_uploads_and_bad_names():
    with pytest.raises(gr.Error, match="Image B is an upload or a drawing"):
        vae_ui.share_link(VAE, "mnist:3", None)
    for source, message in [("mnist:x", "test picture"), ("cifar:3", "names no test picture")]:
        with pytest.raises(InputError, match=message):
            vae.held_out_picture(source)
    with pytest.raises(InputError, match="Unknown mode"):
        vae.state_from_link({"a": "mnist:1", "b": "mnist:2", "mode": "spline"})


def test_a_compare_link_restores_dataset_and_seed():
    assert compare_studio.shared_state("fashion", "12") == {"dataset": "fashion", "seed": 12}
    from aigc.ui import compare as compare_ui

    assert compare_ui.open_link(FakeRequest("?tab=compare&dataset=fashion&seed=12")) == ("fashion", 12)
    with pytest.raises(InputError, match="Unknown dataset"):
        compare_studio.shared_state("cifar", 1)


def test_a_link_restores_the_same_picture_through_the_api(app_url):
    """What a link holds is enough for an API client to draw the same picture."""
    query = gan_ui.share_link(point(GAN, 2, 99, 0.6, "SeFa", 0, -1.25, 0, 0, 0, 0, 0, 0))
    state = gan.state_from_link(share.read(query)[1])
    offsets = {f"d{i}": value for i, value in enumerate(state["offsets"], start=1)}
    path = Client(app_url, verbose=False).predict(model=state["model"], label=state["label"], seed=state["seed"],
                                                   truncation=state["truncation"], **offsets, api_name="/gan_generate")
    expected = gan.generate(GAN, 2, 99, 0.6, [0, -1.25, 0, 0, 0, 0, 0, 0], "sefa")
    assert np.array_equal(pixels(Image.open(path).convert("L")), pixels(expected.convert("L")))


@pytest.mark.browser
@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is not installed")
def test_a_link_opened_in_a_browser_shows_the_same_picture(app_url):
    sync_api = pytest.importorskip("playwright.sync_api")
    query = gan_ui.share_link(point(GAN, 4, 1234, 0.8, "SeFa", 0, 0, 2.5, 0, 0, 0, 0, 0))
    expected = pixels(gan.generate(GAN, 4, 1234, 0.8, [0, 0, 2.5, 0, 0, 0, 0, 0], "sefa").convert("L"))
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                                   "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(app_url.rstrip("/") + "/" + query)
        page.wait_for_function("() => document.querySelector('#gan-d3 input[type=number]')?.value === '2.5'")

        def shown() -> np.ndarray:
            src = page.locator("#gan-picture img").get_attribute("src")
            return pixels(Image.open(io.BytesIO(page.request.get(src).body())).convert("L"))

        page.locator("#gan-picture img").wait_for()
        for _ in range(60):  # the default picture may show first; the linked one follows
            if np.array_equal(shown(), expected):
                break
            page.wait_for_timeout(500)
        assert np.array_equal(shown(), expected)
        # and the page's own Share button (under Advanced) gives back a link to the same state
        page.get_by_text("Advanced: the latent as JSON").click()
        page.get_by_role("button", name="🔗 Share").first.click()
        page.wait_for_function("() => document.querySelector('#gan-link textarea')?.value.includes('?tab=gan')")
        link = page.locator("#gan-link textarea").input_value()
        assert link.startswith(app_url.rstrip("/")) and gan.state_from_link(share.read(link)[1]) == \
            gan.state_from_link(share.read(query)[1])
        browser.close()


def test_a_text_link_writes_the_same_text_again():
    from aigc.studio import text
    from aigc.ui import text as text_ui

    *_, continuation = text.stream("JULIET:\n", 40, 0.9, 20, 0.95, None)  # a random seed, reported
    query = text_ui.share_link(continuation)
    assert f"seed={continuation.seed}" in query and "max_new_tokens=40" in query
    state = text.state_from_link(share.read(query)[1])
    *_, again = text.stream(**state)
    assert again.text == continuation.text and again.seed == continuation.seed
    # the page opened with the link fills in the controls and streams that text
    *_, last = text_ui.open_link(FakeRequest(query))
    assert last[:7] == ["JULIET:\n", "40", "0.9", "20", "0.95", str(continuation.seed), "gpt-shakespeare"]
    assert last[7] == continuation.text
    stopped = next(text.stream("ROMEO:", 500, 1.0, 0, 1.0, 7))  # stopped after one token: shared as shown
    assert text.shared_state(stopped)["max_new_tokens"] == 1


def test_a_text_link_needs_a_seed_and_text_to_share():
    from aigc.studio import text
    from aigc.ui import text as text_ui

    with pytest.raises(gr.Error, match="Generate some text first"):
        text_ui.share_link(None)
    with pytest.raises(InputError, match="no seed"):
        text.state_from_link({"prompt": "ROMEO:"})
    with pytest.raises(InputError, match="Unknown field"):
        text.state_from_link({"seed": "1", "colour": "red"})
    with pytest.warns(UserWarning, match="could not be opened"):
        assert next(text_ui.open_link(FakeRequest("?tab=text&prompt=x"))) == [gr.skip()] * 11

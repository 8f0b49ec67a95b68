"""The VAE tab in a real browser (Debian's headless Chromium, driven by Playwright): the keyboard and typed values,
output-only galleries, a sketchpad that draws at once, a phone, and what each picture says to a screen reader.

Screenshots go to test-artifacts/ for people to look at.
"""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aigc.data import CLASS_NAMES
from aigc.studio import vae
from helpers import draw_stroke

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
WAIT_MS = 90_000  # a walk waits in the one heavy queue, which the machine's other work may hold for a while
pytestmark = pytest.mark.browser


def open_tab(page, app_url: str):
    page.set_default_timeout(WAIT_MS)
    page.goto(app_url)
    page.get_by_role("tab", name="VAE").click()
    wait_for_frames(page, vae.DEFAULT_STEPS)  # the walk between the starting pictures
    return page


@pytest.fixture(scope="module")
def page(browser, app_url):
    page = open_tab(browser.new_page(viewport={"width": 1400, "height": 1000}), app_url)
    yield page
    page.close()


def wait_for_frames(page, count: int) -> None:
    page.wait_for_function("count => document.querySelectorAll('#vae-frames img').length === count", arg=count)


def src(page, selector: str) -> str | None:
    return page.locator(selector).first.get_attribute("src")


def wait_for_new_src(page, selector: str, before: str | None) -> None:
    page.wait_for_function("([selector, before]) => document.querySelector(selector)?.src !== before",
                           arg=[selector, before])


def shown_pixels(page, selector: str) -> np.ndarray:
    body = page.request.get(src(page, selector)).body()
    return np.asarray(Image.open(io.BytesIO(body)).convert("L"), dtype=np.int16)


def screenshot(page, name: str) -> None:
    """The whole page, its pictures loaded (Gradio loads them lazily, as they scroll into view)."""
    ARTIFACTS.mkdir(exist_ok=True)
    for picture in page.locator("#vae-frames img, .vae-gallery img").all():
        picture.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=ARTIFACTS / name, full_page=True)


def assert_no_error_toast(page) -> None:
    errors = page.locator(".toast-body.error")
    assert errors.count() == 0, errors.first.inner_text()


def test_steps_follow_the_arrow_keys_and_a_typed_number(page):
    page.locator("#vae-steps input[type=range]").focus()
    page.keyboard.press("ArrowRight")
    wait_for_frames(page, vae.DEFAULT_STEPS + 1)
    page.locator("#vae-steps input[type=number]").fill("6")  # typed, not yet left: the walk follows already
    wait_for_frames(page, 6)
    captions = page.locator("#vae-frames img").evaluate_all("pictures => pictures.map(picture => picture.alt)")
    assert captions == [f"Frame {k} of 6" for k in range(1, 7)]
    assert_no_error_toast(page)


def test_the_temperature_follows_the_arrow_keys_and_a_typed_number(page):
    samples = "#vae-samples img"
    page.locator(samples).wait_for(state="attached")
    before = src(page, samples)
    page.locator("#vae-temperature input[type=range]").focus()
    page.keyboard.press("ArrowLeft")
    wait_for_new_src(page, samples, before)
    assert page.locator("#vae-temperature input[type=number]").input_value() == "0.95"
    before = src(page, samples)
    page.locator("#vae-temperature input[type=number]").fill("0")
    wait_for_new_src(page, samples, before)
    grid = shown_pixels(page, samples)  # at temperature 0 each sample is its class's centre of the prior, decoded
    cell = (28 + 2) * vae.SAMPLE_SCALE  # 16 samples, 4 a row: samples 0 and 10 are both of class 0
    assert np.abs(grid[:cell, :cell] - grid[2 * cell:3 * cell, 2 * cell:3 * cell]).max() <= 1


def test_the_frames_are_for_looking_at_not_for_uploading(page):
    frames = page.locator("#vae-frames")
    assert frames.locator("input[type=file]").count() == 0 and "Drop" not in frames.inner_text()
    labels = frames.locator("button").evaluate_all("buttons => buttons.map(button => button.ariaLabel)")
    assert not {"Upload", "Clear", "Delete", "Remove Image"} & set(labels), labels


def test_a_stroke_on_a_sketchpad_just_opened_draws_and_reaches_the_model(page):
    """No tool to pick first: the brush is ready, and the stroke is what the model sees and walks from."""
    before = {name: src(page, f"#vae-{name} img") for name in ("seen-a", "frames")}
    page.get_by_text("Draw A").click()
    page.locator("#vae-sketch-a .toolbar-wrap button.highlight[aria-label=Brush]").wait_for()  # shown as chosen
    draw_stroke(page, "#vae-sketch-a canvas")
    assert page.evaluate("String(getSelection())") == ""  # the drag drew; it selected no text
    for name, old in before.items():
        wait_for_new_src(page, f"#vae-{name} img", old)
    bar = shown_pixels(page, "#vae-seen-a img")  # 224 px wide, light on dark: the stroke is in the middle
    assert bar[:, 100:124].mean() > 4 * bar[:, :60].mean()
    assert page.locator("#vae-image-a img").get_attribute("alt") == "Image A: an uploaded or drawn picture"
    assert_no_error_toast(page)
    page.get_by_text("Draw A").click()  # closed again


def test_every_picture_says_what_it_shows_and_no_label_is_cut(page):
    galleries = page.locator(".block:has(> label:has-text('Or click a test image'))")
    galleries.nth(1).get_by_role("button", name="Thumbnail 6 of").click()  # a 5
    page.wait_for_function("() => document.querySelector('#vae-image-b img')?.alt.endsWith('class 5')")
    texts = page.locator("#vae-tab img").evaluate_all("pictures => pictures.map(picture => picture.alt)")
    assert texts and all(texts), texts  # the frames, the GIF, the map, the samples, ... each with a text
    for gallery in (galleries.nth(0), galleries.nth(1)):
        assert gallery.locator("img").evaluate_all("pictures => pictures.map(p => p.alt)") == CLASS_NAMES["mnist"]
    cut = page.locator("#vae-tab label[data-testid=block-label]").evaluate_all(
        "labels => labels.filter(label => label.scrollWidth > label.clientWidth).map(label => label.innerText)")
    assert cut == []
    screenshot(page, "vae-light.png")


def test_on_a_phone_every_test_picture_is_in_view_and_a_tap_picks_it(browser, app_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        phone = open_tab(context.new_page(), app_url)
        for gallery in phone.locator(".vae-gallery").all():
            gallery.scroll_into_view_if_needed()
            boxes = gallery.locator(".grid-wrap").evaluate(
                """wrap => [wrap.getBoundingClientRect(), ...[...wrap.querySelectorAll('.thumbnail-item')]
                            .map(item => item.getBoundingClientRect())].map(r => [r.left, r.right])""")
            (left, right), thumbnails = boxes[0], boxes[1:]
            assert thumbnails and all(left <= a and b <= min(right, 390) for a, b in thumbnails), boxes
        before = src(phone, "#vae-image-a img")
        phone.locator(".block:has(> label:has-text('Or click a test image'))").first.get_by_role(
            "button", name="Thumbnail 10 of").tap()  # the last one, hidden by overflow once
        wait_for_new_src(phone, "#vae-image-a img", before)
        phone.wait_for_function("() => document.querySelector('#vae-image-a img').alt.endsWith('class 9')")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(phone, "vae-phone.png")
    finally:
        context.close()

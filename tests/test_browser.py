"""The app in a real browser (Debian's headless Chromium, driven by Playwright): live sliders and every tab.

Screenshots go to test-artifacts/ for people to look at.
"""

import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from aigc.studio import gan
from aigc.ui import gan as gan_tab
from helpers import draw_stroke

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture(scope="module")
def page(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)  # the first GAN picture waits for the directions to be measured
    page.goto(app_url)
    return page


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / name, full_page=True)


def assert_no_error_toast(page) -> None:
    errors = page.locator(".toast-body.error")
    assert errors.count() == 0, errors.first.inner_text()


def test_the_gan_picture_follows_a_slider_while_it_is_dragged(page):
    picture = page.locator("#gan-picture img")
    picture.wait_for()
    before = picture.get_attribute("src")
    track = page.locator("#gan-d1 input[type=range]").bounding_box()
    x, y = track["x"] + track["width"] / 2, track["y"] + track["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 9):
        page.mouse.move(x + step * track["width"] / 20, y, steps=3)
        page.wait_for_timeout(100)
    # still holding the mouse button: the picture must already be a new one, and once the moves have been
    # answered, the very picture of the slider's value
    page.wait_for_function("before => document.querySelector('#gan-picture img').src !== before", arg=before)
    page.wait_for_timeout(1500)
    offset = float(page.locator("#gan-d1 input[type=number]").input_value())
    assert offset > 0
    expected = gan.generate("gan-fashion", 0, gan_tab.DEFAULT_SEED, gan.DEFAULT_TRUNCATION, [offset] + [0.0] * 7)
    assert np.array_equal(shown_picture(page, "#gan-picture img"), np.asarray(expected.convert("RGB")))
    page.mouse.up()
    assert_no_error_toast(page)
    screenshot(page, "gan.png")


def shown_picture(page, selector: str) -> np.ndarray:
    """The pixels of the picture an <img> shows, fetched from its src."""
    response = page.request.get(page.locator(selector).get_attribute("src"))
    return np.asarray(Image.open(io.BytesIO(response.body())).convert("RGB"))


def src(page, selector: str) -> str | None:
    return page.locator(selector).first.get_attribute("src")


def wait_for_new_src(page, selector: str, before: str | None) -> None:
    page.wait_for_function("([selector, before]) => document.querySelector(selector)?.src !== before",
                           arg=[selector, before])


def test_two_picked_test_images_give_frames_and_a_gif(page):
    """Pick A and B from the galleries of test images, press Interpolate: ten frames and a GIF to download."""
    page.get_by_role("tab", name="VAE").click()
    page.locator("#vae-frames img").first.wait_for()  # the walk between the starting pictures
    before = {name: src(page, f"#vae-{name} img") for name in ("image-a", "image-b", "frames")}
    galleries = page.locator(".block:has(> label:has-text('Or click a test image'))")
    for side, thumbnail in (("a", 1), ("b", 2)):  # the first two test images: neither is a starting picture
        galleries.nth(ord(side) - ord("a")).get_by_role("button", name=f"Thumbnail {thumbnail} of").click()
        wait_for_new_src(page, f"#vae-image-{side} img", before[f"image-{side}"])
    page.get_by_role("button", name="Interpolate").click()
    wait_for_new_src(page, "#vae-frames img", before["frames"])
    page.wait_for_function("() => document.querySelectorAll('#vae-frames img').length === 10")
    gif = page.locator("#vae-animation a[download$='.gif']")
    gif.wait_for()
    assert page.request.get(gif.get_attribute("href")).body()[:4] == b"GIF8"
    assert_no_error_toast(page)
    screenshot(page, "vae.png")


def shown_pixels(page, selector: str) -> np.ndarray:
    """The pixels of a picture the page shows, fetched from its address."""
    body = page.request.get(src(page, selector)).body()
    return np.asarray(Image.open(io.BytesIO(body)).convert("L"), dtype=np.int16)


def test_an_uploaded_and_a_drawn_picture_give_frames_and_a_gif(page, tmp_path):
    """Upload A (a transparent PNG), draw B: each is shown as the model sees it, and the walk between them
    starts at A's reconstruction and ends at B's."""
    page.get_by_role("tab", name="VAE").click()
    page.locator("#vae-frames img").first.wait_for()
    before = {name: src(page, f"#vae-{name} img") for name in ("frames", "recon-b", "seen-b")}
    ring = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    ImageDraw.Draw(ring).ellipse((100, 30, 200, 170), outline="black", width=18)
    ring.save(tmp_path / "ring.png")
    page.locator("#vae-image-a button[aria-label='Remove Image']").click()
    page.locator("#vae-image-a input[type=file]").set_input_files(tmp_path / "ring.png")
    page.locator("#vae-seen-a img").wait_for()

    page.get_by_text("Draw B").click()
    page.locator("#vae-sketch-b button[aria-label='Brush']").click()
    draw_stroke(page, "#vae-sketch-b canvas")
    wait_for_new_src(page, "#vae-seen-b img", before.pop("seen-b"))
    bar = shown_pixels(page, "#vae-seen-b img")  # 224 px wide, light on dark: the stroke is in the middle
    assert bar[:, 100:124].mean() > 4 * bar[:, :60].mean()

    page.get_by_role("button", name="Interpolate").click()
    for name, old in before.items():  # the walk and the reconstructions come from two events, side by side
        wait_for_new_src(page, f"#vae-{name} img", old)
    first, last = (page.locator("#vae-frames img").nth(i) for i in (0, -1))
    for frame, side in ((first, "a"), (last, "b")):
        frame_pixels = np.asarray(Image.open(io.BytesIO(page.request.get(frame.get_attribute("src")).body()))
                                  .convert("L"), dtype=np.int16)
        assert np.abs(frame_pixels - shown_pixels(page, f"#vae-recon-{side} img")).max() <= 1
    assert page.request.get(page.locator("#vae-animation a[download$='.gif']").get_attribute("href")).body()[:4] \
        == b"GIF8"
    assert_no_error_toast(page)
    screenshot(page, "vae-upload-and-draw.png")


def test_a_typed_prompt_streams_its_continuation(page):
    """Type a prompt and press Generate: the text grows while it is written; then Stop.

    The page samples the text's length itself every 50 ms, so that a busy machine cannot make the test
    miss the growth between two of its own round trips.  600 tokens, not 2000: the page slows down as the
    coloured text grows (every update redraws it whole), and at 2000 Stop cannot be clicked here.
    """
    page.get_by_role("tab", name="Transformer").click()
    page.get_by_label("Prompt").fill("JULIET:\nO Romeo, Romeo")
    page.get_by_label(re.compile(r"number input for .*max_new_tokens")).fill("600")
    page.evaluate("""() => {
        window.lengths = [];
        setInterval(() => {
            const length = document.querySelector('#text-output textarea').value.length;
            if (length && window.lengths.at(-1) !== length) window.lengths.push(length);
        }, 50);
    }""")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function("() => window.lengths.length >= 2", polling=100)  # seen growing: it streams
    page.get_by_role("button", name="Stop").click()
    lengths = page.wait_for_function("""() => {  // the same text for a second: nothing more is coming
        const now = document.querySelector('#text-output textarea').value.length;
        if (window.lastLength !== now) { window.lastLength = now; window.sameSince = performance.now(); }
        return performance.now() - window.sameSince > 1000 ? window.lengths : null;
    }""", polling=100).json_value()
    assert lengths == sorted(set(lengths)), f"the text should only grow: {lengths}"
    assert_no_error_toast(page)
    screenshot(page, "transformer.png")


def test_compare_shows_the_metrics_table_with_fid(page):
    """The metrics table is on screen with an FID for the models (Gradio draws its rows as div.virtual-row)."""
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-grids img").first.wait_for()
    fid = page.wait_for_function("""() => {
        const table = document.querySelector('#compare-table');
        const headers = [...table.querySelectorAll('th')].map(th => th.innerText.trim());
        const column = headers.findIndex(header => header.startsWith('FID'));
        const cells = [...table.querySelectorAll('.virtual-row')].map(row =>
            row.querySelectorAll('.body-cell')[column]?.innerText.trim());
        const numbers = cells.filter(cell => /^[0-9]+([.][0-9]+)?$/.test(cell || ''));
        return column >= 0 && numbers.length >= 2 ? numbers : null;
    }""", polling=100).json_value()
    assert all(float(value) > 0 for value in fid)
    assert page.locator("#compare-table").is_visible()
    assert_no_error_toast(page)
    screenshot(page, "compare.png")

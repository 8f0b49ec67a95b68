"""The Train tab in a real browser: train the tutorial's GAN for 20 s, watch it learn, then steer it in the GAN tab."""

import io
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aigc.studio import gan
from aigc.studio import train as studio
from aigc.ui import gan as gan_tab
from helpers import set_up_tutorial_gan

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is not installed"),
]
# Every distinct picture the sample grid shows, as the page shows it.
WATCH_GRID_JS = """() => {
    window.trainGrids = new Set();
    setInterval(() => {
        const img = document.querySelector('#train-grid img');
        if (img?.src) window.trainGrids.add(img.src);
    }, 100);
}"""


def open_app(browser, app_url, address: str | None = None):
    """A visitor's page; ``address``: theirs as the proxy forwards it (the test app runs as behind one)."""
    headers = {"X-Forwarded-For": address} if address else {}
    page = browser.new_page(viewport={"width": 1400, "height": 1200}, extra_http_headers=headers)
    page.set_default_timeout(30_000)
    page.goto(app_url)
    return page


@pytest.fixture(scope="module")
def page(browser, app_url):
    return open_app(browser, app_url)


def shown_picture(page, selector: str) -> np.ndarray:
    response = page.request.get(page.locator(selector).get_attribute("src"))
    return np.asarray(Image.open(io.BytesIO(response.body())).convert("RGB"))


def assert_no_error_toast(page) -> None:
    errors = page.locator(".toast-body.error")
    assert errors.count() == 0, errors.first.inner_text()


def test_train_the_tutorials_gan_for_20_seconds_watch_it_learn_then_steer_it(page):
    set_up_tutorial_gan(page, 20)
    page.evaluate(WATCH_GRID_JS)
    page.locator("#train-start").click()
    page.wait_for_function("() => document.querySelector('#train-status')?.innerText.includes('done')",
                           timeout=90_000)
    grids = page.evaluate("() => window.trainGrids.size")
    assert grids >= 6, f"the grid changed {grids - 1} times"
    status = page.locator("#train-status").inner_text()
    assert "trained: mlp-gan bce 20 s" in status
    name = status[status.index("trained: mlp-gan"):].split('"')[0].strip()
    assert page.locator("#train-losses svg, #train-losses canvas").count() > 0, "no losses plot"
    assert "Diversity" in page.locator("#train-diversity").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "train.png", full_page=True)

    # the GAN tab now draws with the trained model, and follows its sliders
    page.get_by_role("tab", name="GAN").click()
    expected = gan.generate(name, 0, gan_tab.DEFAULT_SEED, gan.DEFAULT_TRUNCATION, [0.0] * 8)
    page.wait_for_function("() => document.querySelector('#gan-picture img')?.src")
    picture = page.locator("#gan-picture img")
    for _ in range(50):
        if np.array_equal(shown_picture(page, "#gan-picture img"), np.asarray(expected.convert("RGB"))):
            break
        page.wait_for_timeout(200)
    else:
        pytest.fail("the GAN tab does not draw the trained model")
    before = picture.get_attribute("src")
    # truncation: the tab hides the directions whose effect nobody sees, which may be all of a model trained for
    # a few dozen steps (a busy machine)
    slider = page.locator("#gan-truncation input[type=range]")
    slider.scroll_into_view_if_needed()  # the Train tab may have left the page scrolled
    track = slider.bounding_box()
    x, y = track["x"] + track["width"] / 2, track["y"] + track["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 6):
        page.mouse.move(x + step * track["width"] / 20, y, steps=3)
        page.wait_for_timeout(100)
    page.mouse.up()
    page.wait_for_function("before => document.querySelector('#gan-picture img').src !== before", arg=before,
                           timeout=60_000)
    page.wait_for_timeout(1500)
    truncation = float(page.locator("#gan-truncation input[type=number]").input_value())
    steered = gan.generate(name, 0, gan_tab.DEFAULT_SEED, truncation, [0.0] * 8)
    assert truncation != gan.DEFAULT_TRUNCATION
    assert np.array_equal(shown_picture(page, "#gan-picture img"), np.asarray(steered.convert("RGB")))
    assert_no_error_toast(page)
    page.screenshot(path=ARTIFACTS / "train-steered.png", full_page=True)


def status_of(page) -> str:
    return page.locator("#train-status").inner_text()


def test_pause_resume_and_stop_steer_the_run_in_progress(page):
    page.get_by_role("tab", name="Train").click()
    seconds = page.locator("#train-seconds input[type=number]")
    seconds.fill("120")
    seconds.press("Enter")
    page.locator("#train-start").click()
    page.wait_for_function("() => /\"training\"/.test(document.querySelector('#train-status')?.innerText)",
                           timeout=60_000)
    page.get_by_role("button", name="Pause").click()
    page.wait_for_function("() => /\"paused\"/.test(document.querySelector('#train-status').innerText)")
    held = status_of(page)
    page.wait_for_timeout(2500)
    assert status_of(page).split('"step"')[1][:12] == held.split('"step"')[1][:12], "the step moved while paused"
    page.get_by_role("button", name="Resume").click()
    page.wait_for_function("() => /\"training\"/.test(document.querySelector('#train-status').innerText)")
    page.get_by_role("button", name="Stop").click()
    page.wait_for_function("() => /\"done\"/.test(document.querySelector('#train-status').innerText)",
                           timeout=20_000)
    assert_no_error_toast(page)


def training_threads() -> int:
    return sum(thread.name == "aigc-train" for thread in threading.enumerate())


def start_training(visitor, seconds: int) -> None:
    visitor.get_by_role("tab", name="Train").click()
    field = visitor.locator("#train-seconds input[type=number]")
    field.fill(str(seconds))
    field.press("Enter")
    visitor.locator("#train-start").click()


def test_a_second_visitor_sees_their_place_in_line_and_trains_once_the_first_leaves(browser, app_url):
    first, second = open_app(browser, app_url, "198.51.100.41"), open_app(browser, app_url, "198.51.100.42")
    start_training(first, 300)
    first.wait_for_function("() => /\"training\"/.test(document.querySelector('#train-status')?.innerText)",
                            timeout=60_000)
    start_training(second, 300)
    second.wait_for_function("() => /queue: 1\\/\\d/.test(document.querySelector('#train-grid').innerText)")
    assert training_threads() == 1
    first.close()  # the first visitor leaves: their run stops, and the second's starts
    second.wait_for_function("() => /\"training\"/.test(document.querySelector('#train-status')?.innerText)",
                             timeout=(studio.STALL_S + 60) * 1000)
    second.get_by_role("button", name="Stop").click()
    second.wait_for_function("() => /\"done\"/.test(document.querySelector('#train-status').innerText)",
                             timeout=60_000)
    second.close()
    deadline = time.monotonic() + studio.STALL_S + 20
    while training_threads() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert training_threads() == 0, "a run goes on without its visitor"

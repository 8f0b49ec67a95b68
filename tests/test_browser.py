"""The app in a real browser (Debian's headless Chromium, driven by Playwright): live sliders and every tab.

Screenshots go to test-artifacts/ for people to look at.
"""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture(scope="module")
def page(app_url):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        page.goto(app_url)
        yield page
        browser.close()


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
    # still holding the mouse button: the picture must already be a new one
    page.wait_for_function("before => document.querySelector('#gan-picture img').src !== before", arg=before)
    page.mouse.up()
    assert float(page.locator("#gan-d1 input[type=number]").input_value()) > 0
    assert_no_error_toast(page)
    screenshot(page, "gan.png")


@pytest.mark.parametrize("tab, ready", [
    ("VAE", "#vae-frames img"),
    ("Transformer", "#text-output textarea"),
    ("Compare", "#compare-grids img"),
])
def test_every_tab_renders_without_errors(page, tab, ready):
    page.get_by_role("tab", name=tab).click()
    page.locator(ready).first.wait_for()
    if tab == "Transformer":
        page.get_by_role("button", name="Generate").click()
        page.wait_for_function("() => document.querySelector('#text-output textarea').value.length > 20")
        page.get_by_role("button", name="Stop").click()
    assert_no_error_toast(page)
    screenshot(page, f"{tab.lower()}.png")

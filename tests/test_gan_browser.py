"""The GAN tab in a real browser (Debian's headless Chromium, driven by Playwright): keyboard, typed values, a phone
with touch, and what a screen reader is told.  Screenshots go to test-artifacts/ for people to look at."""

import json
from pathlib import Path

import pytest

from aigc.studio import MAX_SEED

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
pytestmark = pytest.mark.browser


def opened(browser, url: str, **options):
    page = browser.new_page(**options)
    page.set_default_timeout(120_000)  # the first picture waits for the directions to be measured
    page.goto(url)
    page.locator("#gan-picture img").wait_for()
    page.locator("#gan-strip1 img").wait_for()
    return page


@pytest.fixture(scope="module")
def page(browser, app_url):
    page = opened(browser, app_url, viewport={"width": 1400, "height": 1000})
    yield page
    page.close()


def src(page, selector: str) -> str | None:
    return page.locator(selector).first.get_attribute("src")


def changes(page, selector: str, before: str | None) -> None:
    page.wait_for_function("([selector, before]) => document.querySelector(selector)?.src !== before",
                           arg=[selector, before])


def open_advanced(page) -> None:
    if not page.locator("#gan-json textarea").is_visible():
        page.get_by_text("Advanced: the latent as JSON").click()
        page.locator("#gan-json textarea").wait_for()


def latent(page) -> dict:
    """The latent JSON the Advanced accordion shows, once it is the point's (the page fills it after a change)."""
    open_advanced(page)
    page.wait_for_function("() => document.querySelector('#gan-json textarea')?.value.startsWith('{')")
    return json.loads(page.locator("#gan-json textarea").input_value())


def json_shows(page, key: str, value) -> None:
    """Wait until the latent JSON's ``key`` is ``value``."""
    open_advanced(page)
    page.wait_for_function("([key, value]) => JSON.stringify(JSON.parse("
                           "document.querySelector('#gan-json textarea')?.value || '{}')[key]) === value",
                           arg=[key, json.dumps(value, separators=(",", ":"))])


def test_arrow_keys_on_a_direction_update_the_picture_the_json_and_the_grid(page):
    page.get_by_label("Also show 8 seeds under the same offsets").check()
    page.locator("#gan-grid img").wait_for()
    assert latent(page)["offsets"][0] == 0
    before = {selector: src(page, selector) for selector in ("#gan-picture img", "#gan-grid img")}
    page.locator("#gan-d1 input[type=range]").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    for selector, old in before.items():
        changes(page, selector, old)
    json_shows(page, "offsets", [0.1] + [0] * 7)
    assert "direction 1 +0.1" in page.locator("#gan-picture img").get_attribute("alt")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "gan-light.png", full_page=True)
    page.get_by_role("button", name="Reset directions").click()
    json_shows(page, "offsets", [0] * 8)


def test_typed_values_and_every_control_update_the_picture_and_the_json(page):
    seed = page.locator("#gan-seed input")
    for typed in ("123", str(MAX_SEED)):
        before = src(page, "#gan-picture img")
        seed.fill(typed)
        seed.press("Enter")
        changes(page, "#gan-picture img", before)
        json_shows(page, "seed", int(typed))
    assert seed.evaluate("input => input.scrollWidth <= input.clientWidth")  # the longest seed fits its box
    before = src(page, "#gan-picture img")
    page.locator("#gan-truncation input[type=range]").focus()
    page.keyboard.press("ArrowLeft")
    changes(page, "#gan-picture img", before)
    json_shows(page, "truncation", 0.69)
    page.locator("#gan-method").get_by_text("GANSpace").click()  # at offsets 0 the picture is the same either way
    json_shows(page, "method", "GANSpace")
    number = page.locator("#gan-d2 input[type=number]")
    before = src(page, "#gan-picture img")
    number.fill("-1.5")
    number.press("Enter")
    changes(page, "#gan-picture img", before)
    json_shows(page, "offsets", [0, -1.5] + [0] * 6)


def test_the_picture_says_what_it_shows_and_the_strips_take_no_focus(page):
    page.wait_for_function("() => document.querySelector('#gan-picture img').alt.includes('seed')")
    alt = page.locator("#gan-picture img").get_attribute("alt")
    assert alt.startswith("A picture drawn by gan-fashion: class ") and "truncation" in alt
    assert page.locator("#gan-strip1 img").get_attribute("alt").startswith("Direction 1: ")  # named by its effect
    assert page.locator(".gan-strip button, .gan-strip [tabindex]").count() == 0
    # from Direction 1, the keyboard reaches Direction 2 without a stop on the strip between them
    page.locator("#gan-d1 input[type=range]").focus()
    stops = []
    for _ in range(4):
        page.keyboard.press("Tab")
        stops.append(page.evaluate("() => document.activeElement.closest('[id]')?.id"))
        if stops[-1] == "gan-d2":
            break
    assert stops[-1] == "gan-d2" and not any(stop and stop.startswith("gan-strip") for stop in stops), stops


def test_the_picture_leads_and_the_tools_wait_under_advanced(page):
    picture = page.locator("#gan-picture").bounding_box()
    d1 = page.locator("#gan-d1").bounding_box()
    assert picture["y"] <= d1["y"] and picture["height"] >= 400
    page.get_by_text("Advanced: the latent as JSON").click()  # closed, as the page opens: the JSON is hidden
    page.locator("#gan-json textarea").wait_for(state="hidden")
    page.get_by_text("Advanced: the latent as JSON").click()
    page.locator("#gan-link").wait_for()


def touch_drag(page, selector: str, fraction: float) -> None:
    """A finger on the slider's thumb, moved to ``fraction`` of its track, through Chromium's touch events."""
    box = page.locator(f"{selector} input[type=range]").bounding_box()
    y, start = box["y"] + box["height"] / 2, box["x"] + box["width"] / 2
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": start, "y": y}]})
    for step in range(1, 6):
        x = start + (box["x"] + box["width"] * fraction - start) * step / 5
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        page.wait_for_timeout(50)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_on_a_phone_the_picture_stays_in_view_while_a_direction_is_dragged(browser, app_url):
    phone = opened(browser, app_url, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        last = max(i for i in range(1, 9) if phone.locator(f"#gan-d{i}").is_visible())  # the lowest slider shown
        slider = phone.locator(f"#gan-d{last}")
        slider.evaluate("slider => slider.scrollIntoView({block: 'end'})")  # scrolled to, as a thumb scrolls
        picture, moved = phone.locator("#gan-picture img").bounding_box(), slider.bounding_box()
        assert picture["y"] >= -1 and picture["y"] + picture["height"] <= 844, picture  # whole, on screen
        assert moved["y"] + moved["height"] <= 844 and moved["y"] >= picture["y"] + picture["height"] - 1
        before = src(phone, "#gan-picture img")
        touch_drag(phone, f"#gan-d{last}", 0.8)
        changes(phone, "#gan-picture img", before)
        open_advanced(phone)  # the JSON follows the point once the slider rests
        phone.wait_for_function("(k) => JSON.parse(document.querySelector('#gan-json textarea')?.value || '{}')"
                                ".offsets?.[k] > 0", arg=last - 1)
        ARTIFACTS.mkdir(exist_ok=True)
        slider.scroll_into_view_if_needed()
        phone.screenshot(path=ARTIFACTS / "gan-phone.png")
    finally:
        phone.close()

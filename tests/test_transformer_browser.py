"""The Transformer tab in a real browser (headless Chromium through Playwright): the attention of a clicked token,
one token a press, and candidates that follow the temperature before anything is written."""

import os

import pytest

from aigc.studio import text as studio

CHROMIUM = "/usr/bin/chromium"
GPT = studio.DEFAULT_MODEL
PROMPT = "ROMEO:\n"  # the page's own prompt and settings: temperature 0.8, top-k and top-p off
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def page(browser, app_url):
    """A fresh page on the Transformer tab, once the views of the prompt are drawn."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(app_url)
    page.get_by_role("tab", name="Transformer").click()
    page.locator("#text-candidates .aigc-candidates").wait_for()
    page.locator("#text-attention .aigc-attention").wait_for()
    yield page
    page.close()


def output_length(page) -> int:
    return page.evaluate("() => document.querySelector('#text-output textarea').value.length")


def test_a_click_on_a_written_token_shows_its_attention_over_the_text_before_it(page):
    expected = studio.last(studio.stream(PROMPT, studio.DEFAULT_NEW_TOKENS, studio.DEFAULT_TEMPERATURE, 0, 1.0,
                                         seed=5, model=GPT))
    page.get_by_role("textbox", name="Seed").fill("5")
    page.get_by_role("button", name="Generate").click()
    page.locator("#text-candidates p", has_text=studio.candidates(expected).title).wait_for()
    token = page.locator("#text-confidence .token").last
    token.click()
    assert token.evaluate("t => t.style.outline") == "rgb(220, 38, 38) solid 2px"  # the clicked token, outlined
    clicked = studio.token_attention(expected, len(expected.prompt_ids) + len(expected.tokens) - 1, 1)
    caption = f"(token {clicked.index + 1} of its window of {len(clicked.tokens)})"
    page.locator("#text-attention p", has_text=caption).wait_for()
    assert page.locator("#text-attention .large .query").inner_text() == expected.pieces[-1]
    assert page.locator("#text-confidence .token[style*='outline']").count() == 1
    heads = page.locator("#text-attention figure")
    assert heads.count() == len(clicked.heads) and page.locator("#text-attention figure.chosen").count() == 1
    strongest = int(clicked.heads[0].argmax())  # head 1 is the large one
    assert page.locator(f"#text-attention .large span[title^='token {strongest}:']").count() == 1


def test_next_token_adds_exactly_one_token_a_press(page):
    expected = studio.last(studio.stream(PROMPT, 4, studio.DEFAULT_TEMPERATURE, 0, 1.0, seed=7, model=GPT))
    page.get_by_role("textbox", name="Seed").fill("7")
    for n in range(1, 5):
        page.get_by_role("button", name="Next token").click()
        page.wait_for_function("n => document.querySelector('#text-output textarea').value.length === n", arg=n)
        page.locator("#text-candidates p", has_text=f"Character {n} of the continuation").wait_for()
        assert output_length(page) == n
    assert page.locator("#text-output textarea").input_value() == expected.text
    drawn = studio.candidates(expected, 3)
    assert page.locator("#text-candidates .drawn code").inner_text() == f"{drawn.labels[drawn.drawn]} ◀ drawn"


def test_moving_the_temperature_changes_the_chart_before_anything_is_written(page):
    chart = page.locator("#text-candidates .aigc-candidates > div").first
    before = chart.get_attribute("title")
    track = page.locator("#text-temperature input[type=range]").bounding_box()
    page.mouse.click(track["x"] + track["width"] * 0.1, track["y"] + track["height"] / 2)
    temperature = float(page.locator("#text-temperature input[type=number]").input_value())
    assert temperature < studio.DEFAULT_TEMPERATURE
    c = studio.candidates(studio.begin(PROMPT, model=GPT), None, (temperature, 0, 1.0))
    expected = f"{c.labels[0]}: {c.before[0]:.4f} by the model, {c.after[0]:.4f} after the settings"
    page.wait_for_function("t => document.querySelector('#text-candidates .aigc-candidates > div').title === t",
                           arg=expected)
    assert expected != before and output_length(page) == 0


def test_stop_ends_a_paced_text_within_one_token(page):
    speed = page.locator("#text-speed input[type=number]")
    speed.fill("4")
    speed.press("Enter")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function("() => document.querySelector('#text-output textarea').value.length >= 3")
    page.get_by_role("button", name="Stop").click()
    stopped = output_length(page)
    assert stopped < 10  # paced: far from the 300 tokens that the page asks for
    page.wait_for_timeout(1_500)  # six tokens' time at 4 a second
    assert stopped <= output_length(page) <= stopped + 1
    written = (PROMPT + page.locator("#text-output textarea").input_value()).replace("\n", "↵")
    page.locator("#text-candidates p", has_text=f"The next token, after “…{written}”").wait_for()  # what follows

"""The Transformer tab in a real browser (headless Chromium through Playwright): the attention of a clicked token,
one token a press, candidates that follow the temperature before anything is written, the keyboard (tokens, the
layer and head, typed values) and the coloured text's contrast in light and dark pages."""

import os
from pathlib import Path

import pytest

from aigc.studio import text as studio

CHROMIUM = "/usr/bin/chromium"
GPT = studio.DEFAULT_MODEL
PROMPT = "ROMEO:\n"  # the page's own prompt and settings: temperature 0.8, top-k and top-p off
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TOKENS = "#text-confidence .tokens .t"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture(params=["light"])
def page(browser, app_url, request):
    """A fresh page on the Transformer tab, once the views of the prompt are drawn (in the colour scheme asked)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, color_scheme=request.param)
    page.set_default_timeout(120_000)  # the machine is shared: a first event may queue behind other tabs' work
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
    token = page.locator(TOKENS).last
    token.click()
    assert token.get_attribute("aria-current") == "true"  # the clicked token, outlined
    assert token.evaluate("t => getComputedStyle(t).outlineStyle") == "solid"
    clicked = studio.token_attention(expected, len(expected.prompt_ids) + len(expected.tokens) - 1, 1)
    caption = f"(token {clicked.index + 1} of its window of {len(clicked.tokens)})"
    page.locator("#text-attention p", has_text=caption).wait_for()
    assert page.locator("#text-attention .large .query").inner_text() == expected.pieces[-1]
    assert page.locator(f"{TOKENS}[aria-current]").count() == 1
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


def generate(page, seed: int, tokens: int) -> studio.Continuation:
    """Write ``tokens`` tokens with ``seed`` from the page's prompt; -> what the page shows once they are written."""
    expected = studio.last(studio.stream(PROMPT, tokens, studio.DEFAULT_TEMPERATURE, 0, 1.0, seed=seed, model=GPT))
    page.get_by_role("textbox", name="Seed").fill(str(seed))
    tokens_field = page.get_by_label("number input for Tokens to write (max_new_tokens)")
    tokens_field.fill(str(tokens))
    tokens_field.press("Enter")
    page.get_by_role("button", name="Generate").click()
    page.locator("#text-candidates p", has_text=studio.candidates(expected).title).wait_for()
    page.locator(TOKENS).nth(len(expected.prompt_ids) + len(expected.tokens) - 1).wait_for()
    return expected


def test_the_keyboard_reaches_the_tokens_moves_between_them_and_selects_one_as_a_click_does(page):
    expected = generate(page, seed=3, tokens=12)
    page.locator("#text-output").get_by_role("button", name="Copy").focus()  # its text box is read-only
    for _ in range(6):  # the coloured text is one tab stop, a few past the continuation
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('#text-confidence .tokens .t')"):
            break
    focused = page.locator(f"{TOKENS}:focus")
    assert focused.get_attribute("data-i") == str(len(expected.prompt_ids))  # the first written token
    assert focused.evaluate("t => getComputedStyle(t).outlineStyle") != "none"  # a visible focus ring
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Enter")
    chosen = studio.candidates(expected, len(expected.tokens) - 2)
    page.locator("#text-candidates p", has_text=chosen.title).wait_for()
    assert page.locator(f"{TOKENS}[aria-current]").get_attribute("data-i") == str(
        len(expected.prompt_ids) + len(expected.tokens) - 2)
    page.keyboard.press("Home")
    page.keyboard.press(" ")
    page.locator("#text-attention p", has_text="(token 1 of its window of 1)").wait_for()  # the prompt's first


def attention_caption(page) -> str:
    return page.locator("#text-attention .aigc-attention p").first.inner_text()


def test_layer_and_head_follow_arrow_keys_and_typed_values(page):
    page.locator("#text-layer input[type=range]").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('#text-attention p').textContent.startsWith('Layer 2,')")
    head = page.get_by_label("number input for Head (shown large)")
    head.fill("3")  # typed, not released
    page.wait_for_function("() => document.querySelector('#text-attention p').textContent.startsWith("
                           "'Layer 2, head 3:')")
    assert page.locator("#text-attention figure.chosen figcaption").inner_text() == "head 3"
    top_k = page.get_by_label("number input for Top-k")
    top_k.fill("2")  # the candidates follow a typed top-k: two are left to draw from
    page.wait_for_function("() => [...document.querySelectorAll('#text-candidates .aigc-candidates > div')]"
                           ".filter((row) => !row.textContent.includes('→ 0.0%')).length === 2")


@pytest.mark.parametrize("page", ["light", "dark"], indirect=True)
def test_the_coloured_tokens_are_readable_in_light_and_dark_pages(page, request):
    generate(page, seed=4, tokens=300)
    scheme = request.node.callspec.params["page"]
    assert page.evaluate("() => document.body.classList.contains('dark')") == (scheme == "dark")
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#text-confidence").screenshot(path=ARTIFACTS / f"transformer-tokens-{scheme}.png")
    # each band's first token: the WCAG contrast of its text on its background, and its underline, as drawn
    shown = [band for band in page.evaluate(CONTRAST_JS) if band is not None]
    assert len(shown) >= 3, shown  # 300 characters have tokens of most bands
    for ratio, *_ in shown:
        assert ratio >= 4.5, shown
    assert len({tuple(cue) for _, *cue in shown}) == len(shown)  # each band underlined its own way


CONTRAST_JS = """() => {
    const channels = (css) => css.match(/[\\d.]+/g).slice(0, 3).map((x) => Number(x) / 255);
    const luminance = (css) => {
        const [r, g, b] = channels(css).map((x) => x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4);
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    return [0, 1, 2, 3].map((band) => {
        const token = document.querySelector(`#text-confidence .tokens .t.b${band}`);
        if (!token) return null;
        const style = getComputedStyle(token);
        const [light, dark] = [luminance(style.backgroundColor), luminance(style.color)].sort((a, b) => b - a);
        return [(light + 0.05) / (dark + 0.05), style.textDecorationLine, style.textDecorationStyle];
    });
}"""

"""Every tab for every visitor (issue #20): a light and a dark desktop, a phone with touch, and axe-core's audit.

Each view is a Chromium context of its own (dark mode is the system's colour scheme, which Gradio follows).
Screenshots of every tab in every view go to test-artifacts/ (light-gan.png, dark-vae.png, phone-text.png, ...).
axe-core comes from the PyPI package axe-playwright-python (requirements-dev.txt), which ships axe.min.js.
"""

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is not installed"),
]

DESKTOP = {"width": 1400, "height": 1000}
VIEWS = {
    "light": dict(viewport=DESKTOP, color_scheme="light"),
    "dark": dict(viewport=DESKTOP, color_scheme="dark"),
    "phone": dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True),
}
# tab id -> (its name on the page, what shows once it has drawn)
TABS = {
    "gan": ("GAN", "#gan-picture img"),
    "vae": ("VAE", "#vae-map img"),
    "text": ("Transformer", "#text-candidates .aigc-candidates"),
    "compare": ("Compare", "#compare-curves img"),
    "train": ("Train", "#train-start"),
}
SERIOUS = ("serious", "critical")
# What axe-core finds inside Gradio's own markup, which the app cannot change: rule id -> (a CSS selector of just
# those nodes, why); every other node that breaks the rule still fails
GRADIO_OWN = {
    "aria-prohibited-attr": ('.empty[aria-label="Empty value"]',
                             "Gradio's placeholder in an empty output is a <div> with an aria-label and no role"),
    "nested-interactive": ('button.icon-button[aria-label="Click to Upload"]',
                           "Gradio's upload source button wraps its own upload button (an image input's toolbar)"),
}


@pytest.fixture(scope="module")
def pages(browser, app_url):
    """One page a view, opened on first use; -> a function view -> page."""
    opened, contexts = {}, []

    def page_of(view: str):
        if view not in opened:
            contexts.append(browser.new_context(**VIEWS[view]))
            page = contexts[-1].new_page()
            page.set_default_timeout(60_000)
            page.goto(app_url)
            page.get_by_role("tab").first.wait_for()
            opened[view] = page
        return opened[view]

    yield page_of
    for context in contexts:
        context.close()


def show_tab(page, tab: str):
    """Open ``tab`` and wait until it has drawn; the page is scrolled back to the top."""
    name, drawn = TABS[tab]
    button = page.get_by_role("tab", name=name, exact=True)
    if button.is_visible():
        button.click()
    else:  # on a phone, the tabs that do not fit are in Gradio's overflow menu
        page.locator(".overflow-menu > button").click()
        page.locator(".overflow-dropdown button", has_text=name).click()
    page.locator(drawn).first.wait_for(state="attached")
    page.wait_for_timeout(1_000)  # what else the tab draws on opening
    # Gradio's pictures load lazily, when scrolled near: a screenshot of the whole page shows them once scrolled past
    page.evaluate("""async () => {
        for (let y = 0; y < document.body.scrollHeight; y += innerHeight / 2) {
            scrollTo(0, y);
            await new Promise(done => setTimeout(done, 50));
        }
    }""")
    page.wait_for_function("[...document.images].every(image => image.complete)")
    page.evaluate("scrollTo(0, 0)")
    return page


def screenshot(page, view: str, tab: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{view}-{tab}.png", full_page=True)


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is, less those inside Gradio (GRADIO_OWN)."""
    from axe_playwright_python.sync_playwright import Axe

    violations = []
    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] not in SERIOUS:
            continue
        if violation["id"] in GRADIO_OWN:
            selector = GRADIO_OWN[violation["id"]][0]
            violation["nodes"] = [node for node in violation["nodes"] if not page.evaluate(
                "([target, selector]) => document.querySelector(target).matches(selector)",
                [node["target"][0], selector])]
        if violation["nodes"]:
            violations.append(violation)
    return violations


def described(violations: list[dict]) -> str:
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']}\n    "
                     + "\n    ".join(" ".join(node["target"]) + ": " + node["html"][:160] for node in v["nodes"][:8])
                     for v in violations)


@pytest.mark.parametrize("tab", TABS)
@pytest.mark.parametrize("view", VIEWS)
def test_axe_core_finds_no_serious_violation_on_any_tab(pages, view, tab):
    page = show_tab(pages(view), tab)
    screenshot(page, view, tab)
    violations = axe_violations(page)
    (ARTIFACTS / f"axe-{view}-{tab}.json").write_text(json.dumps(violations, indent=1))
    assert not violations, described(violations)


def focus_rings(page, presses: int) -> list[dict]:
    """Tab through the page from its top: each control reached, with the outline it shows."""
    page.locator("h1").first.click()
    reached = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("""() => {
            const e = document.activeElement, style = getComputedStyle(e);
            return {control: e.tagName.toLowerCase() + (e.type ? `[type=${e.type}]` : "") + (e.id ? `#${e.id}` : "")
                        + ` "${(e.getAttribute("aria-label") || e.innerText || "").slice(0, 30)}"`,
                    range: e.type === "range", style: style.outlineStyle, width: parseFloat(style.outlineWidth)};
        }"""))
    return reached


@pytest.mark.parametrize("view, tab", [("light", tab) for tab in TABS] + [("dark", "gan")])
def test_every_control_reached_by_keyboard_shows_a_focus_ring(pages, view, tab):
    page = show_tab(pages(view), tab)
    reached = focus_rings(page, 60)
    if tab in ("gan", "vae", "train"):
        assert any(control["range"] for control in reached), "the walk reached no slider"
    bare = [control["control"] for control in reached
            if not control["control"].startswith("body") and (control["style"] == "none" or control["width"] < 2)]
    assert not bare, f"no focus ring on: {bare}"


@pytest.mark.parametrize("tab", TABS)
def test_nothing_on_a_phone_is_wider_than_its_screen(pages, tab):
    page = show_tab(pages("phone"), tab)
    width = page.evaluate("document.documentElement.scrollWidth")
    wider = page.evaluate("""() => [...document.querySelectorAll("body *")]
        .filter(e => e.getBoundingClientRect().right > innerWidth + 1 && e.checkVisibility())
        .slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + "." + e.className)""")
    assert width <= VIEWS["phone"]["viewport"]["width"], f"the page is {width} px wide: {wider}"


def luminance(page, selector: str) -> float:
    """The mean grey level (0-1) of an element as the page shows it, filters and background included."""
    element = page.locator(selector).first
    element.scroll_into_view_if_needed()
    shot = Image.open(io.BytesIO(element.screenshot())).convert("L")
    return float(np.asarray(shot).mean() / 255)


@pytest.mark.parametrize("figure", ["#vae-map img", "#compare-curves img"])
def test_figures_follow_the_page_theme(pages, figure):
    tab = "vae" if figure.startswith("#vae") else "compare"
    light, dark = (luminance(show_tab(pages(view), tab), figure) for view in ("light", "dark"))
    assert light > 0.8, f"a light page shows a dark figure ({light:.2f})"
    assert dark < 0.3, f"a dark page shows a light figure, a white slab ({dark:.2f})"

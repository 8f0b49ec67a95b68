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
            page.locator(TABS["gan"][1]).wait_for()
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
    page.locator(drawn).first.wait_for()
    page.wait_for_timeout(1_000)  # what else the tab draws on opening
    page.evaluate("window.scrollTo(0, 0)")
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

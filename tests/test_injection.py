"""Nothing a visitor sends is rendered as HTML: share links with markup in every field inject no element into the page.

Gradio renders the messages of gr.Error, gr.Warning and gr.Info as HTML (it
only strips scripts), and the tabs echo a link's fields in them: a link could
load a tracking image, or show a fake form or a foreign link inside the toast of
whoever opens it.  Each field of each tab's link here carries markup that points
at e.test (a name that never resolves): the page must contain no such element,
the browser must ask e.test for nothing, and the markup must show as text.
"""

import os
import time
from urllib.parse import urlencode, urlparse

import pytest

from helpers import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is not installed"),
]

# Each field gets all four elements; a message echoes only the first ~60 characters of a value (aigc.studio.shown),
# so every other field gets them in the other order, and each element is echoed somewhere.
HALVES = ['<img src=//e.test/i><a href=//e.test/a>a</a>', '<form action=//e.test/f><script src=//e.test/s>']
FIELDS = {  # every field each tab's share link has (aigc/studio/*.shared_state)
    "gan": ["model", "method", "class", "seed", "truncation", "offsets"],
    "vae": ["model", "a", "b", "steps", "mode"],
    "text": ["prompt", "max_new_tokens", "temperature", "top_k", "top_p", "seed", "model"],
    "compare": ["dataset", "seed"],
}
INJECTED = ("img[src*='e.test'], a[href*='e.test'], form[action*='e.test'], script[src*='e.test'], "
            "iframe[src*='e.test'], [srcset*='e.test']")


def settle(app, timeout: float = 60) -> None:
    """Until the page's load events have all run (the app's queue is empty)."""
    time.sleep(1)
    deadline = time.monotonic() + timeout
    while app._queue.event_ids_to_events and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # the last messages reach the page


@pytest.mark.parametrize("tab", FIELDS)
def test_links_with_markup_in_every_field_inject_no_element(app, app_url, browser, tab):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    asked = []  # every request the browser makes for e.test
    page.on("request", lambda request: urlparse(request.url).hostname == "e.test" and asked.append(request.url))
    shown = []
    try:
        for i, field in enumerate(FIELDS[tab]):
            payload = HALVES[i % 2] + HALVES[1 - i % 2]
            page.goto(f"{app_url}?{urlencode({'tab': tab, field: payload})}")
            page.locator("#gan-picture").wait_for()
            settle(app)
            injected = page.locator(INJECTED)
            assert not injected.count(), f"{field}={payload} injected {injected.first.evaluate('e => e.outerHTML')}"
            toasts = page.locator("[data-testid='toast-text']").all_inner_texts()
            shown += [text for text in toasts if HALVES[i % 2][:20] in text]
    finally:
        page.close()
    assert not asked, f"the browser asked e.test for {asked}"
    # the markup reached the page as text, where a field's message echoes it (a valid prompt, say, echoes nothing)
    assert shown, f"no message of the {tab} tab showed a link's markup as text"

"""The Space a visitor opens, simulated: a clone of the repo with no data and no network, every tab in Chromium.

The clone holds what git would commit; the app runs there with ``HF_HUB_OFFLINE=1``,
an empty ``AIGC_DATA`` and ``HOME``, and Debian's Fashion-MNIST hidden
(``AIGC_DEBIAN_FASHION`` empty), as on a Space.  Twice: with ``weights/``
bundled, and with ``weights/`` gone and the models in a Hub cache under
``AIGC_HUB_NAMESPACE`` (published to tests/fake_hub.py and downloaded, pinned
as ``--record`` pins them).  Every tab must work from the examples shipped in
the package, with no error toast and no developer message.  Screenshots go to
test-artifacts/space-*.png.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from huggingface_hub import HfApi, constants, snapshot_download

from aigc.publish import publish_models
from fake_hub import FakeHub
from helpers import CHROMIUM, CHROMIUM_ARGS, NAMESPACE, checkout, serving_checkout, set_up_tutorial_gan

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# what a visitor must never read: commands, data set-up, server paths, tracebacks, missing models
DEVELOPER_TEXT = re.compile(r"python -m|aigc\.data|\bprepare\b|/usr/share|/root\b|/home/|/tmp/|Traceback|"
                            r"Unavailable models|not prepared", re.IGNORECASE)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is not installed"),
]


def hub_cache(clone: Path, cache: Path, monkeypatch) -> None:
    """The bundled models published to a fake Hub (pins recorded in the clone), then downloaded into ``cache``."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # this process only; the app stays offline
    with FakeHub() as hub:
        revisions = publish_models(ns=NAMESPACE, api=HfApi(endpoint=hub.url, token="hf_fake"),
                                   record=clone / "aigc" / "hub_revisions.json")
        for name, revision in revisions.items():
            snapshot_download(f"{NAMESPACE}/{name}", revision=revision, cache_dir=cache, endpoint=hub.url)


@pytest.fixture(params=["bundled", "hub-cache"])
def space(request, tmp_path, monkeypatch):
    """The app served from a Space-shaped clone -> (its URL, which case)."""
    clone = checkout(tmp_path / "space")
    (clone / "aigc" / "hub_revisions.json").unlink(missing_ok=True)
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("AIGC_WEIGHTS_DIR", "HF_HUB_CACHE", "HF_TOKEN")}
    env |= {"HOME": str(home), "AIGC_DATA": str(home / "data"), "AIGC_DEBIAN_FASHION": "", "HF_HUB_OFFLINE": "1",
            "HF_HOME": str(home / "hf"), "AIGC_HUB_NAMESPACE": NAMESPACE, "GRADIO_ANALYTICS_ENABLED": "False",
            "AIGC_DEVICE": "cpu", "OMP_NUM_THREADS": "1"}
    if request.param == "hub-cache":
        shutil.rmtree(clone / "weights")
        hub_cache(clone, home / "hf" / "hub", monkeypatch)
    with serving_checkout(clone, env) as (url, _):
        yield url, request.param


def assert_nothing_for_developers(page, tab: str) -> None:
    toasts = page.locator(".toast-body.error, .toast-body.warning")
    assert toasts.count() == 0, f"{tab}: {toasts.first.inner_text()}"
    found = DEVELOPER_TEXT.search(page.locator("body").inner_text())
    assert found is None, f"{tab} shows {found.group(0)!r}"


def gan_tab(page) -> None:
    """The picture, the direction strips, and the nearest pictures (of the shipped examples)."""
    page.locator("#gan-picture img").wait_for()
    page.locator("#gan-strip1 img").wait_for()  # the strongest direction; weak ones are hidden
    page.get_by_text("Nearest training images: new, or a copy?").first.click()
    page.locator("button:visible", has_text="Find nearest training images").first.click()
    page.locator(".block:has(> label:has-text('Nearest')) img:visible").first.wait_for()


def vae_tab(page) -> None:
    """Example pictures to pick, the default walk's frames, the latent map and samples from the prior."""
    page.get_by_role("tab", name="VAE").click()
    page.locator("#vae-frames img").first.wait_for()
    page.locator("#vae-map img").wait_for()
    page.locator("#vae-samples img").scroll_into_view_if_needed()  # lazy-loaded below the fold
    page.wait_for_function("() => document.querySelector('#vae-samples img')?.naturalWidth > 0")  # served, shown
    examples = page.locator(".block:has(> label:has-text('Or click a test image')) img")
    examples.first.wait_for()
    assert examples.count() >= 10
    page.wait_for_function("() => document.querySelectorAll('#vae-frames img').length >= 2")


def transformer_tab(page) -> None:
    """A continuation is written."""
    page.get_by_role("tab", name="Transformer").click()
    page.get_by_label("Prompt").fill("ROMEO:\n")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function("() => document.querySelector('#text-output textarea').value.length >= 40")


def compare_tab(page) -> None:
    """Samples beside the real images, the stored metrics, and a live measurement (on the shipped examples)."""
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-grids img").first.wait_for()
    fid = page.wait_for_function("""() => {
        const table = document.querySelector('#compare-table');
        const column = [...table.querySelectorAll('th')].findIndex(th => th.innerText.trim().startsWith('FID'));
        const cells = [...table.querySelectorAll('.virtual-row')].map(row =>
            row.querySelectorAll('.body-cell')[column]?.innerText.trim());
        const numbers = cells.filter(cell => /^[0-9]+([.][0-9]+)?$/.test(cell || ''));
        return column >= 0 && numbers.length >= 3 ? numbers : null;
    }""", polling=200).json_value()
    assert all(float(value) > 0 for value in fid)
    assert "real: held-out test images" in page.locator("#compare-grids").inner_text()
    page.get_by_text("Measure now: the same metrics, live").click()
    page.get_by_role("button", name="Measure now", exact=True).click()
    page.wait_for_function("() => document.querySelectorAll('#compare-live .virtual-row').length >= 2",
                           timeout=120_000)


def train_tab(page) -> None:
    """The tutorial's GAN trains for 10 s on the pictures shipped with the app, and its grid and losses show."""
    set_up_tutorial_gan(page, 10)
    page.locator("#train-start").click()
    page.wait_for_function("() => document.querySelector('#train-status')?.innerText.includes('done')",
                           timeout=120_000)
    page.locator("#train-grid img").wait_for()


def test_every_tab_works_with_no_data_and_no_network(space):
    url, case = space
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(url)
        try:
            for tab, check in (("gan", gan_tab), ("vae", vae_tab), ("transformer", transformer_tab),
                               ("compare", compare_tab), ("train", train_tab)):
                check(page)
                assert_nothing_for_developers(page, tab)
                page.screenshot(path=ARTIFACTS / f"space-{case}-{tab}.png", full_page=True)
        except Exception:
            page.screenshot(path=ARTIFACTS / f"space-{case}-failed.png", full_page=True)  # what the test last saw
            raise
        finally:
            browser.close()

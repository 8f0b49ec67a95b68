"""Shared fixtures: the app, launched once per test session on a free local port."""

import os
import tempfile

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing may call out
# This session's own Gradio cache: Gradio names a file by its content, and an app that closes deletes the files it
# made (delete_cache is set), so another process's app (tests running side by side) would delete ours.
os.environ.setdefault("GRADIO_TEMP_DIR", tempfile.mkdtemp(prefix="aigc-tests-gradio-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# as behind the Spaces proxy: a test client stands for a visitor of its own by its X-Forwarded-For address
os.environ.setdefault("AIGC_BEHIND_PROXY", "1")

import pytest  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives headless Chromium (skipped where it is not installed)")
    # Gradio's queue uses pandas options that pandas 3 deprecates; not ours to fix
    config.addinivalue_line("filterwarnings", "ignore::pandas.errors.Pandas4Warning:gradio.queueing")


@pytest.fixture(scope="session")
def app():
    """The running app (its gr.Blocks); it is closed when the session ends."""
    from app import QUEUE_SETTINGS, build_app, launch
    from helpers import free_port

    demo = build_app().queue(**QUEUE_SETTINGS)  # the queue and settings that users get, so load tests measure them
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    yield demo
    demo.close()


@pytest.fixture(scope="session")
def app_url(app):
    """The URL of the running app."""
    return app.local_url


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright, one per test module (the browser tests skip without it)."""
    from helpers import CHROMIUM, CHROMIUM_ARGS

    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()

"""Shared fixtures: the app, launched once per test session on a free local port."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing may call out
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives headless Chromium (skipped where it is not installed)")
    # Gradio's queue uses pandas options that pandas 3 deprecates; not ours to fix
    config.addinivalue_line("filterwarnings", "ignore::pandas.errors.Pandas4Warning:gradio.queueing")


@pytest.fixture(scope="session")
def app_url():
    """The URL of the running app; it is closed when the session ends."""
    from aigc.bench import free_port
    from app import LAUNCH_SETTINGS, QUEUE_SETTINGS, build_app

    demo = build_app().queue(**QUEUE_SETTINGS)  # the queue that users get, so load tests measure it
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True,
                            **LAUNCH_SETTINGS)
    yield url
    demo.close()

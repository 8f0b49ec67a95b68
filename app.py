"""AIGC Studio: a GAN, a VAE and a GPT to explore in the browser.

    python app.py    # serves http://127.0.0.1:7860; GRADIO_SERVER_NAME and GRADIO_SERVER_PORT change where

The tabs live in aigc/ui (one file each) and do their work through the plain,
tested functions of aigc/studio.
"""

import gc
import os

if __name__ == "__main__":
    # Start-up makes half a million long-lived objects (torch, Gradio, the models, the UI) and little garbage,
    # so the collector's repeated full passes over them are wasted: none until the app is built.
    gc.disable()

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # the app makes no calls out

from aigc import gradio_startup  # noqa: E402

gradio_startup.install()  # before Gradio is imported: it then skips rewriting its type stubs (1.5 s)

import gradio as gr  # noqa: E402
import torch  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from aigc.studio import share  # noqa: E402
from aigc.studio.models import registry  # noqa: E402
from aigc.ui import compare, fairness, gan, gradio_fixes, text, train, vae  # noqa: E402
from aigc.ui.common import NO_PROGRESS  # noqa: E402

# Pictures are a few dozen pixels upscaled: keep their pixels square wherever the browser resizes them.
# Galleries without a set height get a tall minimum height in Gradio; .fit-content fits them to their pictures.
# Focus: Gradio draws no ring on sliders, checkboxes or tabs; every control reached by keyboard gets one, in an orange
# that reads on the page (700 on white, 400 on dark: 4.5:1), which the selected tab's name takes too.
# Figures (aigc.studio.figures) are transparent with black ink: in dark mode their pixels are turned over (hue kept),
# so the ink is light on the dark page.
# Phone: a long word (a seed, a model's repo id) wraps rather than widen the page.
# Gradio's container clips with overflow: hidden, which makes it a scroll container that never scrolls, so nothing
# inside could stick to the screen (the GAN picture while its sliders are used); clip cuts the same without that.
CSS = """
.pixelated img { image-rendering: pixelated; }
.gradio-container { overflow: clip !important; }
.fit-content .fixed-height { min-height: 0 !important; max-height: none !important; }
:root { --aigc-accent: var(--primary-700); }
.dark { --aigc-accent: var(--primary-400); }
:is(button, input, select, textarea, a[href], [tabindex]):focus-visible {
    outline: 3px solid var(--aigc-accent) !important; outline-offset: 2px !important;
}
.gradio-container button[role="tab"][aria-selected="true"] { color: var(--aigc-accent); }
.dark :is(#vae-map, #compare-curves) img { filter: invert(1) hue-rotate(180deg); }
@media (max-width: 640px) {
    .gradio-container { overflow-wrap: anywhere; }
}
"""
MAX_FILE_SIZE = "20mb"
# Every 5 minutes, Gradio deletes the files it holds (uploads, every picture and GIF handed out) that are older
# than 30 minutes: with the upload budget (aigc.ui.fairness), disk stays bounded whoever sends what.
DELETE_CACHE = (300, 1800)
# Sessions Gradio keeps in memory (~190 KB each: a copy of every component's config), the least recently used
# dropped first.  Every API call that names no session makes one; Gradio's default of 10,000 is ~2 GB.
STATE_SESSIONS = 1000
# The queue as users get it; tests/conftest.py serves the app with these same settings, so that
# tests/test_load.py measures them.  Each kind of work has its own concurrency_id and limit (aigc/ui): a long
# generation or a GIF waits in the one heavy queue, never in front of the sliders.  Each client may hold only
# its share of the queue (aigc.ui.fairness), so that 256 waiting requests take eight clients to fill.
# api_open=False: Gradio's REST routes that skip the queue (open by default off Spaces) are closed everywhere.
QUEUE_SETTINGS = dict(max_size=256, default_concurrency_limit=2, api_open=False)
# Gradio's default theme, with what makes it readable (axe-core's contrast of 4.5:1 for text): its semibold font file is
# a subset of a few letters (the title's A came from it, "ᴀIGC"), so bold text takes the whole bold file; hints,
# slider limits and the footer get a darker grey, primary and stop buttons a darker fill under their white text.
THEME = gr.themes.Default(
    font=(gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"),
).set(
    body_text_color_subdued="*neutral_600", body_text_color_subdued_dark="*neutral_400",
    button_primary_background_fill="*primary_700", button_primary_background_fill_dark="*primary_700",
    button_primary_background_fill_hover="*primary_800", button_primary_background_fill_hover_dark="*primary_800",
    button_cancel_background_fill="#b91c1c", button_cancel_background_fill_dark="#b91c1c",
    button_cancel_background_fill_hover="#991b1b", button_cancel_background_fill_hover_dark="#991b1b",
)
# A tab may style its own components with a CSS constant of its own (aigc/ui/*.py): the page takes them all.
PAGE_CSS = "\n".join([CSS, *(getattr(tab, "CSS", "") for tab in (gan, vae, text, compare, train))])
LAUNCH_SETTINGS = dict(css=PAGE_CSS, theme=THEME, max_file_size=MAX_FILE_SIZE, state_session_capacity=STATE_SESSIONS)


def build_app() -> gr.Blocks:
    """The whole UI; every bundled model is loaded here, before the first request."""
    # The models are tiny: threads within one request mostly wait on each other (10x slower on a
    # busy machine), so each request gets one thread and the queue runs requests side by side.
    torch.set_num_threads(1)
    gradio_fixes.install()
    fairness.install()
    unavailable = registry().errors
    with gr.Blocks(title="AIGC Studio", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(
            "# AIGC Studio\n"
            "Three families of generative models to play with: steer a **GAN** through its latent space, "
            "morph one picture into another with a **VAE**, watch a small **Transformer** write Shakespeare, "
            "and **compare** them all on the same data."
        )
        if unavailable:
            reasons = "\n".join(f"- **{name}**: {error}" for name, error in unavailable.items())  # one line each
            gr.Markdown(f"⚠️ Unavailable models (the app serves the others):\n{reasons}")
        with gr.Tabs() as tabs:
            gan_picker = gan.tab(demo)
            vae_picker = vae.tab(demo)
            text.tab(demo)
            compare.tab(demo)
            train.tab(gan_picker, vae_picker)
        demo.load(linked_tab, None, tabs, api_visibility="private", **NO_PROGRESS)
    return demo


def launch(demo: gr.Blocks, **options):
    """``demo.launch`` with the app's settings (and ``options``), each client's upload budget included."""
    # a new middleware list every time: Gradio keeps what it is given in the dict it is passed
    return demo.launch(**LAUNCH_SETTINGS, app_kwargs={"middleware": [Middleware(fairness.UploadBudget)]}, **options)


def linked_tab(request: gr.Request):
    """A share link opens on its own tab (each tab restores its state itself)."""
    tab = request.query_params.get("tab")
    return gr.Tabs(selected=tab) if tab in share.TABS else gr.skip()


if __name__ == "__main__":
    demo = build_app().queue(**QUEUE_SETTINGS)
    gc.freeze()  # what start-up made lives as long as the app: later collections need not walk it
    gc.enable()
    launch(demo)

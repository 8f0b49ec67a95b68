"""AIGC Studio: a GAN, a VAE and a GPT to explore in the browser.

    python app.py    # serves http://127.0.0.1:7860; GRADIO_SERVER_NAME and GRADIO_SERVER_PORT change where

The tabs live in aigc/ui (one file each) and do their work through the plain,
tested functions of aigc/studio.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # the app makes no calls out

import gradio as gr  # noqa: E402
import torch  # noqa: E402

from aigc.studio.models import registry  # noqa: E402
from aigc.ui import compare, gan, text, vae  # noqa: E402

# Pictures are a few dozen pixels upscaled: keep their pixels square wherever the browser resizes them.
# Galleries without a set height get a tall minimum height in Gradio; .fit-content fits them to their pictures.
# The confidence view colours single characters: Gradio's gaps between highlighted spans would break up words.
CSS = """
.pixelated img { image-rendering: pixelated; }
.fit-content .fixed-height { min-height: 0 !important; max-height: none !important; }
#text-confidence .token { margin: 0 !important; padding: 0 !important; border-radius: 0 !important; }
"""
MAX_FILE_SIZE = "20mb"


def build_app() -> gr.Blocks:
    """The whole UI; every bundled model is loaded here, before the first request."""
    # The models are tiny: threads within one request mostly wait on each other (10x slower on a
    # busy machine), so each request gets one thread and the queue runs requests side by side.
    torch.set_num_threads(1)
    unavailable = registry().errors
    with gr.Blocks(title="AIGC Studio") as demo:
        gr.Markdown(
            "# AIGC Studio\n"
            "Three families of generative models to play with: steer a **GAN** through its latent space, "
            "morph one picture into another with a **VAE**, watch a small **Transformer** write Shakespeare, "
            "and **compare** them all on the same data."
        )
        if unavailable:
            reasons = "; ".join(f"**{name}**: {error}" for name, error in unavailable.items())
            gr.Markdown(f"⚠️ Unavailable models: {reasons}")
        gan.tab(demo)
        vae.tab(demo)
        text.tab(demo)
        compare.tab(demo)
    return demo


if __name__ == "__main__":
    build_app().queue(max_size=64, default_concurrency_limit=2).launch(css=CSS, max_file_size=MAX_FILE_SIZE)

"""The Compare tab: every model of one dataset side by side under one seed, and their measured quality."""

import gradio as gr
import pandas as pd

from aigc.studio import MAX_SEED
from aigc.studio import compare as studio
from aigc.ui import random_seed_js, user_errors

DATASET_LABELS = {"mnist": "MNIST (digits)", "fashion": "Fashion-MNIST (clothes)"}


@user_errors
def compare(dataset="mnist", seed=0):
    """-> (sample grids with captions, metrics table, notes)."""
    comparison = studio.compare(dataset, seed)
    table = pd.DataFrame(comparison.rows, columns=comparison.headers)
    return comparison.panels, table, "\n\n".join(comparison.notes)


def tab(demo: gr.Blocks) -> None:
    with gr.Tab("Compare"):
        gr.Markdown(
            "The same seed for every model of one dataset. GANs are sharp but can miss whole kinds of pictures "
            "(low recall); VAEs cover more but blur. **FID** (lower is better) sums both; **IS**, **precision** "
            "and **recall** pull them apart; **ELBO** is a VAE's bound on the log-likelihood of held-out images."
        )
        with gr.Row(equal_height=True):
            dataset = gr.Dropdown([(label, name) for name, label in DATASET_LABELS.items()], value="mnist",
                                  label="Dataset", scale=2)
            seed = gr.Number(0, precision=0, label="Seed", scale=2)
            dice = gr.Button("🎲 Random", scale=0, min_width=110)
        notes = gr.Markdown()
        grids = gr.Gallery(label="Samples: one class a row", columns=4, format="png",
                           object_fit="contain", elem_id="compare-grids",
                           elem_classes=["pixelated", "fit-content"])
        table = gr.Dataframe(label="Metrics (stored with each model; — where not measured)", interactive=False)

    gr.on([demo.load, dataset.change, seed.change], compare, inputs=[dataset, seed], outputs=[grids, table, notes],
          api_name="compare", preprocess=False, trigger_mode="always_last", concurrency_limit=2,
          concurrency_id="compare")
    dice.click(None, js=random_seed_js(MAX_SEED), outputs=seed, api_visibility="private")

"""The Compare tab: every model of one dataset side by side under one seed, and their measured quality."""

import gradio as gr
import pandas as pd

from aigc.studio import MAX_SEED, gpu, share
from aigc.studio import compare as studio
from aigc.ui.common import HEAVY, NO_PROGRESS, family_available, linked_state, random_seed_js, user_errors, wire_share

DATASET_LABELS = {"mnist": "MNIST (digits)", "fashion": "Fashion-MNIST (clothes)"}
LIVE_NOTE = (
    "Measured again here on **N** fresh samples per model, in the same feature space as the stored figures "
    "(which use 10,000). With few samples **FID is biased upward** (it falls as N grows), and precision and recall "
    "move too (their k-nearest-neighbour radii depend on N): compare models at the same N, not live against stored."
)


@gpu(duration=20)
@user_errors
def compare(dataset="mnist", seed=0):
    """-> (sample grids with captions, metrics table, notes)."""
    comparison = studio.compare(dataset, seed)
    table = pd.DataFrame(comparison.rows, columns=comparison.headers)
    return comparison.panels, table, "\n\n".join(comparison.notes)


@user_errors
def reading_and_curves(dataset="mnist"):
    """-> (a reading of the stored table, the training curves picture or None)."""
    comparison_rows = [studio.metric_values(name, studio.stored_metrics(name))
                       for name in studio.generator_names(dataset)]
    return "**Reading of the table**\n\n" + bullets(studio.reading_sentences(comparison_rows)), \
        studio.training_curves(dataset)


@user_errors
def share_link(dataset="mnist", seed=0):
    """The query string of a link to this comparison (the page turns it into a whole address)."""
    return share.query_string("compare", studio.shared_state(dataset, seed))


def open_link(request: gr.Request):
    """The dataset and seed a share link names (the comparison then follows their change events)."""
    state = linked_state(request, "compare", lambda fields: studio.shared_state(fields.get("dataset"),
                                                                                 fields.get("seed")))
    return (gr.skip(), gr.skip()) if state is None else (state["dataset"], state["seed"])


def bullets(sentences: list[str]) -> str:
    return "\n".join(f"- {sentence}" for sentence in sentences)


@gpu(duration=120)
@user_errors
def measure(dataset="mnist", samples=studio.DEFAULT_SAMPLES, seed=0, progress=gr.Progress()):
    """Streams (live table, status): the table grows by one model at a time."""
    for step in studio.measure(dataset, samples, seed):
        if step.current is not None:
            progress((step.done, step.total), desc=f"Measuring {step.current} on {step.samples} samples",
                     unit="models")
            status = f"Measuring **{step.current}** on {step.samples} samples ({step.done}/{step.total} done)…"
        else:
            status = (f"Measured {step.total} models on **{step.samples}** samples each (seed {seed}), against "
                      f"{step.real}.\n\n"
                      f"**Reading of the live figures**\n\n{bullets(studio.reading_sentences(step.values))}")
        yield pd.DataFrame(step.rows, columns=studio.LIVE_HEADERS), status


def tab(demo: gr.Blocks) -> None:
    with gr.Tab("Compare", id="compare"):
        family_available([name for dataset in DATASET_LABELS for name in studio.generator_names(dataset)],
                         "GANs and VAEs", "only the real pictures are shown")
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
            share_button = gr.Button("🔗 Share", scale=0, min_width=110)
            link = gr.Textbox(label="Link to this comparison", placeholder="press 🔗 Share", buttons=["copy"],
                              scale=3, elem_id="compare-link")
        notes = gr.Markdown()
        grids = gr.Gallery(label="Samples: one class a row", columns=4, format="png",
                           object_fit="contain", elem_id="compare-grids",
                           elem_classes=["pixelated", "fit-content"])
        table = gr.Dataframe(label="Metrics (stored with each model; — where not measured)", interactive=False,
                             elem_id="compare-table")
        reading = gr.Markdown(elem_id="compare-reading")
        with gr.Accordion("Measure now: the same metrics, live", open=False):
            gr.Markdown(LIVE_NOTE)
            with gr.Row(equal_height=True):
                samples = gr.Slider(studio.MIN_SAMPLES, studio.MAX_SAMPLES, value=studio.DEFAULT_SAMPLES,
                                    step=100, label="Samples per model (N)", scale=3)
                measure_button = gr.Button("Measure now", variant="primary", scale=1)
            live_status = gr.Markdown()
            live_table = gr.Dataframe(headers=studio.LIVE_HEADERS, label="Live metrics, and how far they are "
                                      "from the stored ones", interactive=False, elem_id="compare-live", max_height=900)
        gr.Markdown("**Training curves**: losses against training steps, one panel a model (from each model's "
                    "training_log.json). A GAN's two losses are a tug of war, not a score: they need not fall. "
                    "A VAE's loss is its negative ELBO per image: reconstruction plus KL (right-hand axis).")
        curves = gr.Image(show_label=False, type="pil", format="png", interactive=False, elem_id="compare-curves",
                          buttons=["download"])

    # on page load without progress (see NO_PROGRESS); a change of dataset or seed shows it
    comparing = dict(fn=compare, inputs=[dataset, seed], outputs=[grids, table, notes], preprocess=False,
                     trigger_mode="always_last", **HEAVY)  # seconds of sampling and metrics
    reading_curves = dict(fn=reading_and_curves, inputs=[dataset], outputs=[reading, curves], preprocess=False,
                          trigger_mode="always_last", **HEAVY)
    gr.on([dataset.change, seed.change], api_name="compare", **comparing)
    gr.on(dataset.change, api_visibility="private", **reading_curves)
    for shown in (comparing, reading_curves):
        demo.load(api_visibility="private", **shown, **NO_PROGRESS)
    measure_button.click(measure, inputs=[dataset, samples, seed], outputs=[live_table, live_status],
                         api_name="compare_measure", preprocess=False, **HEAVY)
    dice.click(None, js=random_seed_js(MAX_SEED), outputs=seed, api_visibility="private")
    demo.load(open_link, None, [dataset, seed], api_visibility="private", **NO_PROGRESS)
    wire_share(share_button, share_link, [dataset, seed], link)

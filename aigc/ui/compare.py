"""The Compare tab: every model of one dataset side by side under one seed, and their measured quality.

Public API: ``/compare`` and ``/compare_measure``; the other events are private to the page.
"""

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from aigc.studio import MAX_SEED, gpu, share
from aigc.studio import compare as studio
from aigc.ui.common import (
    HEAVY,
    QUIET,
    family_available,
    linked_state,
    random_seed_js,
    unchanged,
    user_errors,
    wire_share,
)

DATASET_LABELS = {"mnist": "MNIST (digits)", "fashion": "Fashion-MNIST (clothes)"}
LIVE_NOTE = (
    "Measured again here on **N** fresh samples per model, in the same feature space as the stored figures "
    "(which use 10,000). With few samples **FID is biased upward** (it falls as N grows), and precision and recall "
    "move too (their k-nearest-neighbour radii depend on N): compare models at the same N, not live against stored."
)
LINKED = ("dataset", "seed")  # what a share link sets
CURVES_NOTE = (
    "**Training curves**: losses against training steps, one panel a model (from each model's training_log.json). "
    "A GAN's two losses are a tug of war, not a score: they need not fall. A VAE's loss is its negative ELBO per "
    "image: reconstruction plus KL (right-hand axis)."
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
    """-> (a reading of the stored table, the training curves with a text alternative saying what they show)."""
    comparison_rows = [studio.metric_values(name, studio.stored_metrics(name))
                       for name in studio.generator_names(dataset)]
    reading = "**Reading of the table**\n\n" + bullets(studio.reading_sentences(comparison_rows))
    return reading, gr.Image(studio.training_curves(dataset), alt_text=studio.training_curves_text(dataset))


@user_errors
def share_link(dataset="mnist", seed=0):
    """The query string of a link to this comparison (the page turns it into a whole address)."""
    return share.query_string("compare", studio.shared_state(dataset, seed))


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


@dataclass
class CompareTab:
    """The tab's components: the choice (dataset, seed), what follows it, and the live measurement."""

    dataset: gr.Dropdown
    seed: gr.Number
    dice: gr.Button
    share: gr.Button
    link: gr.Textbox
    notes: gr.Markdown
    grids: gr.Gallery
    table: gr.Dataframe
    reading: gr.Markdown
    samples: gr.Slider
    measure: gr.Button
    live_status: gr.Markdown
    live_table: gr.Dataframe
    curves: gr.Image

    @property
    def linked(self) -> list:
        return [getattr(self, name) for name in LINKED]


def layout() -> CompareTab:
    gr.Markdown(
        "The same seed for every model of one dataset. GANs are sharp but can miss whole kinds of pictures "
        "(low recall); VAEs cover more but blur. **FID** (lower is better) sums both; **IS**, **precision** "
        "and **recall** pull them apart; **ELBO** is a VAE's bound on the log-likelihood of held-out images."
    )
    with gr.Row(equal_height=True):
        dataset = gr.Dropdown([(label, name) for name, label in DATASET_LABELS.items()], value="mnist",
                              label="Dataset", scale=2)
        seed = gr.Number(0, precision=0, label="Seed", scale=2, elem_id="compare-seed")
        dice = gr.Button("🎲 Random", scale=0, min_width=110)
        share_button = gr.Button("🔗 Share", scale=0, min_width=110)
        link = gr.Textbox(label="Link to this comparison", placeholder="press 🔗 Share", buttons=["copy"],
                          scale=3, elem_id="compare-link")
    notes = gr.Markdown()
    # each grid's caption is its text alternative (Gradio's gallery gives it as the picture's alt)
    grids = gr.Gallery(label="Samples: one class a row", columns=4, format="png", object_fit="contain",
                       interactive=False, elem_id="compare-grids", elem_classes=["pixelated", "fit-content"])
    table = gr.Dataframe(label="Metrics (stored with each model; — where not measured)", interactive=False,
                         elem_id="compare-table")
    reading = gr.Markdown(elem_id="compare-reading")
    samples, measure_button, live_status, live_table = live_layout()
    gr.Markdown(CURVES_NOTE)
    curves = gr.Image(show_label=False, type="pil", format="png", interactive=False, elem_id="compare-curves",
                      buttons=["download"])
    return CompareTab(dataset, seed, dice, share_button, link, notes, grids, table, reading, samples,
                      measure_button, live_status, live_table, curves)


def live_layout() -> tuple[gr.Slider, gr.Button, gr.Markdown, gr.Dataframe]:
    """Measure now: the number of samples, the button, its status and the live table."""
    with gr.Accordion("Measure now: the same metrics, live", open=False):
        gr.Markdown(LIVE_NOTE)
        with gr.Row(equal_height=True):
            samples = gr.Slider(studio.MIN_SAMPLES, studio.MAX_SAMPLES, value=studio.DEFAULT_SAMPLES,
                                step=100, label="Samples per model (N)", scale=3)
            measure_button = gr.Button("Measure now", variant="primary", scale=1)
        live_status = gr.Markdown()
        live_table = gr.Dataframe(headers=studio.LIVE_HEADERS, label="Live metrics, and how far they are "
                                  "from the stored ones", interactive=False, elem_id="compare-live", max_height=900)
    return samples, measure_button, live_status, live_table


def wire(demo: gr.Blocks, ui: CompareTab) -> None:
    """When this changes, that follows.  Typed values and arrow keys change the seed as a click does."""
    chosen = [ui.dataset.change, ui.seed.change]
    follows = dict(preprocess=False, trigger_mode="always_last", **HEAVY)  # seconds of sampling and metrics
    comparing = dict(fn=compare, inputs=ui.linked, outputs=[ui.grids, ui.table, ui.notes], **follows)
    reading = dict(fn=reading_and_curves, inputs=ui.dataset, outputs=[ui.reading, ui.curves], **follows)
    # the dataset or seed -> the grids, the table and its notes (the public /compare); the dataset -> the reading
    gr.on(chosen, api_name="compare", **comparing)
    gr.on(ui.dataset.change, api_visibility="private", **reading)
    # the page, once open: the same, without progress (see NO_PROGRESS); then the dataset and seed of a link
    for shown in (comparing, reading):
        demo.load(**shown, **QUIET)
    demo.load(open_link, None, ui.linked, **QUIET)
    # Measure now -> the live table, growing a model at a time
    ui.measure.click(measure, inputs=[ui.dataset, ui.samples, ui.seed], outputs=[ui.live_table, ui.live_status],
                     api_name="compare_measure", preprocess=False, **HEAVY)
    ui.dice.click(None, js=random_seed_js(MAX_SEED), outputs=ui.seed, **QUIET)
    wire_share(ui.share, share_link, ui.linked, ui.link)


def open_link(request: gr.Request):
    """The dataset and seed a share link names (the comparison then follows their change events)."""
    state = linked_state(request, "compare", lambda fields: studio.shared_state(fields.get("dataset"),
                                                                                 fields.get("seed")))
    return tuple(unchanged(LINKED) if state is None else (state[name] for name in LINKED))


def tab(demo: gr.Blocks) -> None:
    with gr.Tab("Compare", id="compare"):
        family_available([name for dataset in DATASET_LABELS for name in studio.generator_names(dataset)],
                         "GANs and VAEs", "only the real pictures are shown")
        ui = layout()
    wire(demo, ui)

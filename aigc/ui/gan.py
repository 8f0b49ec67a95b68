"""The GAN tab: a picture that follows the sliders while they are dragged, with a preview strip per direction."""

import logging
import threading

import gradio as gr

from aigc.studio import MAX_SEED, ZERO_GPU, gpu, share
from aigc.studio import gan as studio
from aigc.studio.batch import each_alone
from aigc.studio.models import GAN_TYPES
from aigc.ui.nearest import nearest_panel
from aigc.ui.common import (HEAVY, NO_PROGRESS, USER_ERRORS, direct_call_js, family_available, hub_model_field, linked_state,
                     picker, preferred, random_seed_js, user_errors, wire_share)

DEFAULT_SEED = 42
DEFAULT_METHOD = studio.METHODS[studio.DEFAULT_METHOD]
MAX_BATCH = 16
log = logging.getLogger(__name__)


@gpu(duration=10)
@user_errors
def gan_generate(model, label=0, seed=DEFAULT_SEED, truncation=studio.DEFAULT_TRUNCATION,
                 d1=0.0, d2=0.0, d3=0.0, d4=0.0, d5=0.0, d6=0.0, d7=0.0, d8=0.0, method=DEFAULT_METHOD):
    """One picture. label: a class name or index; d1..d8: offsets along the directions, -3 to 3;
    method: "SeFa" or "GANSpace".

    Batched (Gradio's batch=True): each argument arrives as a list, one value per waiting request, and
    all of them are drawn in one forward pass per model.  A request that fails gets no picture and the
    others theirs (aigc.studio.batch); the error is shown only when every request failed.
    """
    offsets = [list(values) for values in zip(d1, d2, d3, d4, d5, d6, d7, d8)]
    requests = list(zip(model, label, seed, truncation, offsets, method))
    pictures = each_alone(lambda batch: studio.generate_batch(*map(list, zip(*batch))),
                          lambda request: studio.generate(*request), requests)
    failures = [picture for picture in pictures if isinstance(picture, Exception)]
    for failure in failures:
        log.warning("GAN request failed in a batch of %d: %r", len(requests), failure)
    if failures and len(failures) == len(pictures):
        raise failures[0]
    return [[None if isinstance(picture, Exception) else picture for picture in pictures]]


@gpu(duration=20)
@user_errors
def gan_sweep(model, label=0, seed=DEFAULT_SEED, truncation=studio.DEFAULT_TRUNCATION, direction=1,
              frames=studio.DEFAULT_FRAMES, method=DEFAULT_METHOD):
    """An animated GIF of one direction (1 to 8) swept from -3 to +3, with every other slider at 0."""
    return studio.sweep(model, label, seed, truncation, direction, frames, method)


@gpu(duration=10)
@user_errors
def preview_strips(model, label, seed, truncation, method):
    return studio.preview_strips(model, label, seed, truncation, method)


def seed_grid(show, model, label, seed, truncation, method, *offsets):
    """The grid of seeds, drawn (on a GPU) only when it is shown: it follows every slider let go."""
    if not show:
        return gr.Image(visible=False)
    return seed_grid_picture(model, label, seed, truncation, method, *offsets)


@gpu(duration=10)
@user_errors
def seed_grid_picture(model, label, seed, truncation, method, *offsets):
    return gr.Image(studio.grid(model, label, seed, truncation, offsets, method), visible=True)


@gpu(duration=10)
@user_errors
def latent_json(model, label, seed, truncation, method, *offsets):
    return studio.state_json(model, label, seed, truncation, offsets, method)


@gpu(duration=10)
@user_errors
def restore(text):
    """Latent JSON or a share link -> every control of the tab (the picture then follows their change events)."""
    return controls(studio.restore_state(text))


def controls(state: dict) -> list:
    names = studio.class_names(state["model"])
    label = gr.Dropdown(choices=list(zip(names, range(len(names)))), value=state["label"] or 0, visible=bool(names))
    return [picker(studio.gan_models(), state["model"]), state["method"], label, state["seed"], state["truncation"],
            *state["offsets"]]


def open_link(request: gr.Request):
    """The state in the page's address, if it holds one for this tab (a bad link is a warning, not an error)."""
    state = linked_state(request, "gan", studio.state_from_link)
    return [gr.skip()] * (5 + studio.NUM_DIRECTIONS) if state is None else controls(state)


@gpu(duration=10)
@user_errors
def share_link(model, label, seed, truncation, method, *offsets):
    """The query string of a link to this picture (the page turns it into a whole address)."""
    return share.query_string("gan", studio.shared_state(model, label, seed, truncation, offsets, method))


@user_errors
def label_choices(model, label=0):
    """The class dropdown for a newly chosen model (hidden for an unconditional GAN); a class it has is kept."""
    names = studio.class_names(model)
    try:
        value = int(label)
    except (TypeError, ValueError):
        value = 0
    value = value if 0 <= value < len(names) else 0
    return gr.Dropdown(choices=list(zip(names, range(len(names)))), value=value, visible=bool(names))


def warm_directions(models: list[str]) -> None:
    """Compute every model's directions in the background, so that the first GANSpace click is quick.

    Not on ZeroGPU, where model work may only run in a handler that holds a GPU: there the handlers compute
    them when they first need them.
    """
    if ZERO_GPU:
        return
    def run():
        for name in models:
            for method in studio.METHODS:
                try:
                    studio.directions(name, method)
                except USER_ERRORS:
                    pass

    threading.Thread(target=run, name="gan-directions", daemon=True).start()


def tab(demo: gr.Blocks) -> gr.Dropdown:
    """The tab -> its model picker (a model trained in the Train tab joins it)."""
    models = studio.gan_models()
    model_name = preferred(models, "gan-fashion")
    try:
        names = studio.class_names(model_name) if model_name else []
    except USER_ERRORS:  # the model failed to load; its error shows when the picture is asked for
        names = []
    warm_directions(models)
    with gr.Tab("GAN", id="gan"):
        available = family_available(models, "GANs", "one from the Hub can still be loaded below")
        gr.Markdown(
            "A generator turns a random point of its latent space into a picture. The **seed** picks the point, "
            "**truncation ψ** pulls it toward the centre (more typical, less varied), and each **direction** "
            "moves it along one of the eight directions the generator responds to most, found by **SeFa** (from "
            "the weights) or **GANSpace** (PCA of the activations). The strip beside each slider previews that "
            "direction from -3 to +3."
        )
        with gr.Row():
            with gr.Column(scale=2, min_width=240):
                model = gr.Dropdown(models, value=model_name, label="Model")
                hub_model_field(model, *GAN_TYPES)
                label = gr.Dropdown(list(zip(names, range(len(names)))), value=0, label="Class", visible=bool(names))
                with gr.Row(equal_height=True):
                    seed = gr.Number(DEFAULT_SEED, precision=0, label="Seed", scale=2, min_width=100)
                    dice = gr.Button("🎲 Random", scale=1, min_width=110)
                truncation = gr.Slider(0, 1, value=studio.DEFAULT_TRUNCATION, step=0.01, label="Truncation ψ")
                method = gr.Radio(list(studio.METHODS.values()), value=DEFAULT_METHOD, label="Directions",
                                  elem_id="gan-method")
                state = gr.Textbox(label="Latent as JSON (copy it, or paste one or a share link)", lines=4,
                                   max_lines=8, buttons=["copy"], elem_id="gan-json")
                with gr.Row():
                    restore_button = gr.Button("Restore", size="sm")
                    share_button = gr.Button("🔗 Share", size="sm")
                link = gr.Textbox(label="Link to this picture", placeholder="press 🔗 Share", buttons=["copy"],
                                  elem_id="gan-link")
            with gr.Column(scale=3, min_width=300):
                picture = gr.Image(label="Picture", type="pil", format="png", interactive=False, height=320,
                                   buttons=["download"], elem_id="gan-picture", elem_classes="pixelated")
                nearest_panel(picture, model, api_name="nearest", columns=3)  # the app's one public /nearest
                show_grid = gr.Checkbox(False, label=f"Also show {studio.GRID_SEEDS} seeds under the same offsets")
                grid = gr.Image(label=f"{studio.GRID_SEEDS} seeds (seed, seed + 1, ...)", type="pil", format="png",
                                interactive=False, visible=False, buttons=["download"], elem_id="gan-grid",
                                elem_classes="pixelated")
            with gr.Column(scale=5, min_width=360):
                sliders, strips = [], []
                for i in range(1, studio.NUM_DIRECTIONS + 1):
                    with gr.Row(equal_height=True):
                        sliders.append(gr.Slider(-studio.MAX_OFFSET, studio.MAX_OFFSET, value=0, step=0.05,
                                                 label=f"Direction {i}", elem_id=f"gan-d{i}", scale=2, min_width=150))
                        strips.append(gr.Image(type="pil", format="png", interactive=False, show_label=False,
                                               container=False, height=64, buttons=[], scale=3, min_width=200,
                                               elem_id=f"gan-strip{i}", elem_classes="pixelated"))
                reset = gr.Button("Reset directions")
        with gr.Accordion("Animate one direction", open=False):
            with gr.Row():
                direction = gr.Dropdown([(f"Direction {i}", i) for i in range(1, studio.NUM_DIRECTIONS + 1)],
                                        value=1, label="Direction")
                frames = gr.Slider(studio.MIN_FRAMES, studio.MAX_FRAMES, value=studio.DEFAULT_FRAMES, step=2,
                                   label="Frames")
                animate = gr.Button("Animate", variant="primary")
            sweep = gr.Image(label="Sweep from -3 to +3", type="filepath", interactive=False, height=320,
                             buttons=["download"], elem_classes="pixelated")

    point = [model, label, seed, truncation]
    # page load is not among them: the picture, strips, grid and JSON follow open_link (below), so that a page
    # opened from a link draws only the linked state, never a default one that might arrive after it
    point_changes = [model.change, label.change, seed.change, truncation.change, method.change]
    # The picture: while a slider is dragged the page asks /gan_generate itself (see direct_call_js); the
    # server event draws it for everything else, and once more when the slider is let go.
    drawn_from = dict(inputs=point + sliders + [method], outputs=picture, **NO_PROGRESS)
    drawing = dict(**drawn_from, preprocess=False, batch=True, max_batch_size=MAX_BATCH, trigger_mode="always_last",
                   concurrency_limit=4, concurrency_id="gan")
    gr.on(point_changes + [s.release for s in sliders], gan_generate, api_name="gan_generate", **drawing)
    gr.on([s.input for s in sliders], None, js=direct_call_js("gan_generate"), api_visibility="private", **drawn_from)
    stripping = dict(inputs=point + [method], outputs=strips, preprocess=False, api_visibility="private",
                     **NO_PROGRESS, concurrency_limit=4, concurrency_id="gan")
    gr.on(point_changes, preview_strips, trigger_mode="always_last", **stripping)
    restorable = [model, method, label, seed, truncation] + sliders
    restored = restore_button.click(restore, state, restorable, preprocess=False, api_visibility="private",
                                    **NO_PROGRESS)
    opened = demo.load(open_link, None, restorable, api_visibility="private", **NO_PROGRESS)
    reset_done = reset.click(None, js=f"() => Array({studio.NUM_DIRECTIONS}).fill(0)", outputs=sliders,
                             api_visibility="private")
    # the grid and the JSON follow a slider when it is let go: while it is dragged, only the picture is drawn
    views = [(seed_grid, [show_grid] + point + [method] + sliders, grid,
              dict(concurrency_limit=4, concurrency_id="gan")),
             (latent_json, point + [method] + sliders, state, {})]
    # the page draws on load only with a GAN to draw with (without one, the tab's first line says so; no error)
    set_by_page = (restored, opened, reset_done) if available else (restored, reset_done)
    for fn, inputs, output, limits in views:
        view = dict(inputs=inputs, outputs=output, preprocess=False, api_visibility="private", **NO_PROGRESS)
        gr.on(point_changes + [s.release for s in sliders] + [show_grid.change], fn, trigger_mode="always_last",
              **view, **limits)
        for event in set_by_page:  # sliders set by the page, not let go by a hand
            event.then(fn, **view)
    for event in set_by_page:
        event.then(gan_generate, api_visibility="private", **drawing)
    if available:
        opened.then(preview_strips, **stripping)
    wire_share(share_button, share_link, point + [method] + sliders, link)
    model.change(label_choices, [model, label], label, api_visibility="private", **NO_PROGRESS)
    dice.click(None, js=random_seed_js(MAX_SEED), outputs=seed, api_visibility="private")
    animate.click(gan_sweep, inputs=point + [direction, frames, method], outputs=sweep, api_name="gan_sweep",
                  preprocess=False, **HEAVY)  # GIFs never queue before sliders
    return model

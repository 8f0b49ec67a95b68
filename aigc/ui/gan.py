"""The GAN tab: a picture that follows every control as it moves, with a preview strip per direction.

How it is wired (:func:`wire`): the picture follows every control at once, through the page's own call of
``/gan_generate`` (direct_call.js).  Once the controls rest, they set one hidden value, the *point* (the values
of ``/gan_generate``'s parameters, in its order); the strips, the grid, the latent JSON and the picture's text
alternative follow it as server events that read the point alone.  Why one input: Gradio's page keeps the
loading status of every input of every finished server event and refreshes all of them at each later status
change of any event (and resets each input's status when an event starts); events that read fourteen controls
made every later event, and the picture, several times slower.

Only ``/gan_generate`` and ``/gan_sweep`` are public API; the other events are private to the page.
"""

import base64
import html
import io
import threading
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from aigc.studio import MAX_SEED, ZERO_GPU, InputError, gpu, share
from aigc.studio import gan as studio
from aigc.studio.batch import served
from aigc.studio.models import GAN_TYPES
from aigc.ui.common import (
    HEAVY,
    QUIET,
    USER_ERRORS,
    family_available,
    hub_model_field,
    linked_state,
    picker,
    preferred,
    random_seed_js,
    unchanged,
    user_errors,
    wire_share,
)
from aigc.ui.nearest import nearest_panel

DEFAULT_SEED = 42
DEFAULT_METHOD = studio.METHODS[studio.DEFAULT_METHOD]
MAX_BATCH = 16
DIRECT_CALL_JS = (Path(__file__).with_name("direct_call.js")).read_text()
# The page's point: the controls' values as /gan_generate takes them, once they have rested for SETTLE_MS and the
# picture's call (direct_call.js keeps it in aigcDirectCalls) is done: so that the views' server work never competes
# with the next picture while a slider is dragged.  A wait that a later change supersedes ends with no output.
SETTLE_MS = 200
POINT_JS = f"""(...values) => new Promise(resolve => {{
    const settle = globalThis.aigcGanPoint ??= {{}};
    settle.resolve?.(undefined);
    clearTimeout(settle.timer);
    settle.resolve = resolve;
    settle.timer = setTimeout(async () => {{
        const drawing = globalThis.aigcDirectCalls?.gan_generate;
        while (drawing?.busy) await drawing.busy;
        if (settle.resolve !== resolve) return;
        settle.resolve = null;
        resolve([values]);
    }}, {SETTLE_MS});
}})"""
# What the tab adds to the page's CSS (app.py): the picture stays in view while the sliders beside it (under it, on a
# phone) scroll; each strip shares its row with its slider (on a phone it goes under it, the screen's width), with
# square pixels.
CSS = """
#gan-stage { position: sticky; top: 0; align-self: flex-start; z-index: 60; background: var(--body-background-fill); }
.gan-direction > .gan-strip, .gan-direction > :first-child { flex: 1 1 0 !important; }
.gan-strip img { width: 100%; image-rendering: pixelated; display: block; }
@media (max-width: 720px) {
  #gan-picture img { max-height: 34vh; }
  .gan-direction { flex-wrap: wrap !important; }
  .gan-direction > .gan-strip, .gan-direction > :first-child { flex: 1 1 100% !important; }
}
"""


def direct_call_js(api_name: str) -> str:
    """The js= of an event that calls the public endpoint ``api_name`` from the page (direct_call.js)."""
    return f"({DIRECT_CALL_JS.strip()})({api_name!r})"


# --- the public endpoints ----------------------------------------------------------------------------------------

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
    return [served(lambda batch: studio.generate_batch(*map(list, zip(*batch))),
                   lambda request: studio.generate(*request), requests)]


@gpu(duration=20)
@user_errors
def gan_sweep(model, label=0, seed=DEFAULT_SEED, truncation=studio.DEFAULT_TRUNCATION, direction=1,
              frames=studio.DEFAULT_FRAMES, method=DEFAULT_METHOD, d1=0.0, d2=0.0, d3=0.0, d4=0.0, d5=0.0, d6=0.0,
              d7=0.0, d8=0.0):
    """An animated GIF of one direction (1 to 8) swept from -3 to +3; d1..d8: where the other sliders are."""
    return studio.sweep(model, label, seed, truncation, direction, frames, method, [d1, d2, d3, d4, d5, d6, d7, d8])


@user_errors
def animate(point, direction, frames):
    """The sweep of one direction at the page's point."""
    model, label, seed, truncation, offsets, method = unpacked(point)
    return gan_sweep(model, label, seed, truncation, direction, frames, method, *offsets)


# --- what follows the point --------------------------------------------------------------------------------------

def unpacked(point) -> tuple:
    """The page's point -> (model, label, seed, truncation, offsets, method)."""
    if not isinstance(point, list) or len(point) != 5 + studio.NUM_DIRECTIONS:
        raise InputError(f"Expected the tab's {5 + studio.NUM_DIRECTIONS} values, not {point!r:.100}")
    model, label, seed, truncation, *offsets, method = point
    return model, label, seed, truncation, offsets, method


@gpu(duration=10)
@user_errors
def preview_strips(point) -> list[str]:
    """Each direction's strip from -3 to +3 at this point, its slider's value marked, as an <img> that says what it
    shows."""
    model, label, seed, truncation, offsets, method = unpacked(point)
    strips = studio.preview_strips(model, label, seed, truncation, method, offsets)
    names = studio.direction_names(model, method)
    return [strip_html(strip, f"{slider_label(i, name)}, from -3 to +3, marked at {value:+g}")
            for i, (strip, name, value) in enumerate(zip(strips, names, studio.checked_offsets(offsets)), start=1)]


def slider_label(i: int, name: str | None) -> str:
    return f"Direction {i}: {name}" if name else f"Direction {i}"


@gpu(duration=30)
@user_errors
def named_directions(model, method) -> list:
    """Each direction slider named by what it does (aigc.directions); one whose effect nobody sees is hidden, with
    its strip -> the sliders, their rows and the sweep's choice of direction."""
    names = studio.direction_names(model, method)
    shown = [(slider_label(i, name), i) for i, name in enumerate(names, start=1) if name]
    shown = shown or [(slider_label(1, None), 1)]  # a model too young to change visibly: its strongest, to watch
    return [*(gr.Slider(label=slider_label(i, name)) for i, name in enumerate(names, start=1)),
            *(gr.Row(visible=bool(name)) for name in names),
            gr.Dropdown(choices=shown, value=shown[0][1])]


def strip_html(picture, alt: str) -> str:
    """A small picture inline, as a plain <img> (a gr.Image would add an unnamed focusable button)."""
    buffer = io.BytesIO()
    picture.save(buffer, "png")
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def seed_grid(show, point):
    """The grid of seeds, drawn (on a GPU) only when it is shown."""
    if not show:
        return gr.Image(visible=False)
    return seed_grid_picture(point)


@gpu(duration=10)
@user_errors
def seed_grid_picture(point):
    model, label, seed, truncation, offsets, method = unpacked(point)
    return gr.Image(studio.grid(model, label, seed, truncation, offsets, method), format="png", visible=True)


@gpu(duration=10)
@user_errors
def latent_json(point) -> str:
    model, label, seed, truncation, offsets, method = unpacked(point)
    return studio.state_json(model, label, seed, truncation, offsets, method)


@gpu(duration=10)
@user_errors
def picture_text(point) -> gr.Image:
    """The picture's text alternative: model, class, seed, ψ and the directions moved."""
    model, label, seed, truncation, offsets, method = unpacked(point)
    state = studio.shared_state(model, label, seed, truncation, offsets, method)
    said = [] if state["class"] is None else [f"class {state['class']}"]
    said += [f"seed {state['seed']}", f"truncation {state['truncation']:g}"]
    said += [f"direction {i} {value:+g}" for i, value in enumerate(state["offsets"], start=1) if value]
    return gr.Image(alt_text=f"A picture drawn by {model}: {', '.join(said)}")


# --- what sets the controls --------------------------------------------------------------------------------------

@gpu(duration=10)
@user_errors
def restore(text):
    """Latent JSON or a share link -> every control of the tab (the point then follows them)."""
    return controls(studio.restore_state(text))


# What a latent JSON or a link sets, in the order :func:`controls` returns them (GanTab.restorable)
RESTORED = ("model", "method", "label", "seed", "truncation", *(f"d{i}" for i in range(1, studio.NUM_DIRECTIONS + 1)))


def controls(state: dict) -> list:
    """A checked state -> the values of the RESTORED controls."""
    names = studio.class_names(state["model"])
    label = gr.Dropdown(choices=list(zip(names, range(len(names)))), value=state["label"] or 0, visible=bool(names))
    values = dict(model=picker(studio.gan_models(), state["model"]), method=state["method"], label=label,
                  seed=state["seed"], truncation=state["truncation"],
                  **{f"d{i}": offset for i, offset in enumerate(state["offsets"], start=1)})
    return [values[name] for name in RESTORED]


@gpu(duration=10)
@user_errors
def share_link(point):
    """The query string of a link to this picture (the page turns it into a whole address)."""
    model, label, seed, truncation, offsets, method = unpacked(point)
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


# --- the layout --------------------------------------------------------------------------------------------------

@dataclass
class GanTab:
    """The components that the tab's events read and write."""

    model: gr.Dropdown
    label: gr.Dropdown
    seed: gr.Number
    dice: gr.Button
    truncation: gr.Slider
    method: gr.Radio
    sliders: list[gr.Slider]
    strips: list[gr.HTML]
    direction_rows: list[gr.Row]  # a slider with its strip
    reset: gr.Button
    picture: gr.Image
    show_grid: gr.Checkbox
    grid: gr.Image
    point: gr.JSON
    state: gr.Textbox
    restore: gr.Button
    share: gr.Button
    link: gr.Textbox
    direction: gr.Dropdown
    frames: gr.Slider
    animate: gr.Button
    sweep: gr.Image

    @property
    def controls(self) -> list:
        """The controls in the order of /gan_generate's parameters: the point is their values."""
        return [self.model, self.label, self.seed, self.truncation, *self.sliders, self.method]

    @property
    def restorable(self) -> list:
        """What a latent JSON or a link sets (RESTORED)."""
        by_name = dict(model=self.model, method=self.method, label=self.label, seed=self.seed,
                       truncation=self.truncation, **{f"d{i}": s for i, s in enumerate(self.sliders, start=1)})
        return [by_name[name] for name in RESTORED]


def layout(models: list[str], model_name: str | None, names: list[str]) -> GanTab:
    """The tab's components, the picture and its controls first; the tools in "Advanced"."""
    gr.Markdown(
        "A generator turns a random point of its latent space into a picture. The **seed** picks the point, "
        "**truncation ψ** pulls it toward the centre (more typical, less varied), and each **direction** "
        "moves it along one of the eight directions the generator responds to most, found by **SeFa** (from "
        "the weights) or **GANSpace** (PCA of the activations). The strip by each slider previews that "
        "direction from -3 to +3."
    )
    with gr.Row():
        with gr.Column(scale=4, min_width=300, elem_id="gan-stage"):
            picture = gr.Image(label="Picture", type="pil", format="png", interactive=False, height=420,
                               buttons=["download"], elem_id="gan-picture", elem_classes="pixelated")
        with gr.Column(scale=5, min_width=300):
            model = gr.Dropdown(models, value=model_name, label="Model")
            label = gr.Dropdown(list(zip(names, range(len(names)))), value=0, label="Class", visible=bool(names))
            with gr.Row(equal_height=True):
                seed = gr.Number(DEFAULT_SEED, precision=0, label="Seed", scale=3, min_width=150, elem_id="gan-seed")
                dice = gr.Button("🎲 Random", scale=1, min_width=110)
            truncation = gr.Slider(0, 1, value=studio.DEFAULT_TRUNCATION, step=0.01, label="Truncation ψ",
                                   elem_id="gan-truncation")
            method = gr.Radio(list(studio.METHODS.values()), value=DEFAULT_METHOD, label="Directions",
                              elem_id="gan-method")
            sliders, strips, rows = [], [], []
            for i in range(1, studio.NUM_DIRECTIONS + 1):
                with gr.Row(equal_height=True, elem_classes="gan-direction") as row:
                    rows.append(row)
                    sliders.append(gr.Slider(-studio.MAX_OFFSET, studio.MAX_OFFSET, value=0, step=0.05,
                                             label=f"Direction {i}", elem_id=f"gan-d{i}", scale=2, min_width=150))
                    strips.append(gr.HTML(js_on_load=None, scale=3, min_width=200, elem_id=f"gan-strip{i}",
                                          elem_classes="gan-strip"))
            reset = gr.Button("Reset directions")
    show_grid = gr.Checkbox(False, label=f"Also show {studio.GRID_SEEDS} seeds under the same offsets")
    grid = gr.Image(label=f"{studio.GRID_SEEDS} seeds (seed, seed + 1, ...)", type="pil", format="png",
                    interactive=False, visible=False, buttons=["download"], elem_id="gan-grid",
                    elem_classes="pixelated")
    nearest_panel(picture, model, api_name="nearest", columns=4)  # the app's one public /nearest
    direction, frames, animate, sweep = sweep_layout()
    with gr.Accordion("Advanced: the latent as JSON, a link, a model from the Hub", open=False):
        hub_model_field(model, *GAN_TYPES)
        state = gr.Textbox(label="Latent as JSON (copy it, or paste one or a share link)", lines=4, max_lines=8,
                           buttons=["copy"], elem_id="gan-json")
        with gr.Row():
            restore_button = gr.Button("Restore", size="sm")
            share_button = gr.Button("🔗 Share", size="sm")
        link = gr.Textbox(label="Link to this picture", placeholder="press 🔗 Share", buttons=["copy"],
                          elem_id="gan-link")
    point = gr.JSON(visible=False)
    return GanTab(model, label, seed, dice, truncation, method, sliders, strips, rows, reset, picture, show_grid, grid,
                  point, state, restore_button, share_button, link, direction, frames, animate, sweep)


def sweep_layout() -> tuple[gr.Dropdown, gr.Slider, gr.Button, gr.Image]:
    with gr.Accordion("Animate one direction", open=False):
        with gr.Row():
            direction = gr.Dropdown([(f"Direction {i}", i) for i in range(1, studio.NUM_DIRECTIONS + 1)],
                                    value=1, label="Direction")
            frames = gr.Slider(studio.MIN_FRAMES, studio.MAX_FRAMES, value=studio.DEFAULT_FRAMES, step=2,
                               label="Frames")
            animate = gr.Button("Animate", variant="primary")
        sweep = gr.Image(label="Sweep from -3 to +3", type="filepath", interactive=False, height=320,
                         buttons=["download"], elem_classes="pixelated")
    return direction, frames, animate, sweep


# --- the wiring --------------------------------------------------------------------------------------------------

def wire(demo: gr.Blocks, ui: GanTab, available: bool) -> None:
    """When this changes, that follows.  The page's server events read the point (one input), never the controls:
    Gradio's page keeps the loading status of every input of a finished server event, and refreshes them all at
    every later status change of any event."""
    gan_work = dict(concurrency_limit=4, concurrency_id="gan")
    # the public endpoints, for API clients and the page's own calls: no event of the page runs them on the server
    gr.on([], gan_generate, ui.controls, ui.picture, api_name="gan_generate", preprocess=False, batch=True,
          max_batch_size=MAX_BATCH, **gan_work)
    gr.on([], gan_sweep, [ui.model, ui.label, ui.seed, ui.truncation, ui.direction, ui.frames, ui.method, *ui.sliders],
          ui.sweep, api_name="gan_sweep", preprocess=False, **HEAVY)  # GIFs never queue before sliders
    # any control, moved by a hand, a key or the page -> the picture at once (the page asks /gan_generate itself),
    # and once the controls rest, the point
    drawing = dict(fn=None, inputs=ui.controls, outputs=ui.picture, js=direct_call_js("gan_generate"), **QUIET)
    pointing = dict(fn=None, inputs=ui.controls, outputs=ui.point, js=POINT_JS, **QUIET)
    for follower in (drawing, pointing):
        gr.on([control.change for control in ui.controls], **follower)
    # the point -> every view, each a server event
    follows_point = dict(trigger_mode="always_last", preprocess=False, **QUIET, **gan_work)
    ui.point.change(preview_strips, ui.point, ui.strips, **follows_point)
    ui.point.change(latent_json, ui.point, ui.state, **follows_point)
    ui.point.change(picture_text, ui.point, ui.picture, **follows_point)
    gr.on([ui.point.change, ui.show_grid.change], seed_grid, [ui.show_grid, ui.point], ui.grid, **follows_point)
    # the model and method -> the sliders' names, and which are shown
    naming = dict(fn=named_directions, inputs=[ui.model, ui.method],
                  outputs=[*ui.sliders, *ui.direction_rows, ui.direction], **QUIET)
    gr.on([ui.model.change, ui.method.change], trigger_mode="always_last", **naming)
    # the page, once open: the controls a link names (if any), then what follows them
    if available:  # without a GAN to draw with, the tab's first line says so; no error
        opened = demo.load(open_link, None, ui.restorable, **QUIET)
        for follower in (drawing, pointing, naming):
            opened.then(**follower)
    ui.restore.click(restore, ui.state, ui.restorable, preprocess=False, **QUIET)
    ui.reset.click(None, js=f"() => Array({studio.NUM_DIRECTIONS}).fill(0)", outputs=ui.sliders, **QUIET)
    ui.dice.click(None, js=random_seed_js(MAX_SEED), outputs=ui.seed, **QUIET)
    ui.model.change(label_choices, [ui.model, ui.label], ui.label, **QUIET)
    wire_share(ui.share, share_link, [ui.point], ui.link)
    ui.animate.click(animate, [ui.point, ui.direction, ui.frames], ui.sweep, preprocess=False,
                     api_visibility="private", show_progress_on=ui.sweep, **HEAVY)


def open_link(request: gr.Request):
    """The state in the page's address, if it holds one for this tab (a bad link is a warning, not an error)."""
    state = linked_state(request, "gan", studio.state_from_link)
    return unchanged(RESTORED) if state is None else controls(state)


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
        available = family_available(models, "GANs", "one from the Hub can still be loaded under Advanced")
        ui = layout(models, model_name, names)
    wire(demo, ui, available)
    return ui.model

"""The VAE tab: two pictures (uploaded, drawn or picked from the test set), their reconstructions and the
frames between them; a map of the latent space (the test codes by class with the path A → B, and a 2-d VAE's
decoded manifold) that decodes the point under a click; and samples from the prior at a chosen temperature.

:func:`layout` makes the components (a :class:`VaeTab`), :func:`wire` says what follows what.  The names in
``WALK``, ``LINKED`` and ``PICTURE`` are the outputs of the handlers below, in order: what a handler leaves
unchanged is built from the same names, so a new output is added in one place.

Only ``/vae_interpolate`` is public API; the other events are private to the page.
"""

import functools
import operator
from dataclasses import dataclass

import gradio as gr

from aigc.studio import MAX_SEED, InputError, gpu, latent_map, share
from aigc.studio import vae as studio
from aigc.ui.common import (
    HEAVY,
    QUIET,
    USER_ERRORS,
    family_available,
    for_page,
    hub_model_field,
    linked_state,
    picker,
    preferred,
    random_seed_js,
    unchanged,
    uploaded_path,
    user_errors,
    wire_share,
)
from aigc.ui.nearest import nearest_panel

EXAMPLE_A, EXAMPLE_B = 3, 8  # test images shown at start: a 3 and an 8, or a dress and a bag
WALK = ("frames", "animation")  # what a walk shows: vae_interpolate's outputs
VIEWS = ("a.reconstruction", "b.reconstruction", "scatter")  # latent_views' outputs
LINKED = ("model", "a.image", "b.image", "a.source", "b.source", "steps", "mode")  # what a share link sets
WALK_INPUTS = ("model", "a.image", "b.image", "steps", "mode", "a.source", "b.source")  # vae_interpolate's
PICTURE = ("image", "source")  # of one side: what a gallery pick or a drawing sets
VAE_WORK = dict(concurrency_limit=2, concurrency_id="vae")
# What the tab adds to the page's CSS (app.py): a gallery's columns shrink with the page instead of overflowing it
# (Gradio gives each column at least 100 px), with room above them for the gallery's label; on a narrow screen the
# pictures wrap, four or five to a row, and the frames keep their "Frame k of n" for screen readers only.
CSS = """
.vae-gallery .grid-wrap { padding-top: var(--size-8) !important; }
.vae-gallery .grid-container { grid-template-columns: repeat(var(--grid-cols), minmax(0, 1fr)) !important;
                               grid-template-rows: none !important; grid-auto-rows: auto !important; }
@media (max-width: 640px) {
  .vae-gallery .grid-container { grid-template-columns: repeat(auto-fill, minmax(60px, 1fr)) !important; }
  #vae-frames .caption-label { display: none; }
}
"""


def brush_ready_js(sketch_id: str) -> str:
    """A browser-side handler that picks a sketchpad's brush (its first tool) once the sketchpad is shown.

    Why: Gradio's sketchpad opens with no tool, so a first stroke selects the page's text instead of drawing.
    The tool buttons are found by place, not by label, which follows the visitor's language.
    """
    return f"""async () => {{
        for (let tries = 0; tries < 50; tries++) {{
            const tools = document.querySelector("#{sketch_id} .toolbar-wrap .half-container:not(.right)");
            const brush = tools?.querySelector("button");
            if (brush) {{
                if (!tools.querySelector("button.highlight")) brush.click();
                return;
            }}
            await new Promise((resolve) => setTimeout(resolve, 100));
        }}
    }}"""


# --- the handlers ------------------------------------------------------------------------------------------------

@gpu(duration=15)
@user_errors
def vae_interpolate(model, image_a=None, image_b=None, steps=studio.DEFAULT_STEPS, mode="lerp", source_a=None,
                    source_b=None):
    """Frames from image A to image B through the VAE's latent space, and the same as a looping GIF.

    ``source_a``, ``source_b``: the page's names of picked test pictures (states, not API parameters).
    """
    return captioned(*studio.interpolate(model, fed(image_a, source_a, "Image A"), fed(image_b, source_b, "Image B"),
                                         steps, mode))


def captioned(frames: list, gif: str) -> tuple[list, str]:
    """A walk as the page shows it: each frame captioned "Frame k of n" (which is also its text alternative)."""
    return list(zip(frames, studio.frame_captions(len(frames)), strict=True)), gif


def fed(image, source, what: str):
    """What the model gets for a picture on the page: the test picture a gallery pick named, while it is still
    shown (bit for bit, not re-framed), else the uploaded or drawn file."""
    return studio.fed_picture(uploaded_path(image, what), source)


def walk_on_change(model, image_a=None, image_b=None, steps=studio.DEFAULT_STEPS, mode="lerp", source_a=None,
                   source_b=None):
    """The walk again when a picture changes; nothing while one is missing (it is being replaced)."""
    if image_a is None or image_b is None:
        return unchanged(WALK)
    return vae_interpolate(model, image_a, image_b, steps, mode, source_a, source_b)
def model_view(model, image=None, source=None, what="image"):
    """The picture as the model sees it; nothing while there is no picture, a warning if it cannot be used."""
    try:
        picture = fed(image, source, what)
        return None if picture is None else studio.as_the_model_sees_it(model, picture, what)
    except USER_ERRORS as e:  # the walk reports it as an error; here a warning is enough
        gr.Warning(for_page(e))
        return None


@gpu(duration=30)
@user_errors
def latent_views(model, image_a=None, image_b=None, steps=studio.DEFAULT_STEPS, mode="lerp", source_a=None,
                 source_b=None):
    """The reconstructions of A and B, and the map of the test codes with the path A → B on it.

    Without two usable pictures (the model was changed before any were given) the map has no path.
    """
    try:
        a, b = fed(image_a, source_a, "Image A"), fed(image_b, source_b, "Image B")
        recon_a, recon_b = studio.reconstructions(model, a, b)
        path = studio.path_codes(model, a, b, steps, mode)
    except InputError:
        latent_map.vae_of(model)  # an unknown model is still an error
        recon_a = recon_b = path = None
    try:
        picture = latent_map.map_picture(model, path)
    except InputError as e:  # no test set here: the rest of the tab still works
        gr.Warning(for_page(e))
        picture = None
    return recon_a, recon_b, picture


@gpu(duration=10)
@user_errors
def manifold_view(model):
    """The decoded manifold, shown for a 2-d VAE only; the decoded point is cleared for a new model."""
    two_d = latent_map.latent_dim(model) == 2
    hint = "Click the map (or the manifold) to decode the point under the cursor."
    if not two_d:
        hint = ("Click the map to decode the point of the PCA plane under the cursor. The manifold is drawn "
                "for a 2-d VAE only (vae-mnist-2d).")
    return (gr.Image(latent_map.manifold(model) if two_d else None, visible=two_d),
            gr.Image(None, label="Decoded point"), hint)


@gpu(duration=30)  # the map of the test codes is computed on first use
@user_errors
def decode_click(model, index, manifold: bool):
    """The GPU part of the two select events: it gets the click's pixel, as gr.SelectData does not unpickle."""
    picture, z = (latent_map.click_manifold if manifold else latent_map.click_map)(model, index)
    where = latent_map.describe(z)
    return gr.Image(picture, label=f"Decoded point: {where}", alt_text=f"The picture the VAE decodes at {where}")


def decode_manifold_click(model, selected: gr.SelectData):
    return decode_click(model, selected.index, True)


def decode_map_click(model, selected: gr.SelectData):
    return decode_click(model, selected.index, False)


@gpu(duration=10)
@user_errors
def prior_samples(model, temperature=studio.DEFAULT_TEMPERATURE, seed=0, count=studio.DEFAULT_SAMPLES):
    """Samples from the model's prior, spread by the temperature, decoded, as one grid."""
    return studio.sample(model, count, temperature, seed)


@user_errors
def pick_example(model, selected: gr.SelectData):
    """A gallery click -> the picture, and its name in the test set (what a share link holds)."""
    source = studio.example_source(model, selected.index)
    return studio.held_out_picture(source), source


def picture_text(source, what: str) -> str:
    """The text alternative of a picture on the page: a test picture's name and class, else where it came from."""
    try:
        shown = f"test picture {source}, class {studio.dataset_picture(source).class_name()}" if source else None
    except InputError:  # not among this server's test pictures: the walk says so
        shown = None
    return f"{what}: {shown or 'an uploaded or drawn picture'}"


def described(source, what: str) -> gr.Image:
    """A picture's text alternative follows its name (a pick, an upload or a drawing)."""
    return gr.Image(alt_text=picture_text(source, what))


@user_errors
def share_link(model, source_a, source_b, steps=studio.DEFAULT_STEPS, mode="lerp"):
    """The query string of a link to this walk (the page turns it into a whole address)."""
    return share.query_string("vae", studio.shared_state(model, source_a, source_b, steps, mode))


def linked_walk(fields: dict[str, str]) -> list:
    """A share link's fields -> the controls it sets (``LINKED``) and the walk it shows (``WALK``)."""
    state = studio.state_from_link(fields)
    walk = studio.interpolate(state["model"], *map(studio.dataset_picture, (state["a"], state["b"])), state["steps"],
                              state["mode"])
    controls = {"model": picker(studio.vae_models(), state["model"]), "a.image": state["picture_a"],
                "b.image": state["picture_b"], "a.source": state["a"], "b.source": state["b"],
                "steps": state["steps"], "mode": state["mode"]}
    return [controls[name] for name in LINKED] + list(captioned(*walk))


def open_page(model_name, starts, request: gr.Request):
    """On load: the walk a share link names, or the walk between the two starting test pictures (``starts``, their
    names; None where there are none).

    One handler for both, so that the default walk cannot arrive after the linked one.
    """
    linked = linked_state(request, "vae", linked_walk)
    if linked is not None:
        return linked
    if not all(starts):
        return unchanged(LINKED + WALK)
    try:
        walk = studio.interpolate(model_name, *map(studio.dataset_picture, starts))
        return unchanged(LINKED) + list(captioned(*walk))
    except USER_ERRORS as e:
        raise gr.Error(for_page(e)) from None


@gpu(duration=15)
def on_load(model_name, source_a, source_b, request: gr.Request):
    """:func:`open_page` for the page's load event: the starting pictures' names are the sides' first sources."""
    return open_page(model_name, [source_a, source_b], request)


@user_errors
def example_gallery(model):
    """The test pictures to pick from, each captioned with its class (its text alternative too)."""
    return list(zip(studio.example_pictures(model), studio.example_classes(model), strict=True))


def drawing(sketch):
    """What was drawn on a sketchpad, as a picture (not from the test set); nothing changes until there is one."""
    composite = (sketch or {}).get("composite")
    if composite is None or composite.getbbox(alpha_only=True) is None:
        return unchanged(PICTURE)
    return composite, None


def not_from_the_test_set():
    return None


# --- the layout --------------------------------------------------------------------------------------------------

@dataclass
class Side:
    """One picture's column: the picture, its test-set name, what the VAE sees and rebuilds, its drawing and
    gallery."""

    image: gr.Image
    source: gr.State  # "mnist:3" for a test picture, None for an upload or drawing
    seen: gr.Image
    reconstruction: gr.Image
    drawer: gr.Accordion
    sketch: gr.Sketchpad
    gallery: gr.Gallery


@dataclass
class VaeTab:
    """The components that the tab's events read and write."""

    model: gr.Dropdown
    steps: gr.Slider
    mode: gr.Radio
    run: gr.Button
    share: gr.Button
    link: gr.Textbox
    a: Side
    b: Side
    frames: gr.Gallery
    animation: gr.Image
    hint: gr.Markdown
    manifold: gr.Image
    scatter: gr.Image
    decoded: gr.Image
    temperature: gr.Slider
    seed: gr.Number
    dice: gr.Button
    draw: gr.Button
    samples: gr.Image

    def named(self, names) -> list:
        """The components of ``names`` ("model", "a.image", ...), in their order."""
        return [operator.attrgetter(name)(self) for name in names]


@dataclass
class Start:
    """What the tab opens with: the model, its example pictures (captioned) and the names of the two shown."""

    model: str | None
    examples: list
    sources: list  # the test-set names of A and B; None where there are no examples

    @classmethod
    def of(cls, models: list[str]) -> "Start":
        model = preferred(models, "vae-mnist")
        try:
            examples = example_gallery(model) if model else []
        except gr.Error:  # the model failed to load; its error shows when it is used
            examples = []
        sources = [studio.example_source(model, i) if len(examples) > i else None for i in (EXAMPLE_A, EXAMPLE_B)]
        return cls(model, examples, sources)

    def picture(self, side: int):
        return self.examples[(EXAMPLE_A, EXAMPLE_B)[side]][0] if self.sources[side] else None


def layout(models: list[str], start: Start) -> VaeTab:
    """The tab's components: the walk's settings, the two pictures, the frames, the latent space, the prior."""
    gr.Markdown(
        "A VAE encodes a picture to a point of its latent space and decodes points back to pictures. "
        "Give it two pictures: it walks from A's point to B's and decodes every step. A test picture goes in "
        "as it is; uploads and drawings of any size or colour are turned into what the model knows (28×28, gray, "
        "light on dark), shown beside each."
    )
    with gr.Row():
        with gr.Column(min_width=200):
            model = gr.Dropdown(models, value=start.model, label="Model")
            hub_model_field(model, "vae")
        steps = gr.Slider(studio.MIN_STEPS, studio.MAX_STEPS, value=studio.DEFAULT_STEPS, step=1, label="Steps",
                          elem_id="vae-steps")
        mode = gr.Radio(["lerp", "slerp"], value="lerp", label="Path",
                        info="lerp: a straight line; slerp: along the sphere where most codes lie")
        with gr.Column(scale=0, min_width=140):
            run = gr.Button("Interpolate", variant="primary")
            share_button = gr.Button("🔗 Share", size="sm")
    link = gr.Textbox(label="Link to this walk (test pictures only: uploads and drawings cannot go in a link)",
                      placeholder="press 🔗 Share", buttons=["copy"], elem_id="vae-link")
    with gr.Row():
        a, b = (side_layout("AB"[i], start.picture(i), start.sources[i], start.examples) for i in (0, 1))
    frames = gr.Gallery(label="Frames", columns=8, format="png", interactive=False, elem_id="vae-frames",
                        elem_classes=["pixelated", "fit-content", "vae-gallery"])
    nearest_panel(frames, model)
    animation = gr.Image(label="Animation (GIF, forth and back)", type="filepath", interactive=False,
                         elem_id="vae-animation", height=260, buttons=["download"], elem_classes="pixelated",
                         alt_text="The frames as a looping animation, from A to B and back")
    hint, manifold, scatter, decoded = latent_space_layout()
    temperature, seed, dice, draw, samples = prior_layout()
    return VaeTab(model, steps, mode, run, share_button, link, a, b, frames, animation, hint, manifold, scatter,
                  decoded, temperature, seed, dice, draw, samples)


def side_layout(side: str, picture, source: str | None, examples: list) -> Side:
    """The column of picture A or B: the picture, as the VAE sees it, rebuilt; a sketchpad; the test pictures."""
    key = side.lower()
    with gr.Column():
        with gr.Row():
            image = gr.Image(picture, label=f"Image {side}", type="filepath", image_mode=None, format="png",
                             sources=["upload", "clipboard"], height=240, elem_id=f"vae-image-{key}",
                             elem_classes="pixelated", alt_text=picture_text(source, f"Image {side}"))
            seen = gr.Image(label=f"{side} as seen (28×28)", type="pil", format="png", interactive=False, height=240,
                            buttons=[], elem_id=f"vae-seen-{key}", elem_classes="pixelated",
                            alt_text=f"Image {side} as the VAE sees it: 28×28 pixels, gray, light on dark")
            reconstruction = gr.Image(label=f"Reconstruction of {side}", type="pil", format="png", interactive=False,
                                      height=240, buttons=[], elem_id=f"vae-recon-{key}", elem_classes="pixelated",
                                      alt_text=f"The VAE's reconstruction of image {side}: its code, decoded")
        with gr.Accordion(f"✏️ Draw {side}", open=False) as drawer:
            sketch = gr.Sketchpad(label=f"Drawing {side}", type="pil", image_mode="RGBA", elem_id=f"vae-sketch-{key}",
                                  canvas_size=(280, 280), layers=False, format="png",
                                  brush=gr.Brush(default_size=22, colors=["#000000"], color_mode="fixed"))
        gallery = gr.Gallery(examples, label="Or click a test image", columns=5, allow_preview=False, format="png",
                             interactive=False, visible=bool(examples),
                             elem_classes=["pixelated", "fit-content", "vae-gallery"])
    return Side(image, gr.State(source), seen, reconstruction, drawer, sketch, gallery)


def latent_space_layout() -> tuple[gr.Markdown, gr.Image, gr.Image, gr.Image]:
    """The map of the test codes (and a 2-d VAE's manifold) and the picture of a clicked point."""
    gr.Markdown(
        "### The latent space\n"
        "Every dot is a test picture's code (the mean of q(z|x)), coloured by its class; the line from "
        "the circled A to the circled B is the walk. A 2-d VAE is drawn in its own coordinates, next to its "
        "*manifold*: a grid of codes at the prior's quantiles, decoded (Kingma & Welling, 2014). Larger VAEs "
        "are shown on the plane of their codes' first two principal components."
    )
    hint = gr.Markdown("Click the map to decode the point under the cursor.")
    with gr.Row():
        manifold = gr.Image(label="Manifold (2-d VAE): click a point", type="pil", format="png", interactive=False,
                            height=440, visible=False, elem_id="vae-manifold", buttons=["download"],
                            elem_classes="pixelated", scale=4,
                            alt_text="The manifold: a grid of pictures decoded from codes at the prior's quantiles")
        scatter = gr.Image(label="Test codes by class: click a point", type="pil", format="png", interactive=False,
                           height=440, buttons=["download"], elem_id="vae-map", scale=5,
                           alt_text="A map of the test pictures' codes, one dot each, coloured by class, "
                                    "with the walk from A to B as a line between two circled letters")
        decoded = gr.Image(label="Decoded point", type="pil", format="png", interactive=False, height=300,
                           elem_id="vae-decoded", elem_classes="pixelated", scale=3,
                           alt_text="The picture the VAE decodes at the clicked point")
    return hint, manifold, scatter, decoded


def prior_layout() -> tuple[gr.Slider, gr.Number, gr.Button, gr.Button, gr.Image]:
    """Samples from the prior: the temperature, the seed and the grid."""
    gr.Markdown("### Samples from the prior\nCodes drawn from the model's prior and decoded: N(0, T²I), or, for a "
                "model with a mixture prior (a Gaussian a class, fitted to its training codes), the classes in turn, "
                "each spread by T. Temperature 0 decodes the prior's centres; higher temperatures reach farther out.")
    with gr.Row(equal_height=True):
        temperature = gr.Slider(0, studio.MAX_TEMPERATURE, value=studio.DEFAULT_TEMPERATURE, step=0.05,
                                label="Temperature T", scale=3, elem_id="vae-temperature")
        seed = gr.Number(0, precision=0, label="Seed", minimum=0, maximum=MAX_SEED, scale=1, min_width=100,
                         elem_id="vae-seed")
        dice = gr.Button("🎲 Random", scale=0, min_width=110)
        draw = gr.Button("Sample", variant="primary", scale=0, min_width=110)
    samples = gr.Image(label=f"{studio.DEFAULT_SAMPLES} samples", type="pil", format="png", interactive=False,
                       height=480, buttons=["download"], elem_id="vae-samples", elem_classes="pixelated",
                       alt_text=f"A grid of {studio.DEFAULT_SAMPLES} pictures decoded from codes drawn from the prior "
                                "at the temperature and seed above")
    return temperature, seed, dice, draw, samples


# --- the wiring --------------------------------------------------------------------------------------------------

def wire(demo: gr.Blocks, ui: VaeTab, available: bool) -> None:
    """When this changes, that follows.  Sliders follow a drag, the arrow keys and a typed value alike (input)."""
    settings = [ui.run.click, ui.steps.input, ui.mode.change, ui.model.change]
    pictures = [ui.a.image.change, ui.b.image.change]
    opened = [demo.load] if available else []  # without a VAE, the tab's first line says so (no error toasts)
    # progress shows on the GIF only: a gallery is costly to keep in Gradio's status list (see NO_PROGRESS)
    walk = dict(inputs=ui.named(WALK_INPUTS), outputs=ui.named(WALK), show_progress_on=ui.animation, preprocess=False,
                trigger_mode="always_last", **HEAVY)  # a GIF
    # a setting -> the walk (the public /vae_interpolate); a picture -> the walk, once both are there
    gr.on(settings, vae_interpolate, api_name="vae_interpolate", **walk)
    gr.on(pictures, walk_on_change, api_visibility="private", **walk)
    # the page opens on a share link's walk, or on the walk between the starting pictures
    demo.load(on_load, ui.named(("model", "a.source", "b.source")), ui.named(LINKED + WALK), **QUIET, **VAE_WORK)
    # a setting or a picture -> the reconstructions and the map, beside the walk: the map shows even without pictures
    gr.on(settings + pictures + opened, latent_views, ui.named(WALK_INPUTS), ui.named(VIEWS), preprocess=False,
          trigger_mode="always_last", **QUIET, **VAE_WORK)
    # another model -> its manifold (a 2-d VAE's) and no decoded point; a click on the map -> the point decoded
    gr.on(opened + [ui.model.change], manifold_view, ui.model, [ui.manifold, ui.decoded, ui.hint], **QUIET,
          **VAE_WORK)
    ui.manifold.select(decode_manifold_click, ui.model, ui.decoded, trigger_mode="always_last", **QUIET)
    ui.scatter.select(decode_map_click, ui.model, ui.decoded, trigger_mode="always_last", **QUIET)
    # the temperature, the seed, Sample or another model -> samples from the prior
    gr.on(opened + [ui.draw.click, ui.temperature.input, ui.seed.change, ui.model.change], prior_samples,
          [ui.model, ui.temperature, ui.seed], ui.samples, preprocess=False, trigger_mode="always_last", **QUIET,
          **VAE_WORK)
    ui.dice.click(None, js=random_seed_js(MAX_SEED), outputs=ui.seed, api_visibility="private")
    wire_share(ui.share, share_link, ui.named(("model", "a.source", "b.source", "steps", "mode")), ui.link)
    for name, side in (("Image A", ui.a), ("Image B", ui.b)):
        wire_side(demo, ui.model, side, name)


def wire_side(demo: gr.Blocks, model: gr.Dropdown, side: Side, what: str) -> None:
    """One picture's column: where a picture comes from, and what follows it."""
    picture = [getattr(side, name) for name in PICTURE]
    # a stroke, a gallery click, an upload -> the picture, and whether it is a test picture
    side.sketch.change(drawing, side.sketch, picture, trigger_mode="always_last", **QUIET)
    side.gallery.select(pick_example, model, picture, **QUIET)
    gr.on([side.image.upload, side.image.clear], not_from_the_test_set, None, side.source, **QUIET)
    # the picture or the model -> the picture as the model sees it; its name -> its text alternative
    gr.on([side.image.change, model.change, demo.load], functools.partial(model_view, what=what),
          [model, side.image, side.source], side.seen, preprocess=False, trigger_mode="always_last", **QUIET)
    side.source.change(functools.partial(described, what=what), side.source, side.image, **QUIET)
    # the sketchpad opened -> its brush ready; another model -> its test pictures
    side.drawer.expand(None, js=brush_ready_js(side.sketch.elem_id), api_visibility="private")
    model.change(example_gallery, model, side.gallery, **QUIET)


def tab(demo: gr.Blocks) -> gr.Dropdown:
    """The tab -> its model picker (a model trained in the Train tab joins it)."""
    models = studio.vae_models()
    start = Start.of(models)
    with gr.Tab("VAE", id="vae", elem_id="vae-tab"):
        available = family_available(models, "VAEs", "one from the Hub can still be loaded below")
        ui = layout(models, start)
    wire(demo, ui, available)
    return ui.model

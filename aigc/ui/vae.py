"""The VAE tab: two pictures (uploaded, drawn or picked from the test set), their reconstructions and the
frames between them; a map of the latent space (the test codes by class with the path A → B, and a 2-d VAE's
decoded manifold) that decodes the point under a click; and samples from the prior at a chosen temperature.

Only ``/vae_interpolate`` is public API; the other events are private to the page.
"""

import functools

import gradio as gr

from aigc.studio import MAX_SEED, InputError, gpu, share
from aigc.studio import latent_map
from aigc.studio import vae as studio
from aigc.ui.nearest import nearest_panel
from aigc.ui.common import (HEAVY, NO_PROGRESS, USER_ERRORS, family_available, for_page, hub_model_field, linked_state, picker,
                     preferred, random_seed_js, uploaded_path, user_errors, wire_share)

EXAMPLE_A, EXAMPLE_B = 3, 8  # test images shown at start: a 3 and an 8, or a dress and a bag


@gpu(duration=15)
@user_errors
def vae_interpolate(model, image_a=None, image_b=None, steps=studio.DEFAULT_STEPS, mode="lerp", source_a=None,
                    source_b=None):
    """Frames from image A to image B through the VAE's latent space, and the same as a looping GIF.

    ``source_a``, ``source_b``: the page's names of picked test pictures (states, not API parameters).
    """
    return studio.interpolate(model, fed(image_a, source_a, "Image A"), fed(image_b, source_b, "Image B"), steps,
                              mode)


def fed(image, source, what: str):
    """What the model gets for a picture on the page: the test picture a gallery pick named, while it is still
    shown (bit for bit, not re-framed), else the uploaded or drawn file."""
    return studio.fed_picture(uploaded_path(image, what), source)


def walk_on_change(model, image_a=None, image_b=None, steps=studio.DEFAULT_STEPS, mode="lerp", source_a=None,
                   source_b=None):
    """The walk again when a picture changes; nothing while one is missing (it is being replaced)."""
    if image_a is None or image_b is None:
        return gr.skip(), gr.skip()
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
    return gr.Image(picture, label=f"Decoded point: {latent_map.describe(z)}")


def decode_manifold_click(model, selected: gr.SelectData):
    return decode_click(model, selected.index, True)


def decode_map_click(model, selected: gr.SelectData):
    return decode_click(model, selected.index, False)


@gpu(duration=10)
@user_errors
def prior_samples(model, temperature=studio.DEFAULT_TEMPERATURE, seed=0, count=studio.DEFAULT_SAMPLES):
    """Samples from the prior, z ~ N(0, T²I), decoded, as one grid."""
    return studio.sample(model, count, temperature, seed)


@user_errors
def pick_example(model, selected: gr.SelectData):
    """A gallery click -> the picture, and its name in the test set (what a share link holds)."""
    source = studio.example_source(model, selected.index)
    return studio.held_out_picture(source), source


@user_errors
def share_link(model, source_a, source_b, steps=studio.DEFAULT_STEPS, mode="lerp"):
    """The query string of a link to this walk (the page turns it into a whole address)."""
    return share.query_string("vae", studio.shared_state(model, source_a, source_b, steps, mode))


def linked_walk(fields: dict[str, str]) -> list:
    """A share link's fields -> the controls it sets and the walk it shows."""
    state = studio.state_from_link(fields)
    pictures = state["picture_a"], state["picture_b"]
    walk = studio.interpolate(state["model"], *map(studio.dataset_picture, (state["a"], state["b"])), state["steps"],
                              state["mode"])
    return [picker(studio.vae_models(), state["model"]), *pictures, state["a"], state["b"], state["steps"],
            state["mode"], *walk]


def open_page(model_name, starts, request: gr.Request):
    """On load: the walk a share link names, or the walk between the two starting test pictures (``starts``, their
    names; None where there are none).

    One handler for both, so that the default walk cannot arrive after the linked one.
    """
    linked = linked_state(request, "vae", linked_walk)
    if linked is not None:
        return linked
    unchanged = [gr.skip()] * 7
    if not all(starts):
        return unchanged + [gr.skip()] * 2
    try:
        return unchanged + list(studio.interpolate(model_name, *map(studio.dataset_picture, starts)))
    except USER_ERRORS as e:
        raise gr.Error(for_page(e)) from None


@user_errors
def example_gallery(model):
    return studio.example_pictures(model)


def drawing(sketch):
    """What was drawn on a sketchpad, as a picture (not from the test set); nothing changes until there is one."""
    composite = (sketch or {}).get("composite")
    if composite is None or composite.getbbox(alpha_only=True) is None:
        return gr.skip(), gr.skip()
    return composite, None


def not_from_the_test_set():
    return None


def tab(demo: gr.Blocks) -> gr.Dropdown:
    """The tab -> its model picker (a model trained in the Train tab joins it)."""
    models = studio.vae_models()
    model_name = preferred(models, "vae-mnist")
    try:
        examples = studio.example_pictures(model_name) if model_name else []
    except USER_ERRORS:  # the model failed to load; its error shows when it is used
        examples = []
    starts = [examples[i] if len(examples) > i else None for i in (EXAMPLE_A, EXAMPLE_B)]
    start_sources = [studio.example_source(model_name, i) if start else None
                     for i, start in zip((EXAMPLE_A, EXAMPLE_B), starts)]
    with gr.Tab("VAE", id="vae"):
        available = family_available(models, "VAEs", "one from the Hub can still be loaded below")
        gr.Markdown(
            "A VAE encodes a picture to a point of its latent space and decodes points back to pictures. "
            "Give it two pictures: it walks from A's point to B's and decodes every step. A test picture goes in "
            "as it is; uploads and drawings of any size or colour are turned into what the model knows (28×28, gray, "
            "light on dark), shown beside each."
        )
        with gr.Row():
            with gr.Column(min_width=200):
                model = gr.Dropdown(models, value=model_name, label="Model")
                hub_model_field(model, "vae")
            steps = gr.Slider(studio.MIN_STEPS, studio.MAX_STEPS, value=studio.DEFAULT_STEPS, step=1, label="Steps")
            mode = gr.Radio(["lerp", "slerp"], value="lerp", label="Path",
                            info="lerp: a straight line; slerp: along the sphere where most codes lie")
            with gr.Column(scale=0, min_width=140):
                run = gr.Button("Interpolate", variant="primary")
                share_button = gr.Button("🔗 Share", size="sm")
        link = gr.Textbox(label="Link to this walk (test pictures only: uploads and drawings cannot go in a link)",
                          placeholder="press 🔗 Share", buttons=["copy"], elem_id="vae-link")
        images, sources, reconstructions, galleries = [], [], [], []
        with gr.Row():
            for side, start, start_source in zip("AB", starts, start_sources):
                source = gr.State(start_source)  # "mnist:3" for a test picture, None for an upload or drawing
                with gr.Column():
                    with gr.Row():
                        image = gr.Image(start, label=f"Image {side}", type="filepath", image_mode=None,
                                         format="png", sources=["upload", "clipboard"], height=240,
                                         elem_id=f"vae-image-{side.lower()}", elem_classes="pixelated")
                        seen = gr.Image(label=f"{side} as seen (28×28)", type="pil", format="png",
                                        interactive=False, height=240, elem_id=f"vae-seen-{side.lower()}",
                                        elem_classes="pixelated")
                        reconstruction = gr.Image(label=f"Reconstruction of {side}", type="pil", format="png",
                                                  interactive=False, height=240, elem_id=f"vae-recon-{side.lower()}",
                                                  elem_classes="pixelated")
                    with gr.Accordion(f"✏️ Draw {side}", open=False):
                        sketch = gr.Sketchpad(label=f"Drawing {side}", type="pil", image_mode="RGBA",
                                              elem_id=f"vae-sketch-{side.lower()}",
                                              canvas_size=(280, 280), layers=False, format="png",
                                              brush=gr.Brush(default_size=22, colors=["#000000"], color_mode="fixed"))
                    gallery = gr.Gallery(examples, label="Or click a test image", columns=5,
                                         allow_preview=False, format="png", visible=bool(examples),
                                         elem_classes=["pixelated", "fit-content"])
                sketch.change(drawing, sketch, [image, source], api_visibility="private", trigger_mode="always_last",
                              **NO_PROGRESS)
                gallery.select(pick_example, model, [image, source], api_visibility="private", **NO_PROGRESS)
                gr.on([image.upload, image.clear], not_from_the_test_set, None, source, api_visibility="private",
                      **NO_PROGRESS)
                gr.on([image.change, model.change, demo.load], functools.partial(model_view, what=f"Image {side}"),
                      [model, image, source], seen, preprocess=False, api_visibility="private", **NO_PROGRESS,
                      trigger_mode="always_last")
                images.append(image)
                sources.append(source)
                reconstructions.append(reconstruction)
                galleries.append(gallery)
        frames = gr.Gallery(label="Frames", columns=8, format="png", elem_id="vae-frames",
                            elem_classes=["pixelated", "fit-content"])
        nearest_panel(frames, model)
        animation = gr.Image(label="Animation (GIF, forth and back)", type="filepath", interactive=False,
                             elem_id="vae-animation",
                             height=260, buttons=["download"], elem_classes="pixelated")
        gr.Markdown(
            "### The latent space\n"
            "Every dot is a test picture's code (the mean of q(z|x)), coloured by its class; the black line is "
            "the path from A to B. A 2-d VAE is drawn in its own coordinates, next to its *manifold*: a grid of "
            "codes at the prior's quantiles, decoded (Kingma & Welling, 2014). Larger VAEs are shown on the "
            "plane of their codes' first two principal components."
        )
        hint = gr.Markdown("Click the map to decode the point under the cursor.")
        with gr.Row():
            manifold = gr.Image(label="Manifold (2-d VAE): click a point", type="pil", format="png",
                                interactive=False, height=440, visible=False, elem_id="vae-manifold",
                                buttons=["download"], elem_classes="pixelated", scale=4)
            scatter = gr.Image(label="Test codes by class: click a point", type="pil", format="png",
                               interactive=False, height=440, buttons=["download"], elem_id="vae-map", scale=5)
            decoded = gr.Image(label="Decoded point", type="pil", format="png", interactive=False, height=300,
                               elem_id="vae-decoded", elem_classes="pixelated", scale=3)
        gr.Markdown("### Samples from the prior\nCodes drawn from N(0, T²I) and decoded. Temperature 0 decodes "
                    "the prior's mean for every sample; higher temperatures reach farther from the centre.")
        with gr.Row(equal_height=True):
            temperature = gr.Slider(0, studio.MAX_TEMPERATURE, value=studio.DEFAULT_TEMPERATURE, step=0.05,
                                    label="Temperature T", scale=3)
            seed = gr.Number(0, precision=0, label="Seed", minimum=0, maximum=MAX_SEED, scale=1, min_width=100)
            dice = gr.Button("🎲 Random", scale=0, min_width=110)
            draw = gr.Button("Sample", variant="primary", scale=0, min_width=110)
        samples = gr.Image(label="16 samples", type="pil", format="png", interactive=False, height=480,
                           buttons=["download"], elem_id="vae-samples", elem_classes="pixelated")

    settings_changed = [run.click, steps.release, mode.change, model.change]
    images_changed = [image.change for image in images]
    # progress shows on the GIF only: a gallery is costly to keep in Gradio's status list (see NO_PROGRESS)
    walk = dict(inputs=[model, *images, steps, mode, *sources], outputs=[frames, animation], show_progress_on=animation,
                preprocess=False, trigger_mode="always_last", **HEAVY)  # a GIF
    gr.on(settings_changed, vae_interpolate, api_name="vae_interpolate", **walk)
    @gpu(duration=15)
    def on_load(request: gr.Request):
        return open_page(model_name, start_sources, request)

    demo.load(on_load, None,
              [model, *images, *sources, steps, mode, frames, animation], api_visibility="private", **NO_PROGRESS,
              concurrency_limit=2, concurrency_id="vae")
    wire_share(share_button, share_link, [model, *sources, steps, mode], link)
    gr.on(images_changed, walk_on_change, api_visibility="private", **walk)
    views = dict(inputs=[model, *images, steps, mode, *sources], outputs=[*reconstructions, scatter], preprocess=False,
                 api_visibility="private", **NO_PROGRESS, concurrency_limit=2, concurrency_id="vae")
    page_load = [demo.load] if available else []  # without a VAE, the tab's first line says so (no error toasts)
    # alongside the walk rather than after it: the map shows (without a path) even when a picture is missing
    gr.on(settings_changed + images_changed + page_load, latent_views, trigger_mode="always_last",
          **views)
    gr.on(page_load + [model.change], manifold_view, model, [manifold, decoded, hint], api_visibility="private",
          **NO_PROGRESS, concurrency_limit=2, concurrency_id="vae")
    manifold.select(decode_manifold_click, model, decoded, api_visibility="private", **NO_PROGRESS,
                    trigger_mode="always_last")
    scatter.select(decode_map_click, model, decoded, api_visibility="private", **NO_PROGRESS,
                   trigger_mode="always_last")
    gr.on(page_load + [draw.click, temperature.release, seed.change, model.change], prior_samples,
          [model, temperature, seed], samples, api_visibility="private", preprocess=False, **NO_PROGRESS,
          trigger_mode="always_last", concurrency_limit=2, concurrency_id="vae")
    dice.click(None, js=random_seed_js(MAX_SEED), outputs=seed, api_visibility="private")
    for gallery in galleries:
        model.change(example_gallery, model, gallery, api_visibility="private", **NO_PROGRESS)
    return model

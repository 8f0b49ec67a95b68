"""The VAE tab: two pictures (uploaded, drawn or picked from the test set) and the frames between them."""

import gradio as gr

from aigc.studio import InputError
from aigc.studio import vae as studio
from aigc.ui import USER_ERRORS, preferred, user_errors

EXAMPLE_A, EXAMPLE_B = 3, 8  # test images shown at start: a 3 and an 8, or a dress and a bag


def file_path(payload, what: str) -> str | None:
    """The server-side path of an uploaded picture (events here skip Gradio's preprocessing)."""
    if payload is None:
        return None
    if not isinstance(payload, dict) or not payload.get("path"):
        raise InputError(f"{what} is not an uploaded file")
    return payload["path"]


@user_errors
def vae_interpolate(model, image_a=None, image_b=None, steps=studio.DEFAULT_STEPS, mode="lerp"):
    """Frames from image A to image B through the VAE's latent space, and the same as a looping GIF."""
    return studio.interpolate(model, file_path(image_a, "Image A"), file_path(image_b, "Image B"), steps, mode)


@user_errors
def pick_example(model, selected: gr.SelectData):
    return studio.example_picture(model, selected.index)


@user_errors
def example_gallery(model):
    return studio.example_pictures(model)


def drawing(sketch):
    """What was drawn on a sketchpad, as a picture; nothing changes until there is a drawing."""
    composite = (sketch or {}).get("composite")
    return gr.skip() if composite is None or composite.getbbox(alpha_only=True) is None else composite


def tab(demo: gr.Blocks) -> None:
    models = studio.vae_models()
    model_name = preferred(models, "vae-mnist")
    try:
        examples = studio.example_pictures(model_name) if model_name else []
    except USER_ERRORS:  # the model failed to load; its error shows when it is used
        examples = []
    starts = [examples[i] if len(examples) > i else None for i in (EXAMPLE_A, EXAMPLE_B)]
    with gr.Tab("VAE"):
        gr.Markdown(
            "A VAE encodes a picture to a point of its latent space and decodes points back to pictures. "
            "Give it two pictures: it walks from A's point to B's and decodes every step. Uploads of any size "
            "or colour are turned into what the model knows: 28×28, gray, light on dark."
        )
        with gr.Row():
            model = gr.Dropdown(models, value=model_name, label="Model")
            steps = gr.Slider(studio.MIN_STEPS, studio.MAX_STEPS, value=studio.DEFAULT_STEPS, step=1, label="Steps")
            mode = gr.Radio(["lerp", "slerp"], value="lerp", label="Path",
                            info="lerp: a straight line; slerp: along the sphere where most codes lie")
            run = gr.Button("Interpolate", variant="primary", scale=0, min_width=140)
        images, galleries = [], []
        with gr.Row():
            for side, start in zip("AB", starts):
                with gr.Column():
                    image = gr.Image(start, label=f"Image {side}", type="filepath", image_mode=None, format="png",
                                     sources=["upload", "clipboard"], height=240, elem_classes="pixelated")
                    with gr.Accordion(f"✏️ Draw {side}", open=False):
                        sketch = gr.Sketchpad(label=f"Drawing {side}", type="pil", image_mode="RGBA",
                                              canvas_size=(280, 280), layers=False, format="png",
                                              brush=gr.Brush(default_size=22, colors=["#000000"], color_mode="fixed"))
                    gallery = gr.Gallery(examples, label="Or click a test image", columns=5,
                                         allow_preview=False, format="png", visible=bool(examples),
                                         elem_classes=["pixelated", "fit-content"])
                sketch.change(drawing, sketch, image, api_visibility="private", trigger_mode="always_last",
                              show_progress="hidden")
                gallery.select(pick_example, model, image, api_visibility="private", show_progress="hidden")
                images.append(image)
                galleries.append(gallery)
        frames = gr.Gallery(label="Frames", columns=8, format="png", elem_id="vae-frames",
                            elem_classes=["pixelated", "fit-content"])
        animation = gr.Image(label="Animation (GIF, forth and back)", type="filepath", interactive=False,
                             height=260, buttons=["download"], elem_classes="pixelated")

    triggers = [run.click, steps.release, mode.change] + ([demo.load] if all(starts) else [])
    gr.on(triggers, vae_interpolate, inputs=[model, *images, steps, mode], outputs=[frames, animation],
          api_name="vae_interpolate", preprocess=False, trigger_mode="always_last", concurrency_limit=2,
          concurrency_id="vae")
    for gallery in galleries:
        model.change(example_gallery, model, gallery, api_visibility="private", show_progress="hidden")

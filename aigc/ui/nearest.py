"""The "Nearest training images" panel: put under a picture, it shows whether that picture may be a copy.

The panel under the GAN tab's picture is the public ``/nearest`` endpoint (``model``, ``image``, ``k``): its
picture is a ``gr.Image``, the shape the API contract asks for.  Panels under a gallery (the VAE tab's frames)
look up the selected frame and are private to the page, so the app has exactly one ``/nearest``.
"""

import gradio as gr

from aigc.studio import InputError, gpu
from aigc.studio import nearest as studio
from aigc.ui.common import NO_PROGRESS, uploaded_path, user_errors

GALLERY_LABEL = "Nearest training images (distance · #number class)"
HELD_OUT_LABEL = "Nearest pictures (distance · #number class; \"test #\" marks a held-out picture)"


def shown(result: studio.Neighbours) -> tuple[list, str]:
    """-> the gallery (pictures captioned "distance · #number class") and the verdict in Markdown."""
    return result.gallery, result.summary


@gpu(duration=10)
@user_errors
def nearest(model, image=None, k=studio.DEFAULT_K):
    """The k (1 to 20) training images nearest to a picture, in the feature space of the classifier of the model's
    dataset, captioned with their distances; and whether the picture may be a copy."""
    return shown(studio.nearest(model, uploaded_path(image, "image"), k))


@gpu(duration=10)
@user_errors
def nearest_to_frame(model, frames=None, selected=None, k=studio.DEFAULT_K):
    """The same for the selected frame of a gallery, or its middle frame when none is selected."""
    if not isinstance(frames, list) or not frames:
        raise InputError("There are no frames yet: make some first")
    number = selected if isinstance(selected, int) and 0 <= selected < len(frames) else len(frames) // 2
    frame = frames[number]
    image = frame.get("image") if isinstance(frame, dict) else frame  # a gallery item: {"image": ..., "caption": ...}
    pictures, summary = shown(studio.nearest(model, uploaded_path(image, "image"), k))
    return pictures, f"Frame {number + 1} of {len(frames)}. {summary}"


def selected_frame(selected: gr.SelectData) -> int:
    return selected.index


def nearest_panel(picture: gr.Image | gr.Gallery, model: gr.Dropdown, api_name: str | None = None,
                  columns: int = 5) -> None:
    """A closed accordion, under ``picture``, that finds the nearest training images of the picture shown.

    ``api_name`` makes it a public endpoint; give it to one panel only.  ``columns``: the gallery's, fewer in a
    narrow column.  The results are cleared whenever the picture changes, so they never describe a picture that
    is no longer shown.
    """
    frames = isinstance(picture, gr.Gallery)
    with gr.Accordion("Nearest training images: new, or a copy?", open=False):
        gr.Markdown("The training images closest to this picture in the classifier's feature space (where FID is "
                    "measured), and how that distance compares with real test images' distance to the training set."
                    + (" Click a frame to choose it; otherwise the middle frame is used." if frames else ""))
        with gr.Row(equal_height=True):
            k = gr.Slider(studio.MIN_K, studio.MAX_K, value=studio.DEFAULT_K, step=1, label="How many", scale=3)
            find = gr.Button("Find nearest training images", scale=1, min_width=160)
        summary = gr.Markdown()
        gallery = gr.Gallery(label=GALLERY_LABEL if studio.training_images_kept() else HELD_OUT_LABEL,
                             columns=columns, format="png",
                             elem_classes=["pixelated", "fit-content"])
    if frames:
        selected = gr.State(None)
        picture.select(selected_frame, None, selected, api_visibility="private", **NO_PROGRESS)
        picture.change(lambda: (None, None, ""), None, [selected, gallery, summary], api_visibility="private",
                       **NO_PROGRESS)
        find.click(nearest_to_frame, [model, picture, selected, k], [gallery, summary], preprocess=False,
                   api_visibility="private", concurrency_limit=2, concurrency_id="nearest")
    else:
        picture.change(None, js="() => [null, '']", outputs=[gallery, summary], api_visibility="private",
                       **NO_PROGRESS)
        find.click(nearest, [model, picture, k], [gallery, summary], preprocess=False, api_name=api_name,
                   api_visibility="public" if api_name else "private", concurrency_limit=2,
                   concurrency_id="nearest")

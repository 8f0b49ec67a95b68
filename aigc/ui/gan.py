"""The GAN tab: a picture that follows the sliders while they are dragged."""

import gradio as gr

from aigc.studio import MAX_SEED
from aigc.studio import gan as studio
from aigc.ui import USER_ERRORS, preferred, random_seed_js, user_errors

DEFAULT_SEED = 42


@user_errors
def gan_generate(model, label=0, seed=DEFAULT_SEED, truncation=studio.DEFAULT_TRUNCATION,
                 d1=0.0, d2=0.0, d3=0.0, d4=0.0, d5=0.0, d6=0.0, d7=0.0, d8=0.0):
    """One picture. label: a class name or index; d1..d8: offsets along the directions, -3 to 3."""
    return studio.generate(model, label, seed, truncation, [d1, d2, d3, d4, d5, d6, d7, d8])


@user_errors
def gan_sweep(model, label=0, seed=DEFAULT_SEED, truncation=studio.DEFAULT_TRUNCATION, direction=1,
              frames=studio.DEFAULT_FRAMES):
    """An animated GIF of one direction (1 to 8) swept from -3 to +3, with every other slider at 0."""
    return studio.sweep(model, label, seed, truncation, direction, frames)


@user_errors
def label_choices(model):
    """The class dropdown for a newly chosen model (hidden for an unconditional GAN)."""
    names = studio.class_names(model)
    return gr.Dropdown(choices=list(zip(names, range(len(names)))), value=0, visible=bool(names))


def tab(demo: gr.Blocks) -> None:
    models = studio.gan_models()
    model_name = preferred(models, "gan-fashion")
    try:
        names = studio.class_names(model_name) if model_name else []
    except USER_ERRORS:  # the model failed to load; its error shows when the picture is asked for
        names = []
    with gr.Tab("GAN"):
        gr.Markdown(
            "A generator turns a random point of its latent space into a picture. The **seed** picks the point, "
            "**truncation ψ** pulls it toward the centre (more typical, less varied), and each **direction** "
            "moves it along one of the eight directions the generator responds to most (SeFa)."
        )
        with gr.Row():
            with gr.Column(scale=1, min_width=240):
                model = gr.Dropdown(models, value=model_name, label="Model")
                label = gr.Dropdown(list(zip(names, range(len(names)))), value=0, label="Class", visible=bool(names))
                with gr.Row(equal_height=True):
                    seed = gr.Number(DEFAULT_SEED, precision=0, label="Seed", scale=2, min_width=100)
                    dice = gr.Button("🎲 Random", scale=1, min_width=110)
                truncation = gr.Slider(0, 1, value=studio.DEFAULT_TRUNCATION, step=0.01, label="Truncation ψ")
            with gr.Column(scale=1, min_width=300):
                picture = gr.Image(label="Picture", type="pil", format="png", interactive=False, height=320,
                                   buttons=["download"], elem_id="gan-picture", elem_classes="pixelated")
            with gr.Column(scale=1, min_width=240):
                sliders = [
                    gr.Slider(-studio.MAX_OFFSET, studio.MAX_OFFSET, value=0, step=0.05, label=f"Direction {i}",
                              elem_id=f"gan-d{i}")
                    for i in range(1, studio.NUM_DIRECTIONS + 1)
                ]
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
    gr.on(
        [demo.load, model.change, label.change, seed.change, truncation.change] + [s.change for s in sliders],
        gan_generate, inputs=point + sliders, outputs=picture, api_name="gan_generate", preprocess=False,
        trigger_mode="always_last", show_progress="hidden", concurrency_limit=4, concurrency_id="gan",
    )
    model.change(label_choices, model, label, api_visibility="private", show_progress="hidden")
    dice.click(None, js=random_seed_js(MAX_SEED), outputs=seed, api_visibility="private")
    reset.click(None, js=f"() => Array({studio.NUM_DIRECTIONS}).fill(0)", outputs=sliders, api_visibility="private")
    animate.click(gan_sweep, inputs=point + [direction, frames], outputs=sweep, api_name="gan_sweep",
                  preprocess=False, concurrency_limit=4, concurrency_id="gan")

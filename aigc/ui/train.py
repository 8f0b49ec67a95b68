"""The Train tab: train the tutorial's GAN, the DCGAN or the VAE live, watch it learn or collapse, then steer it."""

import uuid
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from aigc.studio import MAX_SEED, gpu
from aigc.studio import gan as studio_gan
from aigc.studio import train as studio
from aigc.studio import vae as studio_vae
from aigc.studio.models import GAN_TYPES, registry
from aigc.ui.common import QUIET, user_errors
from aigc.ui.fairness import TRAIN_ID

# One training at a time on the server, in a queue of its own (not the heavy one: a run holds its worker for up
# to MAX_SECONDS, which GIFs and texts must not wait behind); the others wait in line and see their place in it.
# aigc.ui.fairness lets each visitor hold one place in that line.
TRAIN = dict(concurrency_id=TRAIN_ID, concurrency_limit=1)
CONTROL = dict(inputs=None, outputs=None, queue=False, **QUIET)
SETTINGS = ("family", "dataset", "loss", "lr", "batch", "seconds", "seed", "beta", "mode_seeking")  # /train's
PROGRESS = ("status", "grid", "plot", "diversity", "gif")  # what /train streams, in its order
PRESET_FIELDS = ("family", "dataset", "loss", "lr", "batch", "seconds", "mode_seeking")


@gpu(duration=studio.MAX_SECONDS + 60)
def training(family, dataset, loss, lr, batch, seconds, seed, beta, mode_seeking, session):
    """The run itself; on ZeroGPU it holds one GPU for its whole budget and its updates come back pickled."""
    yield from studio.train(family, dataset, loss, lr, batch, seconds, seed, beta, mode_seeking, session)


@user_errors
def train(family="mlp-gan", dataset="mnist", loss="bce", lr=studio.DEFAULT_LR, batch=studio.DEFAULT_BATCH,
          seconds=studio.DEFAULT_SECONDS, seed=0, beta=1.0, mode_seeking=0.0, request: gr.Request = None):
    """A live training run, streamed about once a second: the JSON status {"step", "seconds", "losses", "model"},
    the sample grid, the losses, the diversity and, at the end, a GIF of the grids.  family: "mlp-gan", "dcgan" or
    "vae"; dataset: "mnist" or "fashion"; loss: "bce", "hinge" or "wgan-gp" (GANs); seconds: 10 to 300.  The model
    is then drawn by its name (the status's "model") in /gan_generate or /vae_interpolate."""
    session = getattr(request, "session_hash", None) or uuid.uuid4().hex
    studio.settings(family, dataset, loss, lr, batch, seconds, seed, beta, mode_seeking)  # refused before a GPU
    for update in training(family, dataset, loss, lr, batch, seconds, seed, beta, mode_seeking, session):
        if update.done:
            studio.keep(update.name, update.model)
        shown = dict(status=update.status(), grid=update.grid, plot=losses_table(update.history),
                     diversity=update.diversity.text(), gif=update.gif)
        yield tuple(shown[name] for name in PROGRESS)


def losses_table(history: list[dict]) -> pd.DataFrame:
    rows = [(point["step"], name, value) for point in history for name, value in point.items()
            if name not in ("step", "seconds")]
    return pd.DataFrame(rows, columns=["step", "loss", "value"])


def join_pickers(status, trained: list[str]):
    """The trained model joins this visitor's GAN or VAE picker, chosen there -> (GAN picker, VAE picker, trained)."""
    name = status.get("model") if isinstance(status, dict) else None
    if name not in registry().trained:
        return gr.skip(), gr.skip(), trained
    trained = [n for n in trained if n in registry().trained and n != name] + [name]
    kind = registry().trained[name].config.model_type
    family = [n for n in trained if (registry().trained[n].config.model_type in GAN_TYPES) == (kind in GAN_TYPES)]
    if kind in GAN_TYPES:
        return gr.Dropdown(choices=studio_gan.gan_models() + family, value=name), gr.skip(), trained
    return gr.skip(), gr.Dropdown(choices=studio_vae.vae_models() + family, value=name), trained


def for_session(action):
    """A handler that calls ``action(session)`` for the visitor who clicked."""
    def handler(request: gr.Request):
        action(request.session_hash)

    return handler


def preset(name) -> list:
    """A preset's settings (PRESET_FIELDS) and what to look for."""
    chosen = studio.PRESETS[name]
    return [chosen[key] for key in PRESET_FIELDS] + [f"*{chosen['about']}*"]


@dataclass
class TrainTab:
    """The tab's components."""

    preset: gr.Radio
    about: gr.Markdown
    family: gr.Dropdown
    dataset: gr.Dropdown
    loss: gr.Dropdown
    lr: gr.Number
    batch: gr.Slider
    seconds: gr.Slider
    seed: gr.Number
    mode_seeking: gr.Slider
    beta: gr.Slider
    start: gr.Button
    pause: gr.Button
    resume: gr.Button
    stop: gr.Button
    grid: gr.Image
    diversity: gr.Markdown
    plot: gr.LinePlot
    status: gr.JSON
    gif: gr.Image

    def named(self, names) -> list:
        return [getattr(self, name) for name in names]


def settings_column() -> dict:
    """The settings of a run, its presets and its buttons, by name."""
    c = dict(preset=gr.Radio(list(studio.PRESETS), label="Preset", elem_id="train-preset"), about=gr.Markdown())
    c["family"] = gr.Dropdown([(label, key) for key, label in studio.FAMILIES.items()], value="mlp-gan",
                              label="Model")
    c["dataset"] = gr.Dropdown([(studio.data_description(key), key) for key in studio.DATASETS], value="mnist",
                               label="Data")
    c["loss"] = gr.Dropdown(list(studio.GAN_LOSSES), value="bce", label="GAN loss")
    c["lr"] = gr.Number(studio.DEFAULT_LR, minimum=studio.MIN_LR, maximum=studio.MAX_LR, label="Learning rate (Adam)")
    c["batch"] = gr.Slider(studio.MIN_BATCH, studio.MAX_BATCH, studio.DEFAULT_BATCH, step=8, label="Batch size")
    c["seconds"] = gr.Slider(studio.MIN_SECONDS, studio.MAX_SECONDS, studio.DEFAULT_SECONDS, step=5,
                             label="Seconds of training", elem_id="train-seconds")
    c["seed"] = gr.Number(0, precision=0, minimum=0, maximum=MAX_SEED, label="Seed")
    c["mode_seeking"] = gr.Slider(0, studio.MAX_MODE_SEEKING, 0, step=0.1,
                                  label="Mode-seeking weight (GANs; MSGAN, 0 = off)")
    c["beta"] = gr.Slider(0, studio.MAX_BETA, 1, step=0.1, label="β, the weight of the KL term (VAE)")
    with gr.Row():
        c["start"] = gr.Button("Train", variant="primary", elem_id="train-start")
        c["pause"], c["resume"], c["stop"] = (gr.Button(text, size="sm") for text in ("Pause", "Resume", "Stop"))
    return c


def progress_column() -> dict:
    """What a run shows as it trains, by name."""
    return dict(
        grid=gr.Image(label="Samples from the same latents", type="pil", format="png", interactive=False,
                      elem_id="train-grid", elem_classes="pixelated"),
        diversity=gr.Markdown(elem_id="train-diversity"),
        plot=gr.LinePlot(x="step", y="value", color="loss", label="Losses", height=240, elem_id="train-losses"),
        status=gr.JSON(label="Status", elem_id="train-status"),
        gif=gr.Image(label="The samples over training", type="filepath", interactive=False, buttons=["download"],
                     elem_classes="pixelated"))


def layout() -> TrainTab:
    with gr.Tab("Train", id="train"):
        gr.Markdown(
            "Train a model yourself and watch it learn: the grid shows samples from the **same latents** every "
            "second, so each change is the model's. One training runs at a time on this server; yours waits in line "
            "(its place shows over the samples) and stops if you leave. Then steer your model in the GAN or VAE tab.")
        with gr.Row():
            with gr.Column(scale=2, min_width=280):
                settings = settings_column()
            with gr.Column(scale=3, min_width=320):
                shown = progress_column()
    return TrainTab(**settings, **shown)


def wire(c: TrainTab, gan_picker: gr.Dropdown, vae_picker: gr.Dropdown) -> None:
    """When this changes, that follows."""
    trained = gr.State([])  # this visitor's trained models, most recent last
    # Train: the run streams its progress (progress shown on the grid: the place in line, then the run's time);
    # its model then joins this visitor's GAN or VAE picker.
    c.start.click(train, c.named(SETTINGS), c.named(PROGRESS), api_name="train", preprocess=False,
                  show_progress="full", show_progress_on=[c.grid], **TRAIN
                  ).success(join_pickers, [c.status, trained], [gan_picker, vae_picker, trained], **QUIET)
    # Pause, Resume and Stop steer this visitor's run.
    c.pause.click(for_session(studio.pause), **CONTROL)
    c.resume.click(for_session(studio.resume), **CONTROL)
    c.stop.click(for_session(studio.stop), **CONTROL)
    # A preset sets the run's settings and says what to look for.
    c.preset.change(preset, c.preset, c.named(PRESET_FIELDS) + [c.about], **QUIET)


def tab(gan_picker: gr.Dropdown, vae_picker: gr.Dropdown) -> None:
    wire(layout(), gan_picker, vae_picker)

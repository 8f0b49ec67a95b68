"""Train a small model live: the tutorial's MLP GAN, the DCGAN or the VAE, for seconds to minutes of one CPU thread.

The run is ``python -m aigc.train`` itself (:func:`aigc.train.parse_args`, ``Run`` with a hook), in a thread of
its own: the hook hands an :class:`Update` to the stream about once a second (the fixed-latent sample grid, the
losses, a diversity measure) and obeys the visitor's pause, resume and stop (:class:`Control`).  The budget is
training time, enforced here whatever a client sends; a run whose updates nobody takes for STALL_S seconds (its
visitor left) stops, as does one paused longer than PAUSE_LIMIT_S.  What it holds is bounded: the CLI's model
sizes, a batch of at most MAX_BATCH, a GIF of at most GIF_FRAMES grids, a plot of at most PLOT_POINTS points.

A finished (or stopped) model is kept by name (:func:`keep`), e.g. "trained: mlp-gan bce 60 s #3", and the GAN
and VAE tabs draw with it like any other.
"""

import itertools
import math
import queue
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from PIL import Image

from aigc import train as trainer
from aigc.data import held_out, is_prepared
from aigc.hub import load
from aigc.images import make_grid, save_gif, to_pil
from aigc.studio import MAX_SEED, ZERO_GPU, InputError, integer, number, output_file, shown
from aigc.studio.models import registry

FAMILIES = {"mlp-gan": "the tutorial's MLP GAN", "dcgan": "DCGAN", "vae": "VAE"}
CLI_FAMILIES = {"mlp-gan": "mlp-gan", "dcgan": "gan", "vae": "vae"}  # the family's name in python -m aigc.train
DATASETS = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}
GAN_LOSSES = trainer.GAN_LOSSES
MIN_SECONDS, MAX_SECONDS, DEFAULT_SECONDS = 10, 300, 30
MIN_BATCH, MAX_BATCH, DEFAULT_BATCH = 8, 256, 64
MIN_LR, MAX_LR, DEFAULT_LR = 1e-5, 1e-2, 2e-4
MAX_BETA = 20.0
MAX_MODE_SEEKING = 10.0
UPDATE_S = 1.0  # an update about this often
STALL_S = 10.0  # a run whose updates nobody takes for this long stops: its visitor has left
PAUSE_LIMIT_S = 120.0  # a pause longer than this stops the run, which would hold the one training slot
GIF_FRAMES = 60
PLOT_POINTS = 300
GRID_SCALE = 2
REAL_PICTURES = 1000  # held-out pictures the diversity measure compares with

# name -> settings and what to look for
PRESETS = {
    "The tutorial's GAN": dict(
        family="mlp-gan", dataset="mnist", loss="bce", lr=2e-4, batch=64, seconds=60, mode_seeking=0.0,
        about="The tutorial's exact recipe: an MLP with one hidden layer of 128, BCE, Adam at 2e-4 with β1 0.5. "
              "Look for noise turning into strokes, then into digits, one class a row, while D's and G's losses "
              "settle into a tug of war rather than one of them winning."),
    "Watch it collapse": dict(
        family="mlp-gan", dataset="mnist", loss="bce", lr=3e-3, batch=16, seconds=60, mode_seeking=0.0,
        about="The same GAN at fifteen times the learning rate, on small batches. Look at each row: the eight "
              "pictures of a class soon look alike, whatever their latents (mode collapse); only speckles differ. "
              "Note the diversity, to compare with the next preset's."),
    "Fix it": dict(
        family="mlp-gan", dataset="mnist", loss="bce", lr=3e-3, batch=16, seconds=60, mode_seeking=1.0,
        about="The same collapsing setting, plus MSGAN's mode-seeking term, which rewards the generator for "
              "drawing different pictures from different latents. Look for rows that stay varied, and a diversity "
              "well above the collapsed run's (here, after 40 s: about 1.2 against 0.85)."),
}
_names = itertools.count(1)


@dataclass(frozen=True)
class Settings:
    """A training run's checked settings."""

    family: str
    dataset: str
    loss: str
    lr: float
    batch: int
    seconds: int
    seed: int
    beta: float
    mode_seeking: float

    @property
    def examples(self) -> bool:
        """Whether the run trains on the pictures shipped with the app (no train split is prepared here)."""
        return not is_prepared(self.dataset, "train")

    def argv(self, out: Path) -> list[str]:
        """The command line of ``python -m aigc.train`` for this run: no step limit (the budget or the hook ends
        it), no sample grids or checkpoints on the way; the model goes to ``out``, its checkpoint beside it."""
        argv = [CLI_FAMILIES[self.family], "--data", self.dataset, "--out", str(out),
                "--run-dir", str(out.parent / "run"), "--steps", str(10**9), "--minutes", f"{self.seconds / 60:g}",
                "--batch-size", str(self.batch), "--lr", f"{self.lr:g}", "--seed", str(self.seed),
                "--log-every", str(10**9), "--sample-every", str(10**9), "--checkpoint-every", str(10**9)]
        if self.family == "vae":
            argv += ["--beta", f"{self.beta:g}"]
        else:
            argv += ["--loss", self.loss, "--mode-seeking", f"{self.mode_seeking:g}"]
        return argv + (["--examples"] if self.examples else [])

    def name(self, number: int) -> str:
        """The trained model's name in the pickers, e.g. "trained: mlp-gan bce 60 s #3"."""
        recipe = f"β={self.beta:g}" if self.family == "vae" else self.loss + ("+ms" if self.mode_seeking else "")
        return f"trained: {self.family} {recipe} {self.seconds} s #{number}"


def settings(family="mlp-gan", dataset="mnist", loss="bce", lr=DEFAULT_LR, batch=DEFAULT_BATCH,
             seconds=DEFAULT_SECONDS, seed=0, beta=1.0, mode_seeking=0.0) -> Settings:
    """What a person or client sent -> checked Settings: names must be known, numbers are clamped to their limits."""
    family, dataset = str(family or "mlp-gan").strip().lower(), str(dataset or "mnist").strip().lower()
    if family not in FAMILIES:
        raise InputError(f"Unknown family {shown(family)}; choose one of: {', '.join(FAMILIES)}")
    if dataset not in DATASETS:
        raise InputError(f"Unknown dataset {shown(dataset)}; choose one of: {', '.join(DATASETS)}")
    loss = str(loss or "bce").strip().lower()
    if family != "vae" and loss not in GAN_LOSSES:
        raise InputError(f"Unknown GAN loss {shown(loss)}; choose one of: {', '.join(GAN_LOSSES)}")
    return Settings(family, dataset, "elbo" if family == "vae" else loss,
                    number(lr, "the learning rate", MIN_LR, MAX_LR, DEFAULT_LR),
                    integer(batch, "the batch size", MIN_BATCH, MAX_BATCH, DEFAULT_BATCH),
                    integer(seconds, "the seconds", MIN_SECONDS, MAX_SECONDS, DEFAULT_SECONDS),
                    integer(seed, "the seed", 0, MAX_SEED, 0),
                    number(beta, "β", 0.0, MAX_BETA, 1.0),
                    number(mode_seeking, "the mode-seeking weight", 0.0, MAX_MODE_SEEKING, 0.0))


def data_description(dataset: str) -> str:
    """What a run on ``dataset`` trains on here, in words."""
    name = DATASETS[dataset]
    if is_prepared(dataset, "train"):
        return f"{name}: its train split"
    return f"{name}: the 1,000 pictures shipped with the app (no train split is prepared here)"


class Control:
    """A visitor's hold on their run: pause, resume, stop (from other requests than the run's own)."""

    def __init__(self):
        self.running = threading.Event()
        self.running.set()
        self.stopped = threading.Event()

    def pause(self) -> None:
        self.running.clear()

    def resume(self) -> None:
        self.running.set()

    def stop(self) -> None:
        self.stopped.set()
        self.running.set()


_controls: dict[str, Control] = {}
_controls_lock = threading.Lock()


def pause(session: str) -> None:
    """Pause ``session``'s run, if it has one."""
    if (held := _controls.get(str(session))) is not None:
        held.pause()


def resume(session: str) -> None:
    if (held := _controls.get(str(session))) is not None:
        held.resume()


def stop(session: str) -> None:
    """Stop ``session``'s run early: the model trained so far is kept, as at the end of its budget."""
    if (held := _controls.get(str(session))) is not None:
        held.stop()


@dataclass
class Update:
    """The state of a run, as streamed: the last one has ``done`` set, the trained model and the GIF."""

    name: str
    step: int
    seconds: float
    losses: dict[str, float]
    grid: Image.Image
    diversity: float | None
    history: list[dict] = field(default_factory=list)  # {"step", "seconds", loss name: mean since the last point}
    samples: int = 0  # how many samples the diversity was measured on
    paused: bool = False
    done: bool = False
    model: torch.nn.Module | None = None
    gif: str | None = None

    def status(self) -> dict:
        """The JSON status of the API: {"step", "seconds", "losses", "model"}, with "diversity" and "state"."""
        state = "done" if self.done else "paused" if self.paused else "training"
        return {"step": self.step, "seconds": round(self.seconds, 1), "losses": self.losses, "model": self.name,
                "diversity": self.diversity, "state": state}

    def diversity_text(self, dataset: str) -> str:
        if self.diversity is None:
            return "No diversity measure: the dataset's classifier is not loaded here."
        real = min(REAL_PICTURES, len(held_out(dataset).labels))
        return (f"**Diversity {self.diversity:.2f}**: the within-class spread of the {self.samples} samples in the "
                f"classifier's features, over that of {real:,} held-out pictures (1.0: as varied as real pictures; "
                "near 0: collapsed).")


def classifier_for(dataset: str):
    """The bundled classifier of ``dataset`` if it is loaded, else None (then there is no diversity measure)."""
    return registry().models.get(f"classifier-{dataset}")


def spread(classifier, images: torch.Tensor) -> float:
    """Within-class spread: the mean distance of the classifier's features to their class's centre (classes as
    the classifier sees them), over the classes with two pictures or more."""
    with torch.no_grad():
        features = classifier.features(images).float().cpu()
        classes = classifier.head(features.to(classifier.device)).argmax(1).cpu()
    distances, count = 0.0, 0
    for label in classes.unique():
        members = features[classes == label]
        if len(members) > 1:
            distances += (members - members.mean(0)).norm(dim=1).sum().item()
            count += len(members)
    return distances / count if count else 0.0


_real_spreads: dict[str, float] = {}


def diversity(dataset: str, samples: torch.Tensor) -> float | None:
    """The samples' within-class spread over that of REAL_PICTURES held-out pictures: 1.0 is as varied as real
    pictures, near 0 a collapse (every picture of a class alike).  None without the dataset's classifier."""
    classifier = classifier_for(dataset)
    if classifier is None:
        return None
    if dataset not in _real_spreads:
        _real_spreads[dataset] = spread(classifier, held_out(dataset).images[:REAL_PICTURES])
    return round(spread(classifier, samples) / max(_real_spreads[dataset], 1e-8), 3)


def train(family="mlp-gan", dataset="mnist", loss="bce", lr=DEFAULT_LR, batch=DEFAULT_BATCH, seconds=DEFAULT_SECONDS,
          seed=0, beta=1.0, mode_seeking=0.0, session: str | None = None) -> Iterator[Update]:
    """Train, streaming an Update about every UPDATE_S seconds; the last one (``done``) holds the model.

    :func:`pause`, :func:`resume` and :func:`stop` of ``session`` steer the run.  Closing the generator, or taking
    no update for STALL_S seconds, stops it.
    """
    run = settings(family, dataset, loss, lr, batch, seconds, seed, beta, mode_seeking)
    hold = Control()
    if session is not None:
        with _controls_lock:
            _controls[str(session)] = hold
    name = run.name(next(_names))
    updates: queue.Queue = queue.Queue(maxsize=1)
    outcome: dict = {}
    history: list[dict] = []
    frames = Frames()
    closed = threading.Event()  # the stream is closed: nobody will take an update again

    def send(update: Update | None) -> bool:
        """Hand an update to the stream; False if it is closed, or nobody took the last one for STALL_S seconds."""
        deadline = time.monotonic() + STALL_S
        while not closed.is_set() and time.monotonic() < deadline:
            try:
                updates.put(update, timeout=0.2)
                return True
            except queue.Full:
                pass
        return False

    def grid_and_diversity(preview: trainer.Preview) -> tuple[Image.Image, float | None]:
        return to_pil(make_grid(preview.grid, preview.nrow), GRID_SCALE), diversity(run.dataset, preview.samples)

    clock = {"last": -math.inf, "sums": {}, "count": 0, "trained": 0.0, "means": {}}

    def hook(step: int, losses: dict[str, float], preview) -> bool:
        clock["preview"] = preview
        if hold.stopped.is_set():
            return False
        for key, value in losses.items():
            clock["sums"][key] = clock["sums"].get(key, 0.0) + value
        clock["count"] += 1
        now = time.perf_counter()
        clock.setdefault("started", now)
        if now - clock["last"] < UPDATE_S and step > 1:
            return not hold.stopped.is_set()
        means = clock["means"] = {key: round(total / clock["count"], 4) for key, total in clock["sums"].items()}
        clock["sums"], clock["count"] = {}, 0
        clock["trained"] += now - max(clock["last"], clock["started"])
        history.append({"step": step, "seconds": round(clock["trained"], 1), **means})
        if len(history) > PLOT_POINTS:
            del history[1::2]
        shown = preview()
        grid, measured = grid_and_diversity(shown)
        frames.add(grid)
        update = Update(name, step, clock["trained"], means, grid, measured, list(history), len(shown.samples))
        if not send(update):
            return False
        paused_at = time.perf_counter()
        while not hold.running.wait(UPDATE_S):  # paused: the stream still hears from the run every second
            if time.perf_counter() - paused_at > PAUSE_LIMIT_S or not send(replace(update, paused=True)):
                return False
        clock["last"] = time.perf_counter()
        return not hold.stopped.is_set()

    def work() -> None:
        try:
            with tempfile.TemporaryDirectory(prefix="aigc-train-") as folder:
                args = trainer.parse_args(run.argv(Path(folder) / "model"))
                progress = trainer.Run(args, hook)
                trainer.TRAINERS[args.family](args, progress)
                outcome["preview"] = clock["preview"]()
                outcome["model"] = load(str(args.out), device="cpu" if ZERO_GPU else None).eval()
                outcome["steps"], outcome["seconds"] = progress.step, progress.elapsed
        except BaseException as e:  # the stream raises it
            outcome["error"] = e
        finally:
            send(None)

    thread = threading.Thread(target=work, name="aigc-train", daemon=True)
    thread.start()
    try:
        while (update := updates.get()) is not None:
            yield update
        if "error" in outcome:
            raise outcome["error"]
        grid, measured = grid_and_diversity(outcome["preview"])
        frames.add(grid, last=True)
        yield Update(name, outcome["steps"], outcome["seconds"], clock["means"], grid, measured, list(history),
                     len(outcome["preview"].samples), done=True, model=outcome["model"],
                     gif=str(save_gif(frames.kept, output_file(".gif"), duration_ms=120)))
    finally:
        closed.set()  # a stream closed early (its visitor left) ends the run
        hold.stop()
        with _controls_lock:
            if _controls.get(str(session)) is hold:
                del _controls[str(session)]


class Frames:
    """The GIF's frames: past GIF_FRAMES, every other one goes, and from then on only every other one offered is
    kept, so that the GIF stays evenly spaced in time (the last one is always kept)."""

    def __init__(self):
        self.kept: list = []
        self.stride, self.offered = 1, 0

    def add(self, frame, last: bool = False) -> None:
        if self.offered % self.stride == 0 or last:
            self.kept.append(frame)
            if len(self.kept) > GIF_FRAMES:
                del self.kept[1::2]
                self.stride *= 2
        self.offered += 1


def keep(name: str, model: torch.nn.Module) -> str:
    """Keep a trained model under ``name`` for the GAN and VAE tabs -> the name."""
    registry().add_trained(name, model)
    return name

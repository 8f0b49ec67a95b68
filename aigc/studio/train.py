"""Train a small model live: the tutorial's MLP GAN, the DCGAN or the VAE, for seconds to minutes of one CPU thread.

The run is ``python -m aigc.train`` itself (:func:`aigc.train.parse_args`, ``Run`` with a hook), in a thread of
its own: the hook hands an :class:`Update` to the stream about once a second (the fixed-latent sample grid, the
losses, a diversity measure) and obeys the visitor's pause, resume and stop (:class:`Control`).  The budget is
training time, enforced here whatever a client sends; a run whose updates nobody takes for STALL_S seconds (its
visitor left) stops, as does one paused longer than PAUSE_LIMIT_S.  What it holds is bounded: the CLI's model
sizes, a batch of at most MAX_BATCH, a GIF of at most GIF_FRAMES grids, a plot of at most PLOT_POINTS points; and
a run during which the server's memory grows past MEMORY_CAP_MB stops with a message (:class:`MemoryCap`).

A finished (or stopped) model is kept by name (:func:`keep`), e.g. "trained: mlp-gan bce 60 s #3", and the GAN
and VAE tabs draw with it like any other.
"""

import functools
import itertools
import os
import queue
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
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
DIVERSITY_BLUR = 4  # the diversity measure compares pictures at 28/4 = 7x7 pixels
REAL_GROUPS = 80  # groups of held-out pictures the diversity of samples is compared with
MEMORY_CAP_MB = 1_500  # how much the server's memory may grow while a run trains (MemoryCap)

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
              "The diversity falls to about 0.3 within seconds and stays there: compare it with the next preset's."),
    "Fix it": dict(
        family="mlp-gan", dataset="mnist", loss="bce", lr=3e-3, batch=16, seconds=60, mode_seeking=1.0,
        about="The same collapsing setting, plus MSGAN's mode-seeking term, which rewards the generator for "
              "drawing different pictures from different latents. Look for rows that stay varied, and a diversity "
              "twice the collapsed run's (here, from 5 s to 40 s: 0.65 to 0.8, against 0.35 to 0.27)."),
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


@dataclass(frozen=True)
class Diversity:
    """How varied a grid's samples are, next to real pictures, with what it was measured on."""

    value: float
    samples: int  # samples measured
    group: int  # pictures a group: a GAN's row of one class, or a VAE's samples of the prior
    per_class: bool
    groups: int  # groups of real pictures compared with
    real: int  # held-out pictures those were drawn from
    side: int  # pixels a side of the blurred pictures compared

    def text(self) -> str:
        if self.per_class:
            what = (f"how different the {self.group} pictures of a row are (a row a class; {self.samples} samples), "
                    f"over how different {self.group} real pictures of one class are")
        else:
            what = (f"how different the {self.samples} samples of the prior are, over how different "
                    f"{self.group} real pictures are")
        return (f"**Diversity {self.value:.2f}**: {what} ({self.groups} groups drawn from {self.real:,} held-out "
                f"pictures), all blurred to {self.side}×{self.side} so that speckles do not count. 1.0: as varied as "
                "real pictures; near 0: every picture of a group alike (mode collapse).")


def spread(pictures: torch.Tensor, group: int) -> float:
    """The mean distance between two pictures of a group (consecutive ``group`` pictures), blurred by
    DIVERSITY_BLUR: noise averages out, a different shape does not."""
    blurred = F.avg_pool2d(pictures.float(), DIVERSITY_BLUR).flatten(1)
    return torch.stack([torch.pdist(members).mean() for members in blurred.split(group)]).mean().item()


@functools.lru_cache(maxsize=None)
def real_groups(dataset: str, group: int, per_class: bool) -> torch.Tensor:
    """REAL_GROUPS groups of ``group`` held-out pictures drawn at random (of one class each if ``per_class``),
    the same every time: the yardstick of :func:`diversity`."""
    pictures = held_out(dataset)
    generator = torch.Generator().manual_seed(0)
    if not per_class:
        count = min(REAL_GROUPS, len(pictures.labels) // group) * group
        return pictures.images[torch.randperm(len(pictures.labels), generator=generator)[:count]]
    classes = pictures.labels.unique()
    chosen = []
    for draw in range(REAL_GROUPS):
        members = (pictures.labels == classes[draw % len(classes)]).nonzero().squeeze(1)
        chosen.append(members[torch.randperm(len(members), generator=generator)[:group]])
    return pictures.images[torch.cat(chosen)]


def diversity(dataset: str, samples: torch.Tensor, group: int, per_class: bool) -> Diversity:
    """How different the samples of a group are over how different real pictures are: 1.0 is as varied as real
    pictures, 0 every group one picture (mode collapse).  A GAN's grid has a row of ``group`` a class
    (``per_class``); a VAE's samples of the prior are one group.  Blurred, speckles of noise do not count, and a
    collapsed row reads near 0.3 where a varied one reads near 0.7 (the presets, 10 s)."""
    real = real_groups(dataset, group, per_class)
    value = spread(samples, group) / max(spread(real, group), 1e-8)
    return Diversity(round(value, 3), len(samples), group, per_class, len(real) // group,
                     len(held_out(dataset).labels), real.shape[-1] // DIVERSITY_BLUR)


def resident_mb() -> float | None:
    """This process's resident memory now, in MB; None where /proc is absent (then no cap is checked)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class MemoryCap:
    """The memory one run may take: the process's resident memory may grow by MEMORY_CAP_MB while it runs.

    It is the whole process's growth (the allocator cannot tell whose a page is), so other visitors' requests
    count too; the cap leaves room for them above the largest run measured (+974 MB: a DCGAN, WGAN-GP,
    batch 256, the full Fashion-MNIST loaded for the first time)."""

    def __init__(self):
        self.start = resident_mb()
        self.grown = 0.0

    def exceeded(self) -> bool:
        now = resident_mb()
        if self.start is None or now is None:
            return False
        self.grown = max(self.grown, now - self.start)
        return self.grown > MEMORY_CAP_MB

    def message(self, step: int) -> str:
        return (f"The training stopped at step {step}: the server's memory grew by {self.grown:,.0f} MB while "
                f"it ran, over the {MEMORY_CAP_MB:,} MB a training may take here. A smaller batch needs less.")


@dataclass
class Update:
    """The state of a run, as streamed: the last one has ``done`` set, the trained model and the GIF."""

    name: str
    step: int
    seconds: float
    losses: dict[str, float]
    grid: Image.Image
    diversity: Diversity
    history: list[dict] = field(default_factory=list)  # {"step", "seconds", loss name: mean since the last point}
    paused: bool = False
    done: bool = False
    model: torch.nn.Module | None = None
    gif: str | None = None

    def status(self) -> dict:
        """The JSON status of the API: {"step", "seconds", "losses", "model"}, with "diversity" and "state"."""
        state = "done" if self.done else "paused" if self.paused else "training"
        return {"step": self.step, "seconds": round(self.seconds, 1), "losses": self.losses, "model": self.name,
                "diversity": self.diversity.value, "state": state}


class LiveRun:
    """One run: the hook that sees every step of ``python -m aigc.train`` in the run's thread, and the stream
    of Updates it hands to the request, one about every UPDATE_S seconds."""

    def __init__(self, run: Settings, hold: Control):
        self.run, self.hold = run, hold
        self.name = run.name(next(_names))
        self.updates: queue.Queue = queue.Queue(maxsize=1)
        self.closed = threading.Event()  # the stream is closed: nobody will take an update again
        self.history: list[dict] = []
        self.frames = Frames()
        self.memory = MemoryCap()
        self.sums: dict[str, float] = {}
        self.count = 0
        self.means: dict[str, float] = {}
        self.trained = 0.0  # training seconds at the last update
        self.started = self.last = None  # perf_counter at the first step, and when the last update was taken
        self.preview = None
        self.outcome: dict = {}

    def send(self, update: Update | None) -> bool:
        """Hand an update to the stream; False if it is closed, or nobody took the last one for STALL_S seconds."""
        deadline = time.monotonic() + STALL_S
        while not self.closed.is_set() and time.monotonic() < deadline:
            try:
                self.updates.put(update, timeout=0.2)
                return True
            except queue.Full:
                pass
        return False

    def show(self, preview: trainer.Preview) -> tuple[Image.Image, Diversity]:
        """The grid as a picture, and its diversity (a GAN's rows are its classes)."""
        gan = self.run.family != "vae"
        group = preview.nrow if gan else len(preview.samples)
        return (to_pil(make_grid(preview.grid, preview.nrow), GRID_SCALE),
                diversity(self.run.dataset, preview.samples, group, per_class=gan))

    def hook(self, step: int, losses: dict[str, float], preview) -> bool:
        """After every step: stop if asked; about every UPDATE_S s, stop if over the memory cap, else an update."""
        self.preview = preview
        if self.hold.stopped.is_set():
            return False
        for key, value in losses.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count += 1
        now = time.perf_counter()
        self.started = self.started or now
        if self.last is not None and now - self.last < UPDATE_S:
            return True
        if self.memory.exceeded():  # reading the memory takes ~0.5 ms: once an update, not every step
            self.outcome["error"] = InputError(self.memory.message(step))
            return False
        self.means = {key: round(total / self.count, 4) for key, total in self.sums.items()}
        self.sums, self.count = {}, 0
        self.trained += now - (self.last or self.started)
        self.history.append({"step": step, "seconds": round(self.trained, 1), **self.means})
        if len(self.history) > PLOT_POINTS:
            del self.history[1::2]
        grid, measured = self.show(preview())
        self.frames.add(grid)
        update = Update(self.name, step, self.trained, self.means, grid, measured, list(self.history))
        if not self.send(update) or not self.wait_while_paused(update):
            return False
        self.last = time.perf_counter()
        return not self.hold.stopped.is_set()

    def wait_while_paused(self, update: Update) -> bool:
        """Hold the run while it is paused, the stream still hearing from it every second; False: stop it."""
        paused_at = time.perf_counter()
        while not self.hold.running.wait(UPDATE_S):
            if time.perf_counter() - paused_at > PAUSE_LIMIT_S or not self.send(replace(update, paused=True)):
                return False
        return True

    def work(self) -> None:
        """The run's thread: ``python -m aigc.train`` with the hook, then the model it wrote, loaded."""
        try:
            with tempfile.TemporaryDirectory(prefix="aigc-train-") as folder:
                args = trainer.parse_args(self.run.argv(Path(folder) / "model"))
                progress = trainer.Run(args, self.hook)
                trainer.TRAINERS[args.family](args, progress)
                if "error" not in self.outcome:
                    self.outcome["model"] = load(str(args.out), device="cpu" if ZERO_GPU else None).eval()
                    self.outcome["steps"], self.outcome["seconds"] = progress.step, progress.elapsed
        except BaseException as e:  # the stream raises it
            self.outcome["error"] = e
        finally:
            self.send(None)

    def stream(self) -> Iterator[Update]:
        """The updates as the thread hands them over, then the last one, with the model and the GIF."""
        threading.Thread(target=self.work, name="aigc-train", daemon=True).start()
        try:
            while (update := self.updates.get()) is not None:
                yield update
            if "error" in self.outcome:
                raise self.outcome["error"]
            grid, measured = self.show(self.preview())
            self.frames.add(grid, last=True)
            yield Update(self.name, self.outcome["steps"], self.outcome["seconds"], self.means, grid, measured,
                         list(self.history), done=True, model=self.outcome["model"],
                         gif=str(save_gif(self.frames.kept, output_file(".gif"), duration_ms=120)))
        finally:
            self.closed.set()  # a stream closed early (its visitor left) ends the run
            self.hold.stop()


def train(family="mlp-gan", dataset="mnist", loss="bce", lr=DEFAULT_LR, batch=DEFAULT_BATCH, seconds=DEFAULT_SECONDS,
          seed=0, beta=1.0, mode_seeking=0.0, session: str | None = None) -> Iterator[Update]:
    """Train, streaming an Update about every UPDATE_S seconds; the last one (``done``) holds the model.

    :func:`pause`, :func:`resume` and :func:`stop` of ``session`` steer the run.  Closing the generator, or taking
    no update for STALL_S seconds, stops it; so does memory growing past MEMORY_CAP_MB (an InputError says so).
    """
    hold = Control()
    live = LiveRun(settings(family, dataset, loss, lr, batch, seconds, seed, beta, mode_seeking), hold)
    if session is not None:
        with _controls_lock:
            _controls[str(session)] = hold
    try:
        yield from live.stream()
    finally:
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

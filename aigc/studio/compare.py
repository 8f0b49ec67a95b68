"""The Compare tab: samples of every model of one dataset side by side, one class a row, and their metrics.

Conditional GANs are asked for each class.  A VAE cannot be asked for a class,
so its prior samples are sorted into rows by the dataset's classifier (a row
with gaps is a class the VAE rarely draws).  Its reconstructions are of the
same held-out images that the "real" grid shows.

Beside the pictures: the stored metrics table, a reading of it written from its
numbers (:func:`reading`), each model's training curves
(:func:`training_curves`), and the same metrics measured again, live, on fewer
samples (:func:`measure`), with how far they are from the stored figures.
"""

import json
import math
from dataclasses import dataclass, field

import torch
from PIL import Image

from aigc.data import CLASS_NAMES, DATASETS, held_out
from aigc.evaluate import batched, sample_metrics
from aigc.hub import bundled_file
from aigc.images import make_grid, to_pil
from aigc.studio import MAX_SEED, InputError, figures, integer, shown
from aigc.studio.models import GAN_TYPES, family, registry, stored_metrics

PER_CLASS = 8  # columns of every grid
VAE_POOL = 40  # prior samples drawn per class, for the classifier to sort
SCALE = 2
METRICS = [  # (column, key in metrics.json, format)
    ("FID ↓", "fid", "{:.1f}"),
    ("IS ↑", "inception_score", "{:.2f}"),
    ("Precision ↑", "precision", "{:.3f}"),
    ("Recall ↑", "recall", "{:.3f}"),
    ("Class accuracy ↑", "class_accuracy", "{:.1%}"),
    ("ELBO (nats) ↑", "elbo_nats", "{:.1f}"),
]
MISSING = "—"


@dataclass
class Comparison:
    panels: list[tuple[Image.Image, str]]  # (grid, caption)
    headers: list[str]
    rows: list[list[str]]  # one a model
    notes: list[str]
    metrics: list[dict] = field(default_factory=list)  # one a row: {"model": name, metric key: number, ...}


def real_rows(dataset: str, seed: int) -> torch.Tensor:
    """PER_CLASS test images of each class, in class order, [classes * PER_CLASS, 1, 28, 28]: from the whole test
    split where it is here, else from the examples shipped with the app."""
    images = held_out(dataset)
    generator = torch.Generator().manual_seed(seed)
    picks = []
    for c in range(len(CLASS_NAMES[dataset])):
        of_class = (images.labels == c).nonzero()[:, 0]
        picks.append(of_class[torch.randperm(len(of_class), generator=generator)[:PER_CLASS]])
    return images.images[torch.cat(picks)]


def by_class(images: torch.Tensor, predicted: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Up to PER_CLASS images of each predicted class, one class a row; empty places stay blank."""
    rows = torch.zeros(num_classes, PER_CLASS, *images.shape[1:])
    for c in range(num_classes):
        chosen = images[predicted == c][:PER_CLASS]
        rows[c, : len(chosen)] = chosen.cpu()
    return rows.flatten(0, 1)


def grid(images: torch.Tensor) -> Image.Image:
    return to_pil(make_grid(images.cpu(), PER_CLASS), SCALE)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def formatted(key: str, value) -> str:
    """A metric as the table shows it; MISSING where there is no number."""
    fmt = next((fmt for _, k, fmt in METRICS if k == key), "{:.3g}")
    return fmt.format(value) if is_number(value) else MISSING


def metrics_row(name: str, model: torch.nn.Module) -> list[str]:
    metrics = stored_metrics(name)
    return [name, family(name, model), *(formatted(key, metrics.get(key)) for _, key, _ in METRICS)]


def metric_values(name: str, metrics: dict) -> dict:
    """{"model": name, key: number} for the table's metrics that are numbers; the rest are left out."""
    return {"model": name, **{key: metrics[key] for _, key, _ in METRICS if is_number(metrics.get(key))}}


def check_dataset(dataset) -> None:
    if not isinstance(dataset, str) or dataset not in DATASETS:
        raise InputError(f"Unknown dataset {shown(dataset)}; choose one of: {', '.join(DATASETS)}")


def shared_state(dataset="mnist", seed=0) -> dict:
    """The fields of a share link to a comparison, checked."""
    check_dataset(dataset)
    return {"dataset": dataset, "seed": integer(seed, "seed", 0, MAX_SEED, 0)}


@torch.inference_mode()
def compare(dataset: str = "mnist", seed=0) -> Comparison:
    """Sample grids of every loaded model of ``dataset`` under one seed, and the stored metrics table."""
    check_dataset(dataset)
    seed = integer(seed, "seed", 0, MAX_SEED, 0)
    models = registry()
    num_classes = len(CLASS_NAMES[dataset])
    labels = torch.arange(num_classes).repeat_interleave(PER_CLASS)
    real = real_rows(dataset, seed)
    classifiers = models.of_dataset(dataset, "classifier")
    panels, rows, values = [], [], []
    notes = [f"Rows, top to bottom: {', '.join(CLASS_NAMES[dataset])}."]

    for name in [name for kind in GAN_TYPES for name in models.of_dataset(dataset, kind)]:  # DCGAN first
        gan = models.models[name]
        z = torch.randn(len(labels), gan.config.latent_dim, generator=torch.Generator().manual_seed(seed))
        panels.append((grid(gan.generate(z, labels.to(gan.device))), f"{name} ({family(name, gan)}): samples, "
                       "one class a row"))
        rows.append(metrics_row(name, gan))
        values.append(metric_values(name, stored_metrics(name)))
    for name in models.of_dataset(dataset, "vae"):
        vae = models.models[name]
        count = num_classes * VAE_POOL if classifiers else len(labels)
        samples = vae.decode(vae.sample_latents(count, torch.Generator().manual_seed(seed)))
        if classifiers:
            classifier = models.models[classifiers[0]]
            samples = by_class(samples, classifier(samples).argmax(1).cpu(), num_classes)
            caption = f"{name}: samples, in rows by {classifiers[0]}'s guess of their class"
        else:
            caption = f"{name}: samples (any class)"
        panels.append((grid(samples), caption))
        panels.append((grid(vae.decode(vae.encode(real.to(vae.device))[0])), f"{name}: reconstructions"))
        rows.append(metrics_row(name, vae))
        values.append(metric_values(name, stored_metrics(name)))
    if classifiers and models.of_dataset(dataset, "vae"):
        notes.append(f"A VAE cannot be asked for a class: its samples are sorted into rows by {classifiers[0]}'s "
                     "guess (an empty row is a class it rarely draws), and it reconstructs the real images shown last.")
    panels.append((grid(real), "real: held-out test images"))
    if not held_out(dataset).complete:
        notes.append(f"The real images are drawn from {held_out(dataset).description}.")
    features = {stored_metrics(row[0]).get("features") for row in rows} - {None}
    if features:
        notes.append(f"FID, IS, precision and recall are measured against the held-out images in the feature space "
                     f"of {', '.join(sorted(features))}; each model's card says how.")
    unavailable = [name for name in models.errors if dataset in name]  # by name: unloaded; the log says why
    if unavailable:
        notes.append("Not available on this server: " + ", ".join(unavailable) + ".")
    headers = ["Model", "Family", *(column for column, _, _ in METRICS)]
    return Comparison(panels, headers, rows, notes, values)


# --- a reading of the table, written from its numbers ---------------------------------------------

COLLAPSE_RECALL = 0.2  # below this recall a generator covers little of the data
COLLAPSE_RATIO = 3  # ... or when its precision is more than this many times its recall


def value_of(row: dict, key: str) -> float | None:
    value = row.get(key)
    return float(value) if is_number(value) else None


def reading(rows: list[dict]) -> str:
    """A few sentences on a metrics table (see :func:`reading_sentences`), as one paragraph."""
    return " ".join(reading_sentences(rows))


def reading_sentences(rows: list[dict]) -> list[str]:
    """Sentences on a metrics table, each following from its numbers.

    ``rows``: one a model, ``{"model": name, "fid": ..., "precision": ..., ...}``
    (the keys of METRICS); missing or non-numeric figures are skipped.  Which
    model is closest to the data (FID) and sharpest (precision), which covers
    most of it (recall), where mode collapse shows (recall below
    COLLAPSE_RECALL, or far below precision), and which keeps the class best.
    """
    rows = [row for row in rows if isinstance(row, dict) and row.get("model")]
    sentences = [sentence for part in (on_fid, on_precision, on_recall, on_collapse, on_class)
                 for sentence in part(rows)]
    return sentences or ["No metrics are stored for these models yet."]


def having(rows: list[dict], key: str) -> list[tuple[str, float]]:
    """(model, value) of the rows that have a number for ``key``."""
    return [(row["model"], value_of(row, key)) for row in rows if value_of(row, key) is not None]


def lowest_fid(rows: list[dict]) -> tuple[str, float] | None:
    fids = having(rows, "fid")
    return min(fids, key=lambda item: item[1]) if fids else None


def on_fid(rows: list[dict]) -> list[str]:
    fids, best = having(rows, "fid"), lowest_fid(rows)
    if len(fids) == 1:
        return [f"Only **{best[0]}** has an FID ({formatted('fid', best[1])}), so there is nothing to compare it with."]
    if not fids:
        return []
    worst = max(fids, key=lambda item: item[1])
    if worst[1] == best[1]:
        return [f"All {len(fids)} models have the same FID ({formatted('fid', best[1])})."]
    return [f"**{best[0]}** is closest to the real images overall (lowest FID, {formatted('fid', best[1])}); "
            f"**{worst[0]}** is furthest ({formatted('fid', worst[1])})."]


def on_precision(rows: list[dict]) -> list[str]:
    precisions = having(rows, "precision")
    if len(precisions) < 2:
        return []
    sharpest = max(precisions, key=lambda item: item[1])
    best_fid = lowest_fid(rows)
    also = " also" if best_fid and sharpest[0] == best_fid[0] and len(having(rows, "fid")) >= 2 else ""
    return [f"**{sharpest[0]}** is{also} the sharpest: the highest precision "
            f"({formatted('precision', sharpest[1])}), the share of its samples that land among real images."]


def on_recall(rows: list[dict]) -> list[str]:
    recalls = having(rows, "recall")
    if len(recalls) < 2:
        return []
    widest, narrowest = max(recalls, key=lambda item: item[1]), min(recalls, key=lambda item: item[1])
    if widest[1] == narrowest[1]:
        return [f"All {len(recalls)} models cover the data equally (recall {formatted('recall', widest[1])})."]
    return [f"**{widest[0]}** covers the most of the data (highest recall, {formatted('recall', widest[1])}), "
            f"**{narrowest[0]}** the least ({formatted('recall', narrowest[1])})."]


def on_collapse(rows: list[dict]) -> list[str]:
    """Mode collapse (little recall, or far less than precision), and samples that are poor on both counts."""
    collapsed, poor = [], []
    for row in rows:
        precision, recall = value_of(row, "precision"), value_of(row, "recall")
        if precision is None or recall is None:
            continue
        if recall < COLLAPSE_RECALL and precision < COLLAPSE_RECALL:
            poor.append((recall, -precision, row["model"], precision))
        elif recall < COLLAPSE_RECALL or recall * COLLAPSE_RATIO < precision:
            collapsed.append((recall, -precision, row["model"], precision))
    sentences = []
    if collapsed:
        named = precision_and_recall(collapsed)
        sentences.append(f"Mode collapse shows in {join(named)}: {'its' if len(named) == 1 else 'their'} samples "
                         f"miss whole parts of the data (recall under {COLLAPSE_RECALL}, or under a third of "
                         "precision).")
    if poor:
        named = precision_and_recall(poor)
        sentences.append(f"{join(named)} neither {'looks' if len(named) == 1 else 'look'} like the data nor "
                         "covers it.")
    return sentences


def precision_and_recall(models: list[tuple]) -> list[str]:
    """(recall, -precision, name, precision) items, lowest recall first -> "**name** (precision .., recall ..)"."""
    return [f"**{name}** (precision {formatted('precision', precision)}, recall {formatted('recall', recall)})"
            for recall, _, name, precision in sorted(models)]


def on_class(rows: list[dict]) -> list[str]:
    accuracies = having(rows, "class_accuracy")
    if not accuracies:
        return []
    best = max(accuracies, key=lambda item: item[1])
    others = [f"{name} {formatted('class_accuracy', value)}"
              for name, value in sorted(accuracies, key=lambda item: -item[1]) if name != best[0]]
    if not others:
        return [f"{formatted('class_accuracy', best[1])} of **{best[0]}**'s samples are classified as the class "
                "asked for."]
    return [f"**{best[0]}** keeps the class best: {formatted('class_accuracy', best[1])} of its samples are "
            f"classified as the class asked for ({', '.join(others)})."]


def join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- training curves ------------------------------------------------------------------------------

SECONDARY = ("kl", "acc")  # small figures beside large losses: drawn against a right-hand axis
CURVE_COLUMNS = 4


def generator_names(dataset: str) -> list[str]:
    """The loaded GANs (DCGAN first) and VAEs of a dataset, in the table's order."""
    models = registry()
    return [name for kind in (*GAN_TYPES, "vae") for name in models.of_dataset(dataset, kind)]


def training_history(name: str) -> list[dict]:
    """The "history" of a bundled model's training_log.json (in weights/NAME or the Hub cache):
    [{"step": ..., "loss": ...}, ...]; [] if there is none."""
    path = bundled_file(name, "training_log.json")
    try:
        log = json.loads(path.read_text()) if path else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    history = log.get("history") if isinstance(log, dict) else None
    if not isinstance(history, list):
        return []
    return [entry for entry in history if isinstance(entry, dict) and is_number(entry.get("step"))]


def training_curves_text(dataset: str = "mnist") -> str:
    """What :func:`training_curves` draws, in words: the picture's text alternative."""
    check_dataset(dataset)
    drawn = [name for name in generator_names(dataset) if training_history(name)]
    if not drawn:
        return "No training curves: none of these models has a training log."
    return f"Training curves of {join(drawn)}, one panel a model: each of its losses against the training step."


def training_curves(dataset: str = "mnist", names: list[str] | None = None) -> Image.Image | None:
    """Losses against steps from each model's training log, one panel a model; None if no model has a log."""
    check_dataset(dataset)
    histories = {name: training_history(name) for name in (generator_names(dataset) if names is None else names)}
    histories = {name: history for name, history in histories.items() if history}
    if not histories:
        return None
    columns = min(len(histories), CURVE_COLUMNS)
    lines = math.ceil(len(histories) / columns)
    figure = figures.new_figure((3.6 * columns, 2.8 * lines))  # transparent, drawn in the page's theme
    axes = figure.subplots(lines, columns, squeeze=False).flatten()
    for ax, (name, history) in zip(axes, histories.items()):
        figures.styled(ax)
        keys = [key for key in history[0] if key != "step" and is_number(history[0][key])]
        steps = [entry["step"] for entry in history]
        handles, twin = [], None
        for key in keys:
            series = [entry[key] if is_number(entry.get(key)) else math.nan for entry in history]
            if key in SECONDARY:
                twin = twin or ax.twinx()
                handles += twin.plot(steps, series, "--", color="tab:gray", label=f"{key} (right)")
            else:
                handles += ax.plot(steps, series, label=key)
        ax.set_title(name, fontsize=10, pad=16)
        ax.set_xlabel("step", fontsize=8)
        ax.set_ylabel("loss", fontsize=8)
        ax.tick_params(labelsize=7)
        if twin is not None:
            twin.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        # above the plot, under the title: no curve is ever hidden behind it
        ax.legend(handles=handles, fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles),
                  frameon=False, borderaxespad=0.1, handlelength=1.5, columnspacing=1.0)
    for ax in axes[len(histories):]:
        ax.set_visible(False)
    figure.tight_layout()
    return figures.picture(figure)


# --- measuring again, live ------------------------------------------------------------------------

MIN_SAMPLES, MAX_SAMPLES, DEFAULT_SAMPLES = 200, 2000, 500
LIVE_METRICS = ("fid", "inception_score", "precision", "recall", "class_accuracy")
LIVE_HEADERS = ["Model", "Metric", "Stored", "Live", "Δ (live − stored)"]
BATCH = 500


@dataclass
class Measurement:
    """Where a live measurement stands: ``done`` of ``total`` models measured so far."""
    done: int
    total: int
    samples: int
    real: str  # the held-out images the samples are compared with, in words: "the 1,000 test images"
    rows: list[list[str]]  # under LIVE_HEADERS, one a (model, metric)
    values: list[dict]  # one a measured model, as reading() takes them
    current: str | None  # the model being measured next, None when all are done


def delta(key: str, live, stored) -> str:
    if not (is_number(live) and is_number(stored)):
        return MISSING
    difference = live - stored
    if key == "class_accuracy":
        return f"{difference * 100:+.1f} pp"
    fmt = next(fmt for _, k, fmt in METRICS if k == key)
    return fmt.replace("{:", "{:+").format(difference)


def live_rows(name: str, live: dict, stored: dict) -> list[list[str]]:
    labels = {key: column for column, key, _ in METRICS}
    return [[name, labels[key], formatted(key, stored.get(key)), formatted(key, live.get(key)),
             delta(key, live.get(key), stored.get(key))]
            for key in LIVE_METRICS if key in live]


class HeldOutFeatures:
    """The classifier's features of each dataset's held-out images, worked out once.

    sample_metrics would work them out on every call (the slow part on a CPU:
    10,000 Fashion-MNIST images); measuring several models in a row needs them
    once.  Kept by dataset and number of images (the whole test split, or the
    examples shipped with the app); a classifier loaded again works them out again.
    """

    def __init__(self):
        self._cache: dict[tuple[str, int], tuple[torch.nn.Module, torch.Tensor]] = {}

    def __call__(self, dataset: str, classifier: torch.nn.Module, real: torch.Tensor) -> torch.Tensor:
        key = (dataset, len(real))
        cached = self._cache.get(key)
        if cached is None or cached[0] is not classifier:  # the entry keeps its classifier alive: no id is reused
            self._cache[key] = cached = (classifier, batched(classifier.features, real))
        return cached[1]


HELD_OUT_FEATURES = HeldOutFeatures()  # for the process


@torch.inference_mode()
def live_metrics(name: str, dataset: str, samples: int, seed: int) -> dict:
    """aigc.evaluate's metrics of one loaded generator on ``samples`` fresh samples (drawn as evaluate draws them)."""
    models = registry()
    model = models.models[name]
    classifier = models.models[models.of_dataset(dataset, "classifier")[0]]
    generator = torch.Generator().manual_seed(seed)
    if models.kinds[name] in GAN_TYPES:
        z = torch.randn(samples, model.config.latent_dim, generator=generator)
        labels = torch.arange(samples) % model.config.num_classes  # every class equally often
        images = torch.cat([model.generate(z[i : i + BATCH].to(model.device), labels[i : i + BATCH].to(model.device))
                            .cpu() for i in range(0, samples, BATCH)])
    else:
        z = model.sample_latents(samples, generator)
        labels = None  # as evaluate measures a VAE: the class of its samples is not scored
        images = torch.cat([model.decode(z[i : i + BATCH].to(model.device)).cpu() for i in range(0, samples, BATCH)])
    real = held_out(dataset).images
    return sample_metrics(images, labels, dataset, classifier, real, HELD_OUT_FEATURES(dataset, classifier, real))


def measure(dataset: str = "mnist", samples=DEFAULT_SAMPLES, seed=0):
    """Measure every generator of ``dataset`` again on ``samples`` samples (clamped to MIN_SAMPLES..MAX_SAMPLES).

    Yields a :class:`Measurement` before the first model and after each one,
    so a caller can show the table growing.
    """
    check_dataset(dataset)
    samples = integer(samples, "samples", MIN_SAMPLES, MAX_SAMPLES, DEFAULT_SAMPLES)
    seed = integer(seed, "seed", 0, MAX_SEED, 0)
    if not registry().of_dataset(dataset, "classifier"):
        raise InputError(f"No {dataset} classifier is loaded: the metrics are measured in its feature space.")
    names = generator_names(dataset)
    real = held_out(dataset).description
    rows, values = [], []
    yield Measurement(0, len(names), samples, real, list(rows), list(values), names[0] if names else None)
    for done, name in enumerate(names, 1):
        live = live_metrics(name, dataset, samples, seed)
        rows += live_rows(name, live, stored_metrics(name))
        values.append(metric_values(name, live))
        yield Measurement(done, len(names), samples, real, list(rows), list(values),
                          names[done] if done < len(names) else None)

"""The Compare tab: samples of every model of one dataset side by side, one class a row, and their metrics.

Conditional GANs are asked for each class.  A VAE cannot be asked for a class,
so its prior samples are sorted into rows by the dataset's classifier (a row
with gaps is a class the VAE rarely draws).  Its reconstructions are of the
same held-out images that the "real" grid shows.
"""

from dataclasses import dataclass

import torch
from PIL import Image

from aigc.data import CLASS_NAMES, DATASETS, load_images
from aigc.images import make_grid, to_pil
from aigc.studio import MAX_SEED, InputError, gpu, integer
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


def held_out(dataset: str, seed: int) -> torch.Tensor | None:
    """PER_CLASS test images of each class, in class order, [classes * PER_CLASS, 1, 28, 28]; None without data."""
    try:
        images, labels = load_images(dataset, "test")
    except FileNotFoundError:
        return None
    generator = torch.Generator().manual_seed(seed)
    picks = []
    for c in range(len(CLASS_NAMES[dataset])):
        of_class = (labels == c).nonzero()[:, 0]
        picks.append(of_class[torch.randperm(len(of_class), generator=generator)[:PER_CLASS]])
    return images[torch.cat(picks)]


def by_class(images: torch.Tensor, predicted: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Up to PER_CLASS images of each predicted class, one class a row; empty places stay blank."""
    rows = torch.zeros(num_classes, PER_CLASS, *images.shape[1:])
    for c in range(num_classes):
        chosen = images[predicted == c][:PER_CLASS]
        rows[c, : len(chosen)] = chosen.cpu()
    return rows.flatten(0, 1)


def grid(images: torch.Tensor) -> Image.Image:
    return to_pil(make_grid(images.cpu(), PER_CLASS), SCALE)


def metrics_row(name: str, model: torch.nn.Module) -> list[str]:
    metrics = stored_metrics(name)
    cells = []
    for _, key, fmt in METRICS:
        value = metrics.get(key)
        cells.append(fmt.format(value) if isinstance(value, (int, float)) else MISSING)
    return [name, family(name, model), *cells]


@gpu
@torch.inference_mode()
def compare(dataset: str = "mnist", seed=0) -> Comparison:
    """Sample grids of every loaded model of ``dataset`` under one seed, and the stored metrics table."""
    if dataset not in DATASETS:
        raise InputError(f"Unknown dataset {dataset!r}; choose one of: {', '.join(DATASETS)}")
    seed = integer(seed, "seed", 0, MAX_SEED, 0)
    models = registry()
    num_classes = len(CLASS_NAMES[dataset])
    labels = torch.arange(num_classes).repeat_interleave(PER_CLASS)
    real = held_out(dataset, seed)
    classifiers = models.of_dataset(dataset, "classifier")
    panels, rows = [], []
    notes = [f"Rows, top to bottom: {', '.join(CLASS_NAMES[dataset])}."]

    for name in [name for kind in GAN_TYPES for name in models.of_dataset(dataset, kind)]:  # DCGAN first
        gan = models.models[name]
        z = torch.randn(len(labels), gan.config.latent_dim, generator=torch.Generator().manual_seed(seed))
        panels.append((grid(gan.generate(z, labels.to(gan.device))), f"{name} ({family(name, gan)})"))
        rows.append(metrics_row(name, gan))
    for name in models.of_dataset(dataset, "vae"):
        vae = models.models[name]
        count = num_classes * VAE_POOL if classifiers else len(labels)
        z = torch.randn(count, vae.config.latent_dim, generator=torch.Generator().manual_seed(seed))
        samples = vae.decode(z.to(vae.device))
        if classifiers:
            classifier = models.models[classifiers[0]]
            samples = by_class(samples, classifier(samples).argmax(1).cpu(), num_classes)
            caption = f"{name}: samples, by {classifiers[0]}"
        else:
            caption = f"{name}: samples (any class)"
        panels.append((grid(samples), caption))
        if real is not None:
            panels.append((grid(vae.decode(vae.encode(real)[0])), f"{name}: reconstructions"))
        rows.append(metrics_row(name, vae))
    if classifiers and models.of_dataset(dataset, "vae"):
        notes.append(f"A VAE cannot be asked for a class: its samples are sorted into rows by {classifiers[0]}'s "
                     "guess (an empty row is a class it rarely draws), and it reconstructs the real images shown last.")
    if real is not None:
        panels.append((grid(real), "real: held-out test images"))
    else:
        notes.append(f"The {dataset} test images are not prepared (python -m aigc.data prepare), so no real images "
                     "or reconstructions are shown.")
    features = {stored_metrics(row[0]).get("features") for row in rows} - {None}
    if features:
        notes.append(f"FID, IS, precision and recall are measured against the held-out images in the feature space "
                     f"of {', '.join(sorted(features))}; each model's card says how.")
    unavailable = [f"{name} ({error})" for name, error in models.errors.items() if dataset in name]  # by name: unloaded
    if unavailable:
        notes.append("Unavailable: " + "; ".join(unavailable))
    headers = ["Model", "Family", *(column for column, _, _ in METRICS)]
    return Comparison(panels, headers, rows, notes)

"""Measure a model on held-out data, store the figures with its weights, and write its model card.

    python -m aigc.evaluate gan-fashion            # -> weights/gan-fashion/metrics.json and README.md
    python -m aigc.evaluate all

Image generators are measured in the feature space of our own classifier for
their dataset (its 128-d penultimate layer; Inception weights cannot be
downloaded here), against the test split: FID, Inception Score (on its class
probabilities), precision and recall (Kynkäänniemi et al., 2019), and how often
a sample is classified as the class it was asked for.
"""

import argparse
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from aigc.cards import metrics_table, write_card
from aigc.data import CLASS_NAMES, load_images, load_text
from aigc.hub import list_models, load, locate
from aigc.metrics import frechet_distance, inception_score, precision_recall
from aigc.models import GPT, VAE, Classifier
from aigc.models.gan import ImageGenerator
from aigc.models.vae import vae_loss


def dataset_of(model: torch.nn.Module) -> str:
    """The image dataset a model was trained on, recognised by its class names."""
    for dataset, names in CLASS_NAMES.items():
        if list(model.config.class_names) == names:
            return dataset
    raise ValueError(f"{model.name}: its class names match no known dataset")


@torch.no_grad()
def batched(fn, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    return torch.cat([fn(x[i : i + batch_size]).cpu() for i in range(0, len(x), batch_size)])


@torch.no_grad()
def sample_metrics(images: torch.Tensor, labels: torch.Tensor | None, dataset: str, classifier: Classifier,
                   real: torch.Tensor | None = None, real_features: torch.Tensor | None = None) -> dict:
    """FID, IS, precision/recall of ``images`` against ``real`` (default: the test split); class accuracy if labels
    are given.  ``real_features``: the classifier's features of ``real``, if the caller has them already."""
    if real_features is None:
        if real is None:
            real, _ = load_images(dataset, "test")
        real_features = batched(classifier.features, real)
    features = batched(classifier.features, images)
    probs = F.softmax(classifier.head(features.to(classifier.device)), dim=1).cpu()
    # equal set sizes, as in the paper: k-NN radii shrink as a set grows, which would bias the comparison
    n = min(len(real_features), len(features))
    precision, recall = precision_recall(real_features[:n], features[:n], k=3)
    metrics = {
        "fid": frechet_distance(real_features, features),
        "inception_score": inception_score(probs, splits=10),
        "precision": precision,
        "recall": recall,
        "features": f"classifier-{dataset} penultimate layer ({features.shape[1]}-d)",
    }
    if labels is not None:
        metrics["class_accuracy"] = (probs.argmax(1) == labels).float().mean().item()
    return metrics


def evaluate_generator(gan: ImageGenerator, samples: int, seed: int) -> dict:
    dataset = dataset_of(gan)
    classifier = load(f"classifier-{dataset}", device=gan.device)
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, gan.config.latent_dim, generator=gen)
    labels = torch.arange(samples) % gan.config.num_classes  # every class equally often
    images = torch.cat([gan.generate(z[i : i + 500], labels[i : i + 500]).cpu() for i in range(0, samples, 500)])
    return {**sample_metrics(images, labels, dataset, classifier), "num_samples": samples}


@torch.no_grad()
def evaluate_vae(vae: VAE, samples: int, seed: int) -> dict:
    dataset = dataset_of(vae)
    classifier = load(f"classifier-{dataset}", device=vae.device)
    x, labels = load_images(dataset, "test")
    torch.manual_seed(seed)
    elbo, reconstruction_bce, squared_error, kept_class = 0.0, 0.0, 0.0, 0
    for i in range(0, len(x), 500):
        batch = x[i : i + 500].to(vae.device)
        logits, mu, logvar = vae(batch)
        loss, reconstruction, _ = vae_loss(logits, batch, mu, logvar)
        elbo -= loss.item() * len(batch)
        reconstruction_bce += reconstruction.item() * len(batch)
        mean_reconstruction = vae.decode(mu)
        squared_error += (mean_reconstruction - batch).pow(2).mean((1, 2, 3)).sum().item()
        kept_class += (classifier(mean_reconstruction).argmax(1).cpu() == labels[i : i + 500]).sum().item()
    prior = vae.sample_latents(samples, torch.Generator().manual_seed(seed))
    images = batched(vae.decode, prior)
    return {
        "elbo_nats": elbo / len(x),
        "reconstruction_nats": reconstruction_bce / len(x),
        "reconstruction_mse": squared_error / len(x),
        "reconstruction_accuracy": kept_class / len(x),
        **sample_metrics(images, None, dataset, classifier),
        "num_samples": samples,
    }


@torch.no_grad()
def evaluate_gpt(gpt: GPT, max_chars: int) -> dict:
    """Nats and bits per character on the held-out plays.

    Windows of block_size overlap by half, and only each window's second half is
    scored (the first window is scored whole), so every character is predicted
    from at least block_size/2 characters of context.
    """
    text = load_text("val")[:max_chars] if max_chars else load_text("val")
    ids = torch.tensor(gpt.tokenizer.encode(text))
    block, stride = gpt.config.block_size, gpt.config.block_size // 2
    total, count = 0.0, 0
    for start in range(0, max(1, len(ids) - block), stride):
        window = ids[start : start + block + 1].to(gpt.device)
        logits = gpt(window[None, :-1])[0]
        first = 0 if start == 0 else block - stride
        losses = F.cross_entropy(logits[first:], window[1:][first:], reduction="none")
        total, count = total + losses.sum().item(), count + len(losses)
    nats = total / count
    return {"val_nats_per_char": nats, "bits_per_char": nats / math.log(2), "val_chars": count}


@torch.no_grad()
def evaluate_classifier(classifier: Classifier, seed: int) -> dict:
    """Test accuracy, and the image metrics of real training images: the best a generator could score."""
    dataset = dataset_of(classifier)
    x, labels = load_images(dataset, "test")
    predictions = batched(lambda b: classifier(b).argmax(1), x)
    train_x, train_labels = load_images(dataset, "train")
    pick = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))[: len(x)]
    reference = sample_metrics(train_x[pick], train_labels[pick], dataset, classifier)
    return {
        "test_accuracy": (predictions == labels).float().mean().item(),
        "test_images": len(x),
        **{f"real_{key}": value for key, value in reference.items() if key != "features"},
    }


def evaluate(name: str, samples: int = 10_000, seed: int = 0, max_chars: int = 0) -> dict:
    model = load(name)
    if isinstance(model, ImageGenerator):
        metrics = evaluate_generator(model, samples, seed)
    elif isinstance(model, VAE):
        metrics = evaluate_vae(model, samples, seed)
    elif isinstance(model, GPT):
        metrics = evaluate_gpt(model, max_chars)
    else:
        metrics = evaluate_classifier(model, seed)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m aigc.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="+", help="bundled model names or folders, or 'all'")
    p.add_argument("--samples", type=int, default=10_000, help="generated images per generator")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-chars", type=int, default=0, help="score only this many held-out characters (0 = all)")
    p.add_argument("--no-write", action="store_true", help="print only; leave metrics.json and the card alone")
    p.add_argument("--table", action="store_true", help="print the stored metrics as a Markdown table; measure nothing")
    args = p.parse_args()
    names = list_models() if args.names == ["all"] else args.names
    if args.table:
        print(metrics_table([locate(name, weights=False) for name in names]))
        return
    # classifiers first: the generators' metrics use them
    for name in sorted(names, key=lambda n: not n.startswith("classifier")):
        metrics = evaluate(name, args.samples, args.seed, args.max_chars)
        print(name, json.dumps(metrics))
        if not args.no_write:
            folder = locate(name) if name in list_models() else Path(name)
            (folder / "metrics.json").write_text(json.dumps(metrics, indent=1))
            write_card(folder)


if __name__ == "__main__":
    main()

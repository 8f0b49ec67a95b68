"""How fast the models answer, measured in one run and printed as a table.

    python -m aigc.bench              # every measure
    python -m aigc.bench --quick      # fewer repeats

Ratios are taken within the same run, on the same machine and model, so they
mean something on any hardware; the absolute times are this machine's.
"""

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from aigc.hub import load
from aigc.latent import slerp


def timed(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Median seconds of ``fn`` over ``repeats`` runs, after a warm-up."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_gan(repeats: int) -> list[tuple[str, str]]:
    gan = load("gan-fashion")
    rows = []
    for n in (1, 16):
        z, labels = torch.randn(n, gan.config.latent_dim), torch.arange(n) % gan.config.num_classes
        seconds = timed(lambda: gan.generate(z, labels), repeats)
        rows.append((f"GAN render, {n} picture(s)", f"{seconds * 1e3:.2f} ms ({seconds * 1e3 / n:.2f} ms each)"))
    # what the GAN tab's server does per request: checks, latent, forward pass, 280 px PIL picture
    from aigc.studio import gan as tab

    offsets = [1.0] + [0.0] * (tab.NUM_DIRECTIONS - 1)
    for method in tab.METHODS:
        tab.directions("gan-fashion", method)  # computed once per (model, method), cached
        seconds = timed(lambda: tab.generate("gan-fashion", 3, 7, 0.7, offsets, method), repeats)
        rows.append((f"GAN tab, one picture ({tab.METHODS[method]})", f"{seconds * 1e3:.2f} ms"))
    n = 16
    batch = (["gan-fashion"] * n, [i % 10 for i in range(n)], list(range(n)), [0.7] * n, [offsets] * n, ["sefa"] * n)
    seconds = timed(lambda: tab.generate_batch(*batch), repeats)
    rows.append((f"GAN tab, {n} batched slider requests", f"{seconds * 1e3:.2f} ms ({seconds * 1e3 / n:.2f} ms each)"))
    seconds = timed(lambda: tab.preview_strips("gan-fashion", 3, 7, 0.7), repeats)
    rows.append((f"GAN tab, 8 preview strips of {tab.PREVIEW_FRAMES} (one pass)", f"{seconds * 1e3:.2f} ms"))
    return rows


def bench_vae(repeats: int) -> list[tuple[str, str]]:
    vae = load("vae-fashion")
    a, b = torch.randn(vae.config.latent_dim), torch.randn(vae.config.latent_dim)
    seconds = timed(lambda: vae.decode(slerp(a, b, torch.linspace(0, 1, 16))), repeats)
    return [("VAE, 16 interpolation frames (one batched decode)", f"{seconds * 1e3:.2f} ms")]


def bench_text(new_tokens: int) -> list[tuple[str, str]]:
    """Tokens per second with the KV cache, and without it (nanoGPT's sample.py recomputes the context)."""
    gpt = load("gpt-shakespeare")
    ids = gpt.tokenizer.encode("ROMEO:\n")
    speeds = {}
    for use_cache in (True, False):
        def generate():
            return sum(1 for _ in gpt.stream_tokens(ids, new_tokens, temperature=1.0, seed=0, use_cache=use_cache))

        speeds[use_cache] = new_tokens / timed(generate, repeats=3, warmup=1)
    return [
        (f"GPT, {new_tokens} new tokens with the KV cache", f"{speeds[True]:.0f} tokens/s"),
        (f"GPT, {new_tokens} new tokens recomputing the context", f"{speeds[False]:.0f} tokens/s"),
        ("KV-cache speed-up", f"{speeds[True] / speeds[False]:.1f}x"),
    ]


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m aigc.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--tokens", type=int, default=400, help="new tokens for the text measure")
    args = p.parse_args()
    repeats = 10 if args.quick else 50
    torch.set_grad_enabled(False)
    rows = bench_gan(repeats) + bench_vae(repeats) + bench_text(args.tokens)
    width = max(len(name) for name, _ in rows)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {load('gan-fashion').device}\n")
    print(f"| {'measure':<{width}} | result |\n| {'-' * width} | --- |")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")


if __name__ == "__main__":
    main()

"""The bundled models on a GPU: they load there by default and compute what they compute on the CPU.

Skipped where there is no CUDA device (CI has none); run where there is one, e.g.
``python -m pytest tests/test_cuda.py``.
"""

import pytest
import torch

from aigc.hub import list_models, load
from aigc.models import GPT, VAE, Classifier
from aigc.models.gan import ImageGenerator
from aigc.models.gpt import KVCache

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def outputs(model, device: str) -> torch.Tensor:
    """What ``model`` computes for fixed inputs, made on the CPU and moved to ``device``."""
    inputs = torch.Generator().manual_seed(0)
    with torch.no_grad():
        if isinstance(model, ImageGenerator):
            z = torch.randn(16, model.config.latent_dim, generator=inputs)
            return model.generate(z.to(device), torch.arange(16).to(device) % max(model.config.num_classes, 1))
        if isinstance(model, GPT):
            return model(torch.randint(model.config.vocab_size, (2, 64), generator=inputs).to(device))
        images = torch.rand(16, 1, 28, 28, generator=inputs).to(device)
        if isinstance(model, VAE):
            return model.decode(model.encode(images)[0])
        assert isinstance(model, Classifier)
        return model(images)


@pytest.mark.parametrize("name", list_models())
def test_each_bundled_model_loads_on_the_gpu_and_computes_what_it_computes_on_the_cpu(name):
    on_gpu, on_cpu = load(name), load(name, device="cpu")
    assert next(on_gpu.parameters()).device.type == "cuda"  # the GPU is the default where there is one
    torch.testing.assert_close(outputs(on_gpu, "cuda").cpu(), outputs(on_cpu, "cpu"), atol=2e-3, rtol=2e-3)


def test_on_the_gpu_the_kv_cache_gives_what_full_recomputation_gives():
    gpt = load("gpt-shakespeare")
    idx = torch.randint(gpt.config.vocab_size, (1, 40), device="cuda")
    with torch.no_grad():
        full = gpt(idx)
        cache = KVCache(gpt.config)
        pieces = [gpt(idx[:, :30], cache)] + [gpt(idx[:, t : t + 1], cache) for t in range(30, 40)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-4, rtol=1e-4)
    ids = gpt.tokenizer.encode("ROMEO:\n")
    cached = [t for t, _ in gpt.stream_tokens(ids, 300, 0.8, None, None, seed=7)]
    recomputed = [t for t, _ in gpt.stream_tokens(ids, 300, 0.8, None, None, seed=7, use_cache=False)]
    assert cached == recomputed


def test_on_the_gpu_the_same_seed_gives_the_same_text():
    gpt = load("gpt-shakespeare")
    text = gpt.generate_text("ROMEO:\n", 200, seed=3)
    assert len(text) == 200 and text == gpt.generate_text("ROMEO:\n", 200, seed=3)

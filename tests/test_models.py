"""The models' contracts: shapes, ranges, determinism, the KV cache, and sampling filters."""

import pytest
import torch

from aigc.latent import ganspace_directions, lerp, sefa_directions, slerp, truncate
from aigc.models import GPT, VAE, Classifier, ClassifierConfig, GANConfig, GPTConfig, VAEConfig
from aigc.models.gan import build_gan
from aigc.models.gpt import KVCache, next_token_probs, sample
from aigc.models.tokens import context_start
from aigc.models.vae import vae_loss


@pytest.mark.parametrize("model_type", ["dcgan", "mlp-gan"])
@pytest.mark.parametrize("image_size, channels", [(28, 1), (32, 3)])
def test_gan_shapes_and_range(model_type, image_size, channels):
    config = GANConfig(model_type=model_type, image_size=image_size, channels=channels, width=16)
    generator, discriminator = build_gan(config)
    generator.eval()
    z = torch.randn(5, config.latent_dim)
    labels = torch.tensor([0, 1, 2, 3, 9])
    images = generator.generate(z, labels)
    assert images.shape == (5, channels, image_size, image_size)
    assert 0 <= images.min() and images.max() <= 1
    assert discriminator(images * 2 - 1, labels).shape == (5,)
    assert torch.equal(generator.generate(z, labels), images)  # eval mode is deterministic
    assert not torch.allclose(generator.generate(z, labels.flip(0)), images)  # the label matters


def test_gan_rejects_bad_inputs():
    generator, _ = build_gan(GANConfig())
    generator.eval()
    with pytest.raises(ValueError, match="z must have shape"):
        generator.generate(torch.randn(2, 3))
    with pytest.raises(ValueError, match="labels"):
        generator.generate(torch.randn(2, 64), torch.tensor([0, 10]))
    with pytest.raises(ValueError, match="divisible by 4"):
        GANConfig(image_size=30)


def test_vae_encode_decode_and_loss():
    vae = VAE(VAEConfig(latent_dim=2))
    x = torch.rand(4, 1, 28, 28)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (4, 2)
    decoded = vae.decode(mu)
    assert decoded.shape == x.shape and 0 <= decoded.min() and decoded.max() <= 1
    loss, reconstruction, kl = vae_loss(*vae(x)[:1], x, mu, logvar)
    assert torch.isclose(loss, reconstruction + kl) and kl >= 0


def test_vae_kl_is_zero_exactly_at_the_prior():
    x = torch.full((2, 1, 4, 4), 0.5)
    zeros = torch.zeros(2, 3)
    _, _, kl = vae_loss(torch.zeros_like(x), x, zeros, zeros)
    assert kl.item() == 0
    _, _, kl = vae_loss(torch.zeros_like(x), x, torch.ones(2, 3), zeros)  # KL = sum(mu^2) / 2 per image
    assert kl.item() == pytest.approx(1.5)


def test_classifier_shapes():
    classifier = Classifier(ClassifierConfig()).eval()
    x = torch.rand(3, 1, 28, 28)
    assert classifier(x).shape == (3, 10)
    assert classifier.features(x).shape == (3, 128)


@pytest.fixture(scope="module")
def tiny_gpt():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab="\n abcdefghijklmnop", block_size=24, n_layer=2, n_head=2, n_embd=32)).eval()


def test_gpt_logits_shape(tiny_gpt):
    idx = torch.randint(tiny_gpt.config.vocab_size, (2, 10))
    assert tiny_gpt(idx).shape == (2, 10, tiny_gpt.config.vocab_size)


def test_kv_cache_forward_equals_full_recomputation(tiny_gpt):
    idx = torch.randint(tiny_gpt.config.vocab_size, (1, 20))
    full = tiny_gpt(idx)
    cache = KVCache(tiny_gpt.config)
    pieces = [tiny_gpt(idx[:, :7], cache), tiny_gpt(idx[:, 7:12], cache)]  # a prefill, then several at once
    pieces += [tiny_gpt(idx[:, t : t + 1], cache) for t in range(12, 20)]  # then one at a time
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-5)


@pytest.mark.parametrize("temperature, top_k, top_p", [(1.0, None, None), (0.8, 5, 0.9), (0.0, None, None)])
def test_generation_with_cache_equals_generation_without(tiny_gpt, temperature, top_k, top_p):
    ids = tiny_gpt.tokenizer.encode("abc")
    # 60 tokens > block_size 24: the context window restarts several times on the way
    cached = [t for t, _ in tiny_gpt.stream_tokens(ids, 60, temperature, top_k, top_p, seed=7)]
    recomputed = [t for t, _ in tiny_gpt.stream_tokens(ids, 60, temperature, top_k, top_p, seed=7, use_cache=False)]
    assert cached == recomputed


def test_same_seed_same_text(tiny_gpt):
    a = tiny_gpt.generate_text("ab", 40, seed=3)
    assert a == tiny_gpt.generate_text("ab", 40, seed=3)
    assert len(a) == 40 and a != tiny_gpt.generate_text("ab", 40, seed=4)
    assert "".join(tiny_gpt.stream_text("ab", 40, seed=3)) == a


def test_temperature_zero_and_top_k_one_are_greedy(tiny_gpt):
    ids = tiny_gpt.tokenizer.encode("abc")
    greedy = [t for t, _ in tiny_gpt.stream_tokens(ids, 30, temperature=0)]
    assert greedy == [t for t, _ in tiny_gpt.stream_tokens(ids, 30, temperature=1.0, top_k=1, seed=1)]
    # the argmax path, recomputed by hand over the window the model had (it restarts when full)
    text = list(ids)
    for n, token in enumerate(greedy):
        context = text[context_start(len(ids), n, tiny_gpt.config.block_size) :]
        assert token == int(tiny_gpt(torch.tensor([context]))[0, -1].argmax())
        text.append(token)


def test_the_window_restarts_from_its_last_half_when_full():
    block = 24
    assert [context_start(5, n, block) for n in (0, 19, 20)] == [0, 0, 25 - 12]  # 5 + 20 > 24: keep the last 12
    assert [context_start(5, n, block) for n in (32, 33)] == [13, 5 + 33 - 12]  # 12 more: full again
    assert context_start(24, 1, block) == 25 - 12


def test_sample_draws_what_multinomial_draws():
    probs = torch.softmax(torch.randn(50), 0)
    a, b = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert [int(sample(probs, a)) for _ in range(200)] == [int(torch.multinomial(probs, 1, generator=b))
                                                           for _ in range(200)]


def test_attention_maps_are_causal_distributions_and_what_the_forward_pass_uses(tiny_gpt):
    idx = torch.randint(tiny_gpt.config.vocab_size, (15,))
    maps = tiny_gpt.attention_maps(idx)
    assert maps.shape == (2, 2, 15, 15)
    assert torch.allclose(maps.sum(-1), torch.ones(2, 2, 15), atol=1e-6)
    assert (maps.triu(1) == 0).all()
    # weights @ values reproduce SDPA's output in the first layer
    attn = tiny_gpt.transformer.h[0].attn
    with torch.no_grad():
        x = tiny_gpt.transformer.h[0].ln_1(tiny_gpt.embed(idx[None]))
        _, _, v = attn.queries_keys_values(x)
        expected = attn.c_proj((maps[0] @ v[0]).transpose(0, 1).reshape(1, 15, -1))
        assert torch.allclose(attn(x), expected, atol=1e-5)


def test_the_kv_cache_is_reused_in_place(tiny_gpt):
    cache = KVCache(tiny_gpt.config)
    idx = torch.randint(tiny_gpt.config.vocab_size, (1, 10))
    with torch.no_grad():
        first = tiny_gpt(idx, cache)
        buffer = cache.keys[0].data_ptr()
        cache.clear()
        assert len(cache) == 0 and torch.equal(tiny_gpt(idx, cache), first)
    assert cache.keys[0].data_ptr() == buffer and cache.keys[0].shape[2] == tiny_gpt.config.block_size
    with pytest.raises(ValueError, match="exceed the context"):
        tiny_gpt(torch.zeros(1, 15, dtype=torch.long), cache)


def test_empty_prompt_and_unknown_characters(tiny_gpt):
    assert len(tiny_gpt.generate_text("", 5, seed=0)) == 5
    with pytest.raises(ValueError, match="'XZ'"):
        tiny_gpt.generate_text("aXbZX", 5)


def test_next_token_probs_filters():
    logits = torch.tensor([3.0, 2.0, 1.0, 0.0, -1.0])
    probs = next_token_probs(logits, 1.0, top_k=2)
    assert torch.isclose(probs.sum(), torch.tensor(1.0)) and (probs[2:] == 0).all()
    full = torch.softmax(logits, 0)
    probs = next_token_probs(logits, 1.0, top_p=float(full[0]) + 1e-3)  # needs the top two
    assert (probs > 0).sum() == 2 and torch.isclose(probs.sum(), torch.tensor(1.0))
    assert (next_token_probs(logits, 1.0, top_p=0.01) > 0).sum() == 1  # the top token always stays
    assert next_token_probs(logits, 0.0).tolist() == [1.0, 0, 0, 0, 0]
    hot, cold = next_token_probs(logits, 2.0), next_token_probs(logits, 0.5)
    assert hot.max() < full.max() < cold.max()
    for bad in [dict(temperature=-1.0), dict(top_k=0), dict(top_p=0.0), dict(top_p=1.5)]:
        with pytest.raises(ValueError):
            next_token_probs(logits, **{"temperature": 1.0, **bad})


def test_slerp_keeps_the_norm_between_the_ends():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, generator=gen), 2 * torch.randn(64, generator=gen)
    t = torch.linspace(0, 1, 11)
    path = slerp(a, b, t)
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    norms = path.norm(dim=1)
    assert (norms >= a.norm() - 1e-4).all() and (norms <= b.norm() + 1e-4).all()
    assert lerp(a, b, t)[5].norm() < norms[5]  # the straight line cuts through the low-norm middle


def test_truncation_zero_is_the_mean():
    assert (truncate(torch.randn(3, 8), 0.0) == 0).all()


@pytest.mark.parametrize("find", [sefa_directions, ganspace_directions])
def test_directions_are_orthonormal_and_ordered(find):
    torch.manual_seed(0)
    generator, _ = build_gan(GANConfig(width=16))
    directions, strengths = find(generator.eval(), 8)
    assert directions.shape == (8, 64)
    assert torch.allclose(directions @ directions.T, torch.eye(8), atol=1e-5)
    assert (strengths[:-1] >= strengths[1:]).all()

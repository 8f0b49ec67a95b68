"""A decoder-only Transformer language model, in the shape of nanoGPT.

Pre-LayerNorm blocks, causal self-attention through
``F.scaled_dot_product_attention``, learned absolute positions and an output
layer tied to the token embedding.  Generation keeps a key/value cache so that
each new token costs one position's work instead of the whole context's.

The context window: when the cache holds ``block_size`` tokens, it restarts
from the last ``block_size // 2`` of them (absolute positions cannot slide).
``use_cache=False`` applies the same rule but recomputes the whole window for
every token; the two give identical tokens, which the tests check.
"""

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin


@dataclass
class GPTConfig:
    model_type: str = "gpt"
    vocab: str = ""  # the characters of the character tokenizer, in id order
    vocab_size: int = 0  # len(vocab) when vocab is set
    block_size: int = 256
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self):
        if self.model_type != "gpt":
            raise ValueError(f"not a GPT config: model_type {self.model_type!r}")
        if self.vocab:
            self.vocab_size = len(self.vocab)
        if self.vocab_size <= 0:
            raise ValueError("a GPT config needs a vocab (characters) or a vocab_size")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd {self.n_embd} is not divisible by n_head {self.n_head}")


class CharTokenizer:
    """One id per character; the alphabet is saved in the model's config."""

    def __init__(self, chars: str):
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` outside the vocabulary, each once, in order of appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.index))

    def encode(self, text: str) -> list[int]:
        missing = self.unknown(text)
        if missing:
            raise ValueError(f"characters outside the vocabulary: {''.join(missing)!r}")
        return [self.index[c] for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)


class KVCache:
    """Keys and values of every layer for the positions seen so far."""

    def __init__(self, n_layer: int):
        self.keys: list[torch.Tensor | None] = [None] * n_layer
        self.values: list[torch.Tensor | None] = [None] * n_layer

    def __len__(self) -> int:
        return self.length(0)

    def length(self, layer: int) -> int:
        return 0 if self.keys[layer] is None else self.keys[layer].shape[2]

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=2)
            v = torch.cat([self.values[layer], v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        return x.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)  # [B, heads, T, head_dim]

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = map(self.split_heads, self.c_attn(x).split(c, dim=2))
        past = 0
        if cache is not None:
            past = cache.length(layer)
            k, v = cache.append(layer, k, v)
        if past == 0 or t == 1:  # the usual causal mask, or one new query that may see everything
            mask, causal = None, past == 0
        else:  # several new queries after cached ones: query i sees keys up to past + i
            mask = torch.ones(t, past + t, dtype=torch.bool, device=x.device).tril(diagonal=past)
            causal = False
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal, dropout_p=self.dropout if self.training else 0.0
        )
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(b, t, c)))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module, PyTorchModelHubMixin, library_name="aigc", tags=["aigc", "gpt", "text-generation"], license="mit"):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.tokenizer = CharTokenizer(config.vocab)
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList(Block(config) for _ in range(config.n_layer)),
                ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # weight tying (Press & Wolf, 2017)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2's scaled init of the residual projections
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """idx: long [B, T] -> logits [B, T, vocab_size]; with a cache, idx holds only the new tokens."""
        past = len(cache) if cache is not None else 0
        t = idx.shape[1]
        if past + t > self.config.block_size:
            raise ValueError(f"{past + t} positions exceed the context of {self.config.block_size}")
        pos = torch.arange(past, past + t, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for layer, block in enumerate(self.transformer.h):
            x = block(x, cache, layer)
        return self.lm_head(self.transformer.ln_f(x))

    @torch.inference_mode()
    def stream_tokens(
        self,
        ids: list[int],
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        use_cache: bool = True,
    ) -> Iterator[tuple[int, torch.Tensor]]:
        """Yield (token id, filtered next-token probabilities it was drawn from), one token at a time."""
        block = self.config.block_size
        generator = torch.Generator(self.device).manual_seed(random.randrange(2**63) if seed is None else seed)
        context = list(ids[-block:])
        cache = KVCache(self.config.n_layer) if use_cache else None
        logits = self(torch.tensor([context], device=self.device), cache)[0, -1]
        for _ in range(max_new_tokens):
            probs = next_token_probs(logits, temperature, top_k, top_p)
            token = int(torch.multinomial(probs, 1, generator=generator)) if temperature > 0 else int(probs.argmax())
            yield token, probs
            context.append(token)
            if len(context) > block:  # the window is full: restart from its last half
                context = context[-(block // 2) :]
                cache = KVCache(self.config.n_layer) if use_cache else None
                logits = self(torch.tensor([context], device=self.device), cache)[0, -1]
            elif use_cache:
                logits = self(torch.tensor([[token]], device=self.device), cache)[0, -1]
            else:
                logits = self(torch.tensor([context], device=self.device))[0, -1]

    def stream_text(
        self,
        prompt: str,
        max_new_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Yield the continuation of ``prompt`` piece by piece as it is sampled.

        An empty prompt starts from a newline; a prompt longer than the context
        keeps its last ``block_size`` tokens.  temperature 0 is greedy decoding.
        """
        ids = self.tokenizer.encode(prompt or "\n")
        for token, _ in self.stream_tokens(ids, max_new_tokens, temperature, top_k, top_p, seed):
            yield self.tokenizer.decode([token])

    def generate_text(self, prompt: str, max_new_tokens: int = 200, temperature: float = 1.0,
                      top_k: int | None = None, top_p: float | None = None, seed: int | None = None) -> str:
        """The continuation only (the prompt is not repeated)."""
        return "".join(self.stream_text(prompt, max_new_tokens, temperature, top_k, top_p, seed))


def next_token_probs(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> torch.Tensor:
    """The distribution the next token is drawn from, after temperature, top-k and top-p (nucleus).

    logits: [vocab].  temperature 0 puts all the mass on the argmax.
    """
    if temperature < 0 or (top_k is not None and top_k < 1) or (top_p is not None and not 0 < top_p <= 1):
        raise ValueError("need temperature >= 0, top_k >= 1 and 0 < top_p <= 1")
    logits = logits.float()
    if temperature == 0:
        return F.one_hot(logits.argmax(), logits.numel()).float()
    logits = logits / temperature
    if top_k is not None and top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = F.softmax(logits, dim=-1)
    if top_p is not None and top_p < 1:
        sorted_probs, order = probs.sort(descending=True)
        # keep the smallest prefix whose mass reaches top_p (a token is dropped if the mass before it already does)
        drop = sorted_probs.cumsum(0) - sorted_probs >= top_p
        probs = probs.scatter(0, order[drop], 0.0)
        probs = probs / probs.sum()
    return probs

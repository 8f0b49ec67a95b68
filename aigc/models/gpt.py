"""A decoder-only Transformer language model, in the shape of nanoGPT.

Pre-LayerNorm blocks, causal self-attention through
``F.scaled_dot_product_attention``, learned absolute positions and an output
layer tied to the token embedding.  Generation keeps a key/value cache so that
each new token costs one position's work instead of the whole context's.

The tokenizers and the context-window rule are in ``tokens.py``: when the
context outgrows ``block_size`` it restarts from its last half (absolute
positions cannot slide).  ``use_cache=False`` applies the same rule but
recomputes the whole window for every token; the two give identical tokens,
which the tests check.
"""

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin

from aigc.models.tokens import TOKENIZERS, CharTokenizer, StreamDecoder, window_length


@dataclass
class GPTConfig:
    model_type: str = "gpt"
    tokenizer: str = "char"  # "char": vocab below; "bpe": tokenizer.json beside the weights
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
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"unknown tokenizer {self.tokenizer!r}; known: {', '.join(TOKENIZERS)}")
        if self.tokenizer == "bpe" and self.vocab:
            raise ValueError("a BPE model's vocabulary is its tokenizer.json, not a vocab string")
        if self.vocab:
            self.vocab_size = len(self.vocab)
        if self.vocab_size <= 0:
            raise ValueError("a GPT config needs a vocab (characters) or a vocab_size")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd {self.n_embd} is not divisible by n_head {self.n_head}")


class KVCache:
    """Keys and values of every layer for the positions seen so far.

    Buffers of block_size positions, written in place: a new token costs no
    allocation and no copy of the past, which growing the cache with torch.cat
    would cost at every token.
    """

    def __init__(self, config: GPTConfig):
        self.n_layer, self.block_size = config.n_layer, config.block_size
        self.keys: list[torch.Tensor] = []  # per layer [B, heads, block_size, head_dim], allocated on first use
        self.values: list[torch.Tensor] = []
        self.length = 0

    def __len__(self) -> int:
        return self.length

    def store(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new positions' keys and values of ``layer`` -> the keys and values of all positions so far."""
        if not self.keys:
            shape = (*k.shape[:2], self.block_size, k.shape[3])
            self.keys = [k.new_empty(shape) for _ in range(self.n_layer)]
            self.values = [v.new_empty(shape) for _ in range(self.n_layer)]
        t = k.shape[2]
        self.keys[layer].narrow(2, self.length, t).copy_(k)
        self.values[layer].narrow(2, self.length, t).copy_(v)
        return self.keys[layer].narrow(2, 0, self.length + t), self.values[layer].narrow(2, 0, self.length + t)

    def advance(self, t: int) -> None:
        """Count ``t`` new positions, once every layer has stored them."""
        self.length += t

    def clear(self) -> None:
        self.length = 0


def dropout(p: float) -> nn.Module:
    """nn.Dropout, or a plain pass-through when p is 0: generation makes one call less per layer and token."""
    return nn.Dropout(p) if p > 0 else nn.Identity()


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = config.dropout
        self.resid_dropout = dropout(config.dropout)

    def queries_keys_values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [B, T, C] -> q, k, v, each [B, heads, T, head_dim] (views of one projection)."""
        b, t, c = x.shape
        return self.c_attn(x).view(b, t, 3, self.n_head, c // self.n_head).permute(2, 0, 3, 1, 4).unbind(0)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.queries_keys_values(x)
        past = 0
        if cache is not None:
            past = len(cache)
            k, v = cache.store(layer, k, v)
        if past == 0 or t == 1:  # the usual causal mask, or one new query that may see everything
            mask, causal = None, past == 0
        else:  # several new queries after cached ones: query i sees keys up to past + i
            mask = torch.ones(t, past + t, dtype=torch.bool, device=x.device).tril(diagonal=past)
            causal = False
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal, dropout_p=self.dropout if self.training else 0.0
        )
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(b, t, c)))

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The attention weights [B, heads, T, T], softmax(q·kᵀ/√d) under the causal mask, written out.

        SDPA computes them without returning them; this is the opt-in way to look.
        """
        t = x.shape[1]
        q, k, _ = self.queries_keys_values(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        return scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = dropout(config.dropout)

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
        # a BPE tokenizer lives in its own file: the loader attaches it (aigc.hub, aigc.models.gpt2)
        self.tokenizer = CharTokenizer(config.vocab) if config.tokenizer == "char" else None
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=dropout(config.dropout),
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

    def _save_pretrained(self, save_directory: Path) -> None:
        """The weights, and a BPE model's tokenizer.json beside them (the mixin's save_pretrained calls this)."""
        super()._save_pretrained(save_directory)
        if self.config.tokenizer == "bpe":
            self.tokenizer.save(Path(save_directory) / "tokenizer.json")

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def embed(self, idx: torch.Tensor, past: int = 0) -> torch.Tensor:
        """Token plus position embeddings of idx [B, T], which starts at position ``past``."""
        t = idx.shape[1]
        if past + t > self.config.block_size:
            raise ValueError(f"{past + t} positions exceed the context of {self.config.block_size}")
        return self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe.weight[past : past + t])

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """idx: long [B, T] -> logits [B, T, vocab_size]; with a cache, idx holds only the new tokens."""
        x = self.embed(idx, len(cache) if cache is not None else 0)
        for layer, block in enumerate(self.transformer.h):
            x = block(x, cache, layer)
        if cache is not None:
            cache.advance(idx.shape[1])
        return self.lm_head(self.transformer.ln_f(x))

    @torch.inference_mode()
    def attention_maps(self, idx: torch.Tensor) -> torch.Tensor:
        """idx: long [T], one sequence -> attention weights [n_layer, n_head, T, T].

        Row i of a map is how query position i spreads its attention over
        positions 0..i (it sums to 1; later positions get 0).  Opt-in: it
        repeats each layer's q·k products, which the usual forward pass leaves to SDPA.
        """
        x = self.embed(idx[None])
        maps = []
        for block in self.transformer.h:
            maps.append(block.attn.weights(block.ln_1(x))[0])
            x = block(x)
        return torch.stack(maps)

    @torch.inference_mode()
    def attention_row(self, idx: torch.Tensor, layer: int) -> torch.Tensor:
        """idx: long [T], one sequence -> how its last token attends to every token, per head: [n_head, T].

        Row T - 1 of ``attention_maps(idx)[layer]`` (layer counted from 0), for one query: a token's view
        costs T weights a head, where the whole maps of GPT-2's 1,024-token window would take 600 MB.
        """
        x = self.embed(idx[None])
        for block in self.transformer.h[:layer]:
            x = block(x)
        attn = self.transformer.h[layer].attn
        q, k, _ = attn.queries_keys_values(self.transformer.h[layer].ln_1(x))
        scores = q[:, :, -1:] @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])
        return scores.softmax(dim=-1)[0, :, 0]

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
        cache = KVCache(self.config) if use_cache else None
        logits = self(torch.tensor([context], device=self.device), cache)[0, -1]
        for _ in range(max_new_tokens):
            probs = next_token_probs(logits, temperature, top_k, top_p)
            drawn = sample(probs, generator) if temperature > 0 else probs.argmax()
            token = int(drawn)
            yield token, probs
            context.append(token)
            kept = window_length(len(context), block)
            if kept < len(context):  # the window is full: restart from its last tokens
                context = context[-kept:]
                if use_cache:
                    cache.clear()
                logits = self(torch.tensor([context], device=self.device), cache)[0, -1]
            elif use_cache:
                logits = self(drawn.view(1, 1), cache)[0, -1]
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
        decoder = StreamDecoder(self.tokenizer)
        for token, _ in self.stream_tokens(self.tokenizer.encode(prompt or "\n"), max_new_tokens, temperature,
                                           top_k, top_p, seed):
            if piece := decoder.push(token):
                yield piece
        if tail := decoder.flush():
            yield tail

    def generate_text(self, prompt: str, max_new_tokens: int = 200, temperature: float = 1.0,
                      top_k: int | None = None, top_p: float | None = None, seed: int | None = None) -> str:
        """The continuation only (the prompt is not repeated)."""
        return "".join(self.stream_text(prompt, max_new_tokens, temperature, top_k, top_p, seed))


def sample(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One draw from ``probs`` [vocab], the way torch.multinomial draws one (argmax of p / Exp(1) noise).

    The same tokens for the same generator, without multinomial's checks of
    its input (valid here by construction), which cost more than the draw.
    """
    return (probs / torch.empty_like(probs).exponential_(1, generator=generator)).argmax()


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

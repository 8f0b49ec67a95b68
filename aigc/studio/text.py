"""The Transformer tab: stream a continuation of a prompt, and look inside the model while it writes.

- **How sure**, for each token: its probability under the distribution it was
  drawn from, after temperature, top-k and top-p.  Near 1 the model had little
  choice; near 0 it was a lucky draw.
- **Candidates** at any point of the text: the ten likeliest next tokens, with
  their probabilities before (the model's own softmax, temperature 1) and after
  the sampling settings (what the token was actually drawn from).
- **Attention** over the prompt: for one layer and head, how much each token
  looks at each earlier one.

The models: the bundled character-level GPTs, and GPT-2 (124M, byte-level BPE)
from the Hub, downloaded on first use.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from aigc.models.gpt import StreamDecoder, context_start, next_token_probs
from aigc.studio import MAX_SEED, InputError, integer, number
from aigc.studio.models import registry

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_MODEL = "gpt-shakespeare"
GPT2 = "openai-community/gpt2"
HUB_MODELS = [GPT2]  # offered beside the bundled models, downloaded on first use
DESCRIPTIONS = {
    DEFAULT_MODEL: "A small GPT trained on Shakespeare's plays writes one character at a time",
    GPT2: "GPT-2 (OpenAI, 2019: 124M parameters, trained on 8 million web pages) writes one token at a time "
          "(a word or a piece of one)",
}
MAX_NEW_TOKENS, DEFAULT_NEW_TOKENS = 2000, 300
MAX_PROMPT_CHARS = 20_000  # longer prompts are refused; the model itself sees only its last block_size tokens
MAX_TEMPERATURE, DEFAULT_TEMPERATURE = 2.0, 0.8
MIN_TOP_P = 0.01
CANDIDATES = 10
ATTENTION_TOKENS = 128  # the attention map covers at most the prompt's last 128 tokens (a readable picture)
CONTEXT_SHOWN = 24  # characters of context in a chart's title


@dataclass
class Continuation:
    """A growing continuation: its tokens with their probabilities, and how it was sampled."""

    model: str
    seed: int
    temperature: float
    top_k: int | None
    top_p: float | None
    prompt_ids: list[int]  # the part of the prompt the model sees
    prompt: str  # its text
    given_prompt: str = ""  # the prompt as it was given (a share link repeats it)
    tokens: list[int] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)  # each token's text ("" while a character is incomplete)
    probabilities: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def mean_probability(self) -> float | None:
        return sum(self.probabilities) / len(self.probabilities) if self.probabilities else None

    def context(self, position: int, block_size: int) -> list[int]:
        """The ids the model saw when it drew token ``position`` (len(tokens): the next one)."""
        ids = self.prompt_ids + self.tokens[:position]
        return ids[context_start(len(self.prompt_ids), position, block_size) :]


def gpt_models() -> list[str]:
    """The picker's choices: the bundled GPTs, then GPT-2 from the Hub."""
    bundled = registry().names("gpt")
    return bundled + [name for name in HUB_MODELS if name not in bundled]


def get_model(model: str):
    """The GPT called ``model``: bundled, or a Hub repo id (downloaded on first use; ModelLoadError if it cannot be)."""
    return registry().get(model, "gpt")


def describe(model: str) -> str:
    """What the model is, in a sentence for the tab's introduction (nothing is loaded)."""
    return DESCRIPTIONS.get(model, f"The GPT {model} writes one token at a time")


def unit(gpt) -> str:
    """What one token is for this model, in words."""
    return "character" if gpt.config.tokenizer == "char" else "token"


def encode_prompt(gpt, prompt) -> tuple[list[int], list[str]]:
    """A prompt -> (the ids the model sees, notes on what was done to it); InputError if it cannot be used.

    An empty prompt starts from a newline; a prompt longer than the context keeps its last block_size tokens.
    """
    prompt = "" if prompt is None else str(prompt)
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InputError(f"The prompt has {len(prompt):,} characters; the limit is {MAX_PROMPT_CHARS:,}")
    unknown = gpt.tokenizer.unknown(prompt)
    if unknown:
        shown = " ".join(repr(c) for c in unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        raise InputError(f"The model does not know these characters: {shown}. Remove or replace them "
                         f"(it knows {gpt.config.vocab_size} characters, those of its training text)")
    ids = gpt.tokenizer.encode(prompt or "\n")
    block = gpt.config.block_size
    if len(ids) <= block:
        return ids, []
    return ids[-block:], [f"The prompt has {len(ids):,} {unit(gpt)}s; the model sees only its last {block}."]


def stream(prompt: str | None = "", max_new_tokens=DEFAULT_NEW_TOKENS, temperature=DEFAULT_TEMPERATURE, top_k=0,
           top_p=1.0, seed=None, model: str = DEFAULT_MODEL) -> Iterator[Continuation]:
    """Yield the same Continuation after each new token.

    max_new_tokens is clamped to [1, 2000], temperature to [0, 2] (0 = greedy),
    top_k to [0, vocabulary] (0 = off), top_p to [0.01, 1] (1 = off); seed None
    (or empty) draws a random seed, which is reported.
    """
    gpt = get_model(model)
    prompt_ids, notes = encode_prompt(gpt, prompt)
    max_new_tokens = integer(max_new_tokens, "max_new_tokens", 1, MAX_NEW_TOKENS, DEFAULT_NEW_TOKENS)
    temperature = number(temperature, "temperature", 0.0, MAX_TEMPERATURE, DEFAULT_TEMPERATURE)
    top_k = integer(top_k, "top_k", 0, gpt.config.vocab_size, 0)
    top_p = number(top_p, "top_p", MIN_TOP_P, 1.0, 1.0)
    if seed is None or str(seed).strip() == "":
        seed = random.randint(0, MAX_SEED)
    seed = integer(seed, "seed", 0, MAX_SEED, 0)

    continuation = Continuation(model, seed, temperature, top_k or None, top_p if top_p < 1 else None, prompt_ids,
                                gpt.tokenizer.decode(prompt_ids), str(prompt or ""), notes=notes)
    decoder = StreamDecoder(gpt.tokenizer)
    tokens = gpt.stream_tokens(prompt_ids, max_new_tokens, continuation.temperature, continuation.top_k,
                               continuation.top_p, seed)
    for token, probs in tokens:
        continuation.tokens.append(token)
        continuation.pieces.append(decoder.push(token))
        continuation.probabilities.append(float(probs[token]))
        yield continuation
    if tail := decoder.flush():  # an incomplete character at the very end
        continuation.pieces[-1] += tail
        yield continuation


def shared_state(continuation: Continuation | None) -> dict:
    """The fields of a share link to a continuation: its prompt and settings, with the seed it was drawn with.

    max_new_tokens is the number written, so a continuation stopped early is shared as it was shown.
    """
    if continuation is None or not continuation.tokens:
        raise InputError("Generate some text first: a link holds the seed that text was written with")
    return {"model": continuation.model, "prompt": continuation.given_prompt,
            "max_new_tokens": len(continuation.tokens), "temperature": continuation.temperature,
            "top_k": continuation.top_k or 0, "top_p": continuation.top_p or 1.0, "seed": continuation.seed}


def state_from_link(fields: dict[str, str]) -> dict:
    """A share link's text fields -> the arguments of :func:`stream` (checked there, like any request's)."""
    if not str(fields.get("seed", "")).strip():
        raise InputError("The link has no seed: without it the text cannot be written again")
    unknown = set(fields) - {"model", "prompt", "max_new_tokens", "temperature", "top_k", "top_p", "seed"}
    if unknown:
        raise InputError(f"Unknown field(s) in the link: {', '.join(sorted(unknown))}")
    return {"prompt": "", "max_new_tokens": DEFAULT_NEW_TOKENS, "temperature": DEFAULT_TEMPERATURE, "top_k": 0,
            "top_p": 1.0, "model": DEFAULT_MODEL, **fields}


# --- candidates -----------------------------------------------------------------------------------

@dataclass
class Candidates:
    """The likeliest tokens at one point of the text, before and after the sampling settings."""

    labels: list[str]  # the tokens, shown (the drawn one is added if it is not among the likeliest)
    before: list[float]  # the model's own softmax (temperature 1)
    after: list[float]  # the distribution the token is drawn from: after temperature, top-k and top-p
    drawn: int | None  # the index in labels of the token that was drawn there, if one was
    title: str


@torch.inference_mode()
def distributions(gpt, context: list[int], temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The next token's distributions after ``context`` -> (before, after), each [vocab].

    before: softmax of the logits; after: what is sampled from (next_token_probs), summing to 1 over what it keeps.
    """
    logits = gpt(torch.tensor([context], device=gpt.device))[0, -1].float().cpu()
    return F.softmax(logits, dim=-1), next_token_probs(logits, temperature, top_k, top_p)


def token_label(gpt, token: int) -> str:
    """A token's text, its spaces and line breaks made visible ("�": a piece of a multi-byte character)."""
    text = gpt.tokenizer.decode([token])
    return text.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥") or "∅"


def candidates(continuation: Continuation | None, position=None) -> Candidates:
    """The candidates for token ``position`` of the continuation (None or past the end: the next token).

    Computed again from the ids the model saw there (one forward pass), under the continuation's own settings.
    """
    if continuation is None or not isinstance(continuation, Continuation):
        raise InputError("Generate a continuation first; then click any of its tokens")
    gpt = get_model(continuation.model)
    end = len(continuation.tokens)
    position = end if position is None else integer(position, "position", 0, end, end)
    context = continuation.context(position, gpt.config.block_size)
    before, after = distributions(gpt, context, continuation.temperature, continuation.top_k, continuation.top_p)
    ids = before.topk(min(CANDIDATES, before.numel())).indices.tolist()
    drawn = continuation.tokens[position] if position < end else None
    if drawn is not None and drawn not in ids:
        ids.append(drawn)
    shown = gpt.tokenizer.decode(context)[-CONTEXT_SHOWN:].replace("\n", "↵")
    where = "The next token" if drawn is None else f"{unit(gpt).capitalize()} {position + 1} of the continuation"
    return Candidates([token_label(gpt, i) for i in ids], before[ids].tolist(), after[ids].tolist(),
                      None if drawn is None else ids.index(drawn), f"{where}, after\n“…{shown}”")


def candidates_figure(c: Candidates) -> "Figure":
    """Horizontal bars, likeliest on top: before (grey) and after (blue) the sampling settings."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # here: the app starts sooner without it
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    rows = torch.arange(len(c.labels)).float()
    height = 0.4
    for offset, values, colour, label in [(-height / 2, c.before, "#9ca3af", "model's softmax (temperature 1)"),
                                          (height / 2, c.after, "#2563eb", "sampled from (after the settings)")]:
        bars = axes.barh(rows + offset, values, height, color=colour, label=label)
        axes.bar_label(bars, [f"{p:.0%}" if p >= 0.01 else "" for p in values], padding=2, fontsize=7)
    labels = [f"{label}  ◀ drawn" if i == c.drawn else label for i, label in enumerate(c.labels)]
    axes.set_yticks(rows.tolist(), labels, fontsize=10, parse_math=False)  # text as written: "$" is no maths
    if c.drawn is not None:
        axes.get_yticklabels()[c.drawn].set_color("#dc2626")
    axes.invert_yaxis()
    axes.set_xlim(0, 1.1)
    axes.set_xlabel("probability")
    axes.set_title(c.title, fontsize=10, parse_math=False)
    axes.legend(loc="lower right", fontsize=8, frameon=False)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure


# --- attention ------------------------------------------------------------------------------------

@dataclass
class AttentionMap:
    """One head's attention over the prompt: row i is how token i spreads its attention over tokens 0..i."""

    labels: list[str]
    weights: torch.Tensor  # [T, T], rows summing to 1, zero above the diagonal
    title: str


def attention(prompt: str | None = "", layer=1, head=1, model: str = DEFAULT_MODEL) -> AttentionMap:
    """The attention of one layer and head (both counted from 1, as the sliders show) over the prompt."""
    gpt = get_model(model)
    ids, _ = encode_prompt(gpt, prompt)
    ids = ids[-ATTENTION_TOKENS:]
    layer = integer(layer, "layer", 1, gpt.config.n_layer, 1)
    head = integer(head, "head", 1, gpt.config.n_head, 1)
    maps = gpt.attention_maps(torch.tensor(ids, device=gpt.device))
    title = f"Layer {layer}, head {head}: who attends to whom ({len(ids)} {unit(gpt)}s of the prompt)"
    return AttentionMap([token_label(gpt, i) for i in ids], maps[layer - 1, head - 1].float().cpu(), title)


def attention_figure(a: AttentionMap) -> "Figure":
    """The map as a heatmap: queries down, keys across; every token labelled while they stay readable."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # here: the app starts sooner without it
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(a.weights.numpy(), cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.03, label="attention weight")
    step = max(1, len(a.labels) // 40)
    ticks = list(range(0, len(a.labels), step))
    size = 9 if len(a.labels) <= 20 else 8 if len(a.labels) <= 40 else 6
    axes.set_xticks(ticks, [a.labels[i] for i in ticks], rotation=90, fontsize=size, parse_math=False)
    axes.set_yticks(ticks, [a.labels[i] for i in ticks], fontsize=size, parse_math=False)
    axes.set_xlabel("attended token (key)")
    axes.set_ylabel("attending token (query)")
    axes.set_title(a.title, fontsize=10)
    figure.tight_layout()
    return figure

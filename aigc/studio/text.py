"""The Transformer tab: stream a continuation of a prompt, and look inside the model while it writes.

- **How sure**, for each token: its probability under the distribution it was
  drawn from, after temperature, top-k and top-p.  Near 1 the model had little
  choice; near 0 it was a lucky draw.
- **Candidates** at any point of the text: the ten likeliest next tokens, with
  their probabilities before (the model's own softmax, temperature 1) and after
  the sampling settings (what the token was actually drawn from).
- **Attention** of any token, prompt or written: how much it looks at each
  earlier token of its window, for every head of a layer, drawn over the text.
- **One token at a time**: a step writes what a whole generation with the same
  seed writes, one token further.

The models: the bundled character-level GPTs, and GPT-2 (124M, byte-level BPE)
from the Hub, downloaded on first use.
"""

import html
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from aigc.models.gpt import next_token_probs
from aigc.models.tokens import StreamDecoder, context_start
from aigc.studio import MAX_SEED, InputError, integer, number
from aigc.studio.models import registry

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
ATTENTION_SHOWN = 400  # tokens of a window drawn in the attention view (the window itself may be 1,024)
SMALL_SHOWN = 60  # and in each head's small copy
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
    prompt_pieces: list[str] = field(default_factory=list)  # each of its tokens' text, as ``pieces``
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

    def snapshot(self) -> "Continuation":
        """A copy that the stream's later tokens leave as it is (the stream grows its own in place)."""
        return replace(self, tokens=list(self.tokens), pieces=list(self.pieces),
                       probabilities=list(self.probabilities), notes=list(self.notes))

    def window(self, item: int, block_size: int) -> list[int]:
        """The window that ends with token ``item`` of prompt + continuation: what it attended over."""
        if item < len(self.prompt_ids):
            return self.prompt_ids[: item + 1]
        return self.context(item - len(self.prompt_ids) + 1, block_size)

    def matches(self, prompt, temperature, top_k, top_p, model) -> bool:
        """Whether this continuation was written from ``prompt`` with these (checked) settings."""
        return (self.given_prompt, self.temperature, self.top_k, self.top_p, self.model) == (
            str(prompt or ""), temperature, top_k, top_p, model)


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


def sampling(gpt, temperature, top_k, top_p) -> tuple[float, int | None, float | None]:
    """temperature, top_k and top_p clamped to [0, 2], [0, vocabulary] and [0.01, 1] -> as next_token_probs
    takes them: top_k 0 and top_p 1 (off) become None."""
    temperature = number(temperature, "temperature", 0.0, MAX_TEMPERATURE, DEFAULT_TEMPERATURE)
    top_k = integer(top_k, "top_k", 0, gpt.config.vocab_size, 0)
    top_p = number(top_p, "top_p", MIN_TOP_P, 1.0, 1.0)
    return temperature, top_k or None, top_p if top_p < 1 else None


def pieces(gpt, ids: list[int]) -> list[str]:
    """Each token's text, as the stream writes it: a character cut between tokens is shown with the last."""
    decoder = StreamDecoder(gpt.tokenizer)
    texts = [decoder.push(token) for token in ids]
    texts[-1] += decoder.flush()
    return texts


def begin(prompt: str | None = "", temperature=DEFAULT_TEMPERATURE, top_k=0, top_p=1.0, seed=None,
          model: str = DEFAULT_MODEL) -> Continuation:
    """A continuation of no tokens yet: the prompt as the model sees it, the settings checked, the seed drawn."""
    gpt = get_model(model)
    prompt_ids, notes = encode_prompt(gpt, prompt)
    settings = sampling(gpt, temperature, top_k, top_p)
    if seed is None or str(seed).strip() == "":
        seed = random.randint(0, MAX_SEED)
    seed = integer(seed, "seed", 0, MAX_SEED, 0)
    return Continuation(model, seed, *settings, prompt_ids, gpt.tokenizer.decode(prompt_ids), pieces(gpt, prompt_ids),
                        str(prompt or ""), notes=notes)


def stream(prompt: str | None = "", max_new_tokens=DEFAULT_NEW_TOKENS, temperature=DEFAULT_TEMPERATURE, top_k=0,
           top_p=1.0, seed=None, model: str = DEFAULT_MODEL) -> Iterator[Continuation]:
    """Yield the same Continuation after each new token.

    max_new_tokens is clamped to [1, 2000], the settings as :func:`sampling` says; seed None
    (or empty) draws a random seed, which is reported.
    """
    continuation = begin(prompt, temperature, top_k, top_p, seed, model)
    gpt = get_model(model)
    max_new_tokens = integer(max_new_tokens, "max_new_tokens", 1, MAX_NEW_TOKENS, DEFAULT_NEW_TOKENS)
    decoder = StreamDecoder(gpt.tokenizer)
    tokens = gpt.stream_tokens(continuation.prompt_ids, max_new_tokens, continuation.temperature,
                               continuation.top_k, continuation.top_p, continuation.seed)
    for token, probs in tokens:
        continuation.tokens.append(token)
        continuation.pieces.append(decoder.push(token))
        continuation.probabilities.append(float(probs[token]))
        yield continuation
    if tail := decoder.flush():  # an incomplete character at the very end
        continuation.pieces[-1] += tail
        yield continuation


def last(continuations: Iterator[Continuation]) -> Continuation:
    """The last of a stream (the stream grows one Continuation in place)."""
    *_, continuation = continuations
    return continuation


def step(continuation: Continuation | None, prompt: str | None = "", temperature=DEFAULT_TEMPERATURE, top_k=0,
         top_p=1.0, seed=None, model: str = DEFAULT_MODEL) -> Continuation:
    """The continuation one token longer: what :func:`stream` writes with its seed and one token more.

    So a step writes what Generate writes with the same seed, one token at a time.  A continuation of
    another prompt, model, settings or seed (or none) starts again from the prompt.
    """
    start = begin(prompt, temperature, top_k, top_p, seed, model)
    settings = (prompt, start.temperature, start.top_k, start.top_p, model)
    same_seed = seed is None or str(seed).strip() == "" or start.seed == getattr(continuation, "seed", None)
    if isinstance(continuation, Continuation) and continuation.matches(*settings) and same_seed:
        start.seed, length = continuation.seed, len(continuation.tokens) + 1
    else:
        length = 1
    if length > MAX_NEW_TOKENS:
        raise InputError(f"The continuation has {MAX_NEW_TOKENS:,} tokens, the most one writes here")
    return last(stream(prompt, length, temperature, top_k, top_p, start.seed, model))


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


# --- how sure, token by token ------------------------------------------------------------------------

@dataclass(frozen=True)
class Band:
    """A range of probabilities of the chosen token, told apart by colour and by an underline style."""

    low: float  # the band holds probabilities from this one up to the next band's
    label: str
    colour: str  # the token's background: light tints of Paul Tol's colour-blind-safe "sunset" scheme
    underline: str  # the second cue, for those who cannot tell the colours apart: a text-decoration-style
    # (styles that stay distinct under a single character: a dash would look solid)


BANDS = [
    Band(0.9, "sure (≥ 90%)", "#6ea6cd", "none"),
    Band(0.5, "likely (50–90%)", "#c2e4ef", "dotted"),
    Band(0.2, "unsure (20–50%)", "#feda8b", "solid"),
    Band(0.0, "a guess (< 20%)", "#f67e4b", "double"),
]
TOKEN_TEXT = "#111827"  # the text on every band's colour, light page or dark (a contrast of 4.5:1 at least)


def band(probability: float) -> int:
    """The index in BANDS of a probability's band."""
    return next(i for i, b in enumerate(BANDS) if probability >= b.low)


def token_span(item: int, piece: str, title: str, css_class: str, focusable: bool) -> str:
    text = html.escape(piece).replace("\n", "↵\n")
    tabindex = ' tabindex="0"' if focusable else ""
    return (f'<span class="t {css_class}" role="button" data-i="{item}" title="{html.escape(title)}"{tabindex}>'
            f"{text}</span>")


def confidence_html(c: Continuation | None) -> str:
    """The prompt (plain) and the continuation, each token in the colour and underline of its probability's band.

    One span per token, its index in prompt + continuation as ``data-i`` (what a click or Enter selects); the first
    written token (before any: the first of the prompt) is the one Tab reaches, arrows move from there.
    """
    legend = "".join(f'<span class="t b{i}">{html.escape(b.label)}</span> ' for i, b in enumerate(BANDS))
    head = (f'<p class="legend">How sure the model was of each token it wrote: {legend}'
            '<span class="t">the prompt</span>. Click a token, or Tab to it, move with the arrows and press '
            "Enter, to look inside the model there.</p>")
    if c is None:
        return head
    first = len(c.prompt_pieces) if c.pieces else 0
    spans = [token_span(i, piece, "the prompt", "p", i == first) for i, piece in enumerate(c.prompt_pieces)]
    for n, (piece, p) in enumerate(zip(c.pieces, c.probabilities, strict=True)):
        i = len(c.prompt_pieces) + n
        spans.append(token_span(i, piece, f"{p:.1%}: {BANDS[band(p)].label}", f"b{band(p)}", i == first))
    label = "The prompt and the continuation, token by token"
    return f'{head}<div class="tokens" role="group" aria-label="{label}">{"".join(spans)}</div>'


def confidence_css() -> str:
    """The coloured text's style: each band's colour and underline; a visible ring on the focused token, and an
    outline on the selected one."""
    lines = {"none": "none", "dotted": f"underline dotted {TOKEN_TEXT} 2px",
             "solid": f"underline solid {TOKEN_TEXT} 2px", "double": f"underline double {TOKEN_TEXT} 3px"}
    bands = "\n".join(f".t.b{i} {{ background: {b.colour}; color: {TOKEN_TEXT}; text-decoration: {lines[b.underline]}; "
                       "text-underline-offset: 2px; }" for i, b in enumerate(BANDS))
    return f"""
.tokens {{ white-space: pre-wrap; font-family: ui-monospace, monospace; line-height: 1.9; max-height: 32em;
          overflow-y: auto; padding: 2px; }}
.t {{ cursor: pointer; border-radius: 2px; padding-bottom: 5px; }}  /* the underline inside the colour, on any page */
{bands}
.legend .t {{ padding: 0 0.3em; margin-right: 0.2em; }}
.t:focus-visible {{ outline: 3px solid var(--color-accent, #f97316); outline-offset: 1px; }}
.t[aria-current="true"] {{ outline: 2px solid var(--body-text-color, {TOKEN_TEXT}); outline-offset: 1px; }}
"""


# --- candidates -----------------------------------------------------------------------------------

@dataclass
class Candidates:
    """The likeliest tokens at one point of the text, before and after the sampling settings."""

    labels: list[str]  # the tokens, shown (the drawn one is added if it is not among the likeliest)
    before: list[float]  # the model's own softmax (temperature 1)
    after: list[float]  # the distribution the token is drawn from: after temperature, top-k and top-p
    drawn: int | None  # the index in labels of the token that was drawn there, if one was
    title: str
    tokens: list[str] = field(default_factory=list)  # the tokens' own text (labels make spaces visible)


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


def candidates(continuation: Continuation | None, position=None, settings: tuple | None = None) -> Candidates:
    """The candidates for token ``position`` of the continuation (None or past the end: the next token).

    Computed again from the ids the model saw there (one forward pass), under the continuation's own settings,
    or under ``settings`` (temperature, top_k, top_p, as the sliders stand) to show what they would change.
    """
    if continuation is None or not isinstance(continuation, Continuation):
        raise InputError("Generate a continuation first; then click any of its tokens")
    gpt = get_model(continuation.model)
    end = len(continuation.tokens)
    position = end if position is None else integer(position, "position", 0, end, end)
    context = continuation.context(position, gpt.config.block_size)
    temperature, top_k, top_p = sampling(gpt, *settings) if settings is not None else (
        continuation.temperature, continuation.top_k, continuation.top_p)
    before, after = distributions(gpt, context, temperature, top_k, top_p)
    ids = before.topk(min(CANDIDATES, before.numel())).indices.tolist()
    drawn = continuation.tokens[position] if position < end else None
    if drawn is not None and drawn not in ids:
        ids.append(drawn)
    shown = gpt.tokenizer.decode(context)[-CONTEXT_SHOWN:].replace("\n", "↵")
    where = "The next token" if drawn is None else f"{unit(gpt).capitalize()} {position + 1} of the continuation"
    return Candidates([token_label(gpt, i) for i in ids], before[ids].tolist(), after[ids].tolist(),
                      None if drawn is None else ids.index(drawn), f"{where}, after “…{shown}”",
                      [gpt.tokenizer.decode([i]) for i in ids])


def next_token(prompt: str | None = "", temperature=DEFAULT_TEMPERATURE, top_k=0, top_p=1.0, seed=None,
               model: str = DEFAULT_MODEL) -> dict:
    """One sampling step after the prompt, as JSON: the token drawn (the first that :func:`stream` writes
    with the same seed) and the likeliest candidates, with their probabilities before and after the settings."""
    continuation = last(stream(prompt, 1, temperature, top_k, top_p, seed, model))
    c = candidates(continuation, 0)
    listed = [{"token": token, "p": p, "p_filtered": p_filtered}
              for token, p, p_filtered in zip(c.tokens, c.before, c.after, strict=True)]
    return {"token": c.tokens[c.drawn], "seed": continuation.seed, "candidates": listed}


def bar(value: float, colour: str) -> str:
    return f'<span class="bar" style="width:{100 * value:.1f}%;background:{colour}"></span>'


def candidates_html(c: Candidates) -> str:
    """The candidates as bars, likeliest on top: before (grey) and after (blue) the sampling settings.

    HTML rather than a picture: each row names its exact probabilities on hover, and the text takes the page's
    colours, light or dark.
    """
    rows = []
    for i, (label, before, after) in enumerate(zip(c.labels, c.before, c.after, strict=True)):
        drawn = ' class="drawn"' if i == c.drawn else ""
        rows.append(
            f'<div{drawn} title="{html.escape(label)}: {before:.4f} by the model, {after:.4f} after the settings">'
            f'<code>{html.escape(label)}{" ◀ drawn" if drawn else ""}</code>'
            f'<span class="bars">{bar(before, "#9ca3af")}{bar(after, "#2563eb")}</span>'
            f"<span>{before:.1%} → {after:.1%}</span></div>"
        )
    return (f'<style>{CANDIDATES_CSS}</style><div class="aigc-candidates"><p>{html.escape(c.title)}</p>'
            '<p class="legend"><span style="color:#9ca3af">■</span> the model\'s softmax (temperature 1) '
            '<span style="color:#2563eb">■</span> sampled from (after temperature, top-k, top-p)</p>'
            f'{"".join(rows)}</div>')


# the drawn token in the page's own text colour (bold, underlined, "◀ drawn"): readable on a light or dark page
CANDIDATES_CSS = """
.aigc-candidates > div { display: grid; grid-template-columns: 9em 1fr 9em; gap: 0.5em; align-items: center; }
.aigc-candidates > div.drawn code { font-weight: bold; text-decoration: underline; }
.aigc-candidates .bars { display: flex; flex-direction: column; gap: 2px; }
.aigc-candidates .bar { display: block; height: 0.55em; min-width: 1px; border-radius: 2px; }
.aigc-candidates .legend { font-size: 0.85em; }
"""


# --- attention ------------------------------------------------------------------------------------

@dataclass
class TokenAttention:
    """How one token of a window spreads its attention over itself and the tokens before it, head by head."""

    tokens: list[str]  # the window's tokens' text (a character cut between two tokens is the second's)
    index: int  # the attending token's, in the window
    layer: int  # counted from 1
    heads: torch.Tensor  # [n_head, index + 1]: each row sums to 1

    def as_json(self) -> dict:
        return {"tokens": self.tokens, "index": self.index, "layer": self.layer, "heads": self.heads.tolist()}


def checked(value, name: str, low: int, high: int, default: int) -> int:
    """An integer in [low, high]; out of it, an InputError that gives the range (a wrong index is no clamp)."""
    number_ = integer(value, name, -(2**62), 2**62, default)
    if not low <= number_ <= high:
        raise InputError(f"{name} must be between {low} and {high} here, not {number_}")
    return number_


def window_attention(gpt, window: list[int], index: int, layer: int) -> TokenAttention:
    """Token ``index`` of ``window`` attending, in ``layer`` (from 1): causal, so the tokens after it do not count."""
    heads = gpt.attention_row(torch.tensor(window[: index + 1], device=gpt.device), layer - 1).float().cpu()
    return TokenAttention(pieces(gpt, window), index, layer, heads)


def attention(text: str | None = "", index=-1, layer=1, model: str = DEFAULT_MODEL) -> TokenAttention:
    """The attention of token ``index`` (from 0; negative counts from the end) of the text's window (its last
    block_size tokens) over the earlier ones, for every head of ``layer`` (from 1)."""
    gpt = get_model(model)
    if not str(text or ""):
        raise InputError("Give a text: the attention is that of one of its tokens")
    window, _ = encode_prompt(gpt, text)
    index = checked(index, "index", -len(window), len(window) - 1, -1) % len(window)
    return window_attention(gpt, window, index, checked(layer, "layer", 1, gpt.config.n_layer, 1))


def token_attention(continuation: Continuation | None, item=None, layer=1) -> TokenAttention:
    """The attention of token ``item`` of prompt + continuation (None: the last), over the window it was read in."""
    if continuation is None or not isinstance(continuation, Continuation):
        raise InputError("Generate a continuation first; then click any of its tokens")
    gpt = get_model(continuation.model)
    end = len(continuation.prompt_ids) + len(continuation.tokens) - 1
    window = continuation.window(end if item is None else integer(item, "token", 0, end, end), gpt.config.block_size)
    return window_attention(gpt, window, len(window) - 1, integer(layer, "layer", 1, gpt.config.n_layer, 1))


def tinted(a: TokenAttention, head: int, shown: int = ATTENTION_SHOWN) -> str:
    """The window's text up to the attending token (its last ``shown`` tokens), each token tinted by the weight
    ``head`` gives it."""
    weights = a.heads[head]
    strongest = float(weights.max())
    first = max(0, a.index + 1 - shown)
    spans = [f"<span>… {first} earlier tokens ({float(weights[:first].sum()):.0%} of the attention)</span> "
             ] if first else []
    for i in range(first, a.index + 1):
        weight = float(weights[i])
        text = html.escape(a.tokens[i]).replace("\n", "↵\n") or "∅"
        query = ' class="query"' if i == a.index else ""
        spans.append(f'<span{query} title="token {i}: {weight:.4f}" '
                     f'style="background:rgba(249,115,22,{0.85 * weight / strongest:.2f})">{text}</span>')
    return "".join(spans)


def attention_html(a: TokenAttention, head: int = 1) -> str:
    """The attending token (outlined) and what it attends to, tinted over the text: ``head`` (from 1) large,
    every head of the layer small beside it."""
    head = integer(head, "head", 1, len(a.heads), 1)
    query = html.escape(a.tokens[a.index]).replace("\n", "↵").replace(" ", "␣") or "∅"
    small = "".join(
        f'<figure class="{"chosen" if h == head - 1 else ""}"><figcaption>head {h + 1}</figcaption>'
        f'<div class="text">{tinted(a, h, SMALL_SHOWN)}</div></figure>' for h in range(len(a.heads)))
    return (f'<style>{ATTENTION_CSS}</style><div class="aigc-attention">'
            f'<p>Layer {a.layer}, head {head}: what <span class="query">{query}</span> '
            f"(token {a.index + 1} of its window of {len(a.tokens)}) attends to; the deeper the colour, the more. "
            f'Hover a token for its weight.</p><div class="text large">{tinted(a, head - 1)}</div>'
            f'<p>Every head of layer {a.layer}:</p><div class="heads">{small}</div></div>')


ATTENTION_CSS = """
.aigc-attention .text { white-space: pre-wrap; font-family: ui-monospace, monospace; line-height: 1.5; }
.aigc-attention .text.large { max-height: 24em; overflow-y: auto; }
.aigc-attention .query { outline: 2px solid #dc2626; border-radius: 2px; }
.aigc-attention .heads { display: grid; grid-template-columns: repeat(auto-fill, minmax(14em, 1fr)); gap: 0.5em; }
.aigc-attention figure { margin: 0; border: 1px solid var(--border-color-primary, #ccc); padding: 0.25em; }
.aigc-attention figure.chosen { border: 2px solid #f97316; }
.aigc-attention figure .text { font-size: 0.6em; line-height: 1.2; max-height: 12em; overflow: hidden; }
"""

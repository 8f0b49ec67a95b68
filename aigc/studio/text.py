"""The Transformer tab: stream a continuation of a prompt, with how sure the model was of each character.

"How sure" is the probability of the chosen character under the distribution
it was drawn from, after temperature, top-k and top-p: near 1 the model had
little choice, near 0 it was a lucky draw.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from aigc.studio import MAX_SEED, InputError, gpu, integer, number
from aigc.studio.models import registry

DEFAULT_MODEL = "gpt-shakespeare"
MAX_NEW_TOKENS, DEFAULT_NEW_TOKENS = 2000, 300
MAX_PROMPT_CHARS = 20_000  # longer prompts are refused; the model itself sees only its last block_size
MAX_TEMPERATURE, DEFAULT_TEMPERATURE = 2.0, 0.8
MIN_TOP_P = 0.01


@dataclass
class Continuation:
    """A growing continuation: its characters with their probabilities, and what was done to the input."""

    seed: int
    prompt: str  # the part of the prompt the model sees
    chars: list[str] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.chars)

    @property
    def mean_probability(self) -> float | None:
        return sum(self.probabilities) / len(self.probabilities) if self.probabilities else None


def gpt_models() -> list[str]:
    return registry().names("gpt")


@gpu
def stream(prompt: str | None = "", max_new_tokens=DEFAULT_NEW_TOKENS, temperature=DEFAULT_TEMPERATURE, top_k=0,
           top_p=1.0, seed=None, model: str = DEFAULT_MODEL) -> Iterator[Continuation]:
    """Yield the same Continuation after each new character.

    max_new_tokens is clamped to [1, 2000], temperature to [0, 2] (0 = greedy),
    top_k to [0, vocabulary] (0 = off), top_p to [0.01, 1] (1 = off); seed None
    (or empty) draws a random seed, which is reported.  An empty prompt starts
    from a newline; a prompt longer than the context keeps its end.
    """
    gpt = registry().get(model, "gpt")
    prompt = "" if prompt is None else str(prompt)
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InputError(f"The prompt has {len(prompt):,} characters; the limit is {MAX_PROMPT_CHARS:,}")
    unknown = gpt.tokenizer.unknown(prompt)
    if unknown:
        shown = " ".join(repr(c) for c in unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        raise InputError(f"The model does not know these characters: {shown}. Remove or replace them "
                         f"(it knows {gpt.config.vocab_size} characters, those of its training text)")
    max_new_tokens = integer(max_new_tokens, "max_new_tokens", 1, MAX_NEW_TOKENS, DEFAULT_NEW_TOKENS)
    temperature = number(temperature, "temperature", 0.0, MAX_TEMPERATURE, DEFAULT_TEMPERATURE)
    top_k = integer(top_k, "top_k", 0, gpt.config.vocab_size, 0)
    top_p = number(top_p, "top_p", MIN_TOP_P, 1.0, 1.0)
    if seed is None or str(seed).strip() == "":
        seed = random.randint(0, MAX_SEED)
    seed = integer(seed, "seed", 0, MAX_SEED, 0)

    block = gpt.config.block_size
    continuation = Continuation(seed=seed, prompt=(prompt or "\n")[-block:])
    if len(prompt) > block:
        continuation.notes.append(f"The prompt has {len(prompt):,} characters; the model sees only its last {block}.")
    tokens = gpt.stream_tokens(gpt.tokenizer.encode(continuation.prompt), max_new_tokens, temperature,
                               top_k or None, top_p if top_p < 1 else None, seed)
    for token, probs in tokens:
        continuation.chars.append(gpt.tokenizer.decode([token]))
        continuation.probabilities.append(float(probs[token]))
        yield continuation

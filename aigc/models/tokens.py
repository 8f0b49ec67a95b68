"""Text as a GPT sees it: the tokenizers, the decoding of a token stream, and the context window.

A GPT's config names its tokenizer: "char" (one id per character, the
alphabet saved in the config) or "bpe" (byte-level BPE, GPT-2's, read from a
``tokenizer.json`` beside the weights by the loader; see ``gpt2.py``).  Both
have the same interface: ``encode``, ``decode`` and ``unknown``.

The context window: when the context holds more than ``block_size`` tokens,
it restarts from the last ``block_size // 2`` of them (absolute positions
cannot slide).  :func:`window_length` is that rule, which ``GPT.stream_tokens``
applies as it samples and :func:`context_start` replays afterwards.
"""

from pathlib import Path

from tokenizers import Tokenizer

TOKENIZERS = ("char", "bpe")


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


class BPETokenizer:
    """A byte-level BPE tokenizer (``tokenizer.json``) with CharTokenizer's interface."""

    def __init__(self, path: str | Path):
        try:
            self.tokenizer = Tokenizer.from_file(str(path))
        except Exception as e:  # the library raises a bare Exception for a missing or unreadable file
            raise OSError(f"{Path(path).name} is not a readable tokenizer ({e})") from e

    def unknown(self, text: str) -> list[str]:
        """Nothing: every string is a sequence of bytes, and every byte has a token."""
        return []

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        """The text of ``ids``; special tokens such as <|endoftext|> are kept, so that the reader sees them."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def save(self, path: str | Path) -> None:
        self.tokenizer.save(str(path))


class StreamDecoder:
    """Token ids, one at a time -> text pieces that never split a character.

    A byte-level BPE token can end inside a multi-byte character (an emoji is
    often two tokens), which decodes alone as U+FFFD.  Such a token's text is
    held back (its piece is "") until a later token completes the character,
    so the pieces always join to the decoding of all the tokens.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.pending: list[int] = []

    def push(self, token: int) -> str:
        self.pending.append(token)
        text = self.tokenizer.decode(self.pending)
        if text.endswith("\ufffd"):  # perhaps a character cut in two: wait for the next token
            return ""
        self.pending = []
        return text

    def flush(self) -> str:
        """What is still held back, at the end of the stream."""
        text, self.pending = self.tokenizer.decode(self.pending), []
        return text


def window_length(length: int, block_size: int) -> int:
    """How many of its last tokens a context of ``length`` tokens keeps: the context-window rule.

    All of them while they fit; one past ``block_size``, the window restarts from its last ``block_size // 2``
    tokens, so that the next ones cost one position each again (with a KV cache) instead of a whole window.
    """
    return length if length <= block_size else block_size // 2


def context_start(prompt_length: int, new_tokens: int, block_size: int) -> int:
    """Where the context of the ``new_tokens``-th sampled token begins, in prompt + continuation.

    ``prompt_length`` is the part of the prompt the model saw (at most block_size); each sampled token
    grows the context by one, and :func:`window_length` cuts it as ``GPT.stream_tokens`` did.
    """
    start, length = 0, prompt_length
    for end in range(prompt_length + 1, prompt_length + new_tokens + 1):
        length = window_length(length + 1, block_size)
        start = end - length
    return start

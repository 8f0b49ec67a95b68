"""What the app's tabs do, as plain functions that tests call without a browser.

One module per tab (``gan``, ``vae``, ``text``, ``compare``), the models they
share (``models``) and the reading of uploaded pictures (``uploads``).  No
Gradio here: ``aigc.ui`` wires these functions to components.

Every value that a person or an API client sends is checked here, on the
server: numbers are clamped to their documented limits, and anything that
cannot be used raises :class:`InputError` with a message meant for that person.
"""

import math
import tempfile
import time
import uuid
from pathlib import Path

try:  # on a ZeroGPU Space, model work must run inside spaces.GPU to get a GPU
    import spaces

    gpu = spaces.GPU
except ImportError:
    def gpu(fn):
        """Without the ``spaces`` package (anywhere but ZeroGPU), functions run unchanged."""
        return fn

MAX_SEED = 2**31 - 1  # seeds stay exact in JavaScript numbers and in every widget
OUTPUT_DIR = Path(tempfile.gettempdir()) / "aigc-studio"
OUTPUT_LIFETIME_S = 3600


class InputError(ValueError):
    """An input that cannot be used; the message tells the person what to change."""


def shown(value, limit: int = 60) -> str:
    """``repr(value)`` for an error message, cut to about ``limit`` characters: a message never echoes a
    megabyte back to the person who sent it."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def number(value, name: str, low: float, high: float, default: float) -> float:
    """A finite number clamped to [low, high]; None (or empty) gives ``default``."""
    if value is None or value == "":
        return default
    try:
        value = float(value)
    except OverflowError:  # an integer too big for a float is far out of range: clamp it like any other
        value = math.inf if value > 0 else -math.inf
    except (TypeError, ValueError):
        raise InputError(f"Expected a number for {name}, not {shown(value)}") from None
    if math.isnan(value):
        raise InputError(f"Expected a number for {name}, not NaN")
    return min(max(value, low), high)


def integer(value, name: str, low: int, high: int, default: int) -> int:
    """Like :func:`number`, rounded to the nearest integer."""
    return int(round(number(value, name, low, high, default)))


def output_file(suffix: str) -> Path:
    """A fresh path for a file the app hands out (a GIF); files older than an hour are removed."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - OUTPUT_LIFETIME_S
    for old in OUTPUT_DIR.iterdir():
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except FileNotFoundError:  # another request removed it first
            pass
    return OUTPUT_DIR / f"{uuid.uuid4().hex}{suffix}"

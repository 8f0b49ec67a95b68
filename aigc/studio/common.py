"""What the studio's modules share: the checks of the values people and clients send, the ZeroGPU decorator,
and the files the app hands out.

Every value that a person or an API client sends is checked on the server:
numbers are clamped to their documented limits, and anything that cannot be
used raises :class:`InputError` with a message meant for that person.
"""

import math
import os
import tempfile
import time
import uuid
from pathlib import Path

# A ZeroGPU Space (SPACES_ZERO_GPU set, the ``spaces`` package installed) lends a GPU only to a function decorated
# with spaces.GPU, for as long as it runs, in a forked process whose result comes back pickled.
spaces = None
if os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true"):
    try:
        import spaces  # before any CUDA work: it sets up ZeroGPU's stand-in for CUDA
    except ImportError:
        pass
ZERO_GPU = spaces is not None


def gpu(duration: int):
    """The decorator of a Gradio handler that does model work: on ZeroGPU, ``spaces.GPU(duration=...)`` (a GPU for
    at most ``duration`` seconds per call); anywhere else the handler is left as it is, and the models run on
    their own device ($AIGC_DEVICE, else CUDA where there is one).  Put it on the handler an event calls, not on
    the functions it calls, so that one event asks for one GPU, and return nothing that lives on the GPU."""
    if ZERO_GPU:
        return spaces.GPU(duration=duration)
    return lambda handler: handler


MAX_SEED = 2**31 - 1  # seeds stay exact in JavaScript numbers and in every widget
OUTPUT_DIR = Path(tempfile.gettempdir()) / "aigc-studio"
# Gradio copies a file a handler returns into its own cache (which app.DELETE_CACHE empties): the app's own copy
# is needed for a moment only, and a Python caller has ten minutes to read it.  After 1,000 varied requests these
# copies were half the disk the app used, when they were kept an hour.
OUTPUT_LIFETIME_S = 600


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
    """A fresh path for a file the app hands out (a GIF); files older than OUTPUT_LIFETIME_S are removed."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - OUTPUT_LIFETIME_S
    for old in OUTPUT_DIR.iterdir():
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except FileNotFoundError:  # another request removed it first
            pass
    return OUTPUT_DIR / f"{uuid.uuid4().hex}{suffix}"

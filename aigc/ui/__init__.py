"""The Gradio tabs, one file each: components, and events wired to the plain functions of ``aigc.studio``.

The events that make the public API run with ``preprocess=False``: the studio
functions check and clamp the raw values themselves, so that the page and API
clients meet the same limits and the same readable errors.  (Gradio's own
preprocessing would refuse an out-of-range slider value, and fail on a file
that is not a picture with a message the person never sees.)
"""

import functools
import inspect

import gradio as gr

from aigc.hub import ModelLoadError
from aigc.studio import InputError

USER_ERRORS = (InputError, ModelLoadError)


def user_errors(fn):
    """Show InputError and ModelLoadError to the person as a gr.Error (Gradio hides other exceptions' messages).

    Works for plain and for generator (streaming) handlers, and keeps the
    handler's signature, whose parameter names are the API's.  The message is
    the whole story, so the studio traceback is not chained into the log.
    """
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def streaming(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except USER_ERRORS as e:
                raise gr.Error(str(e)) from None

        return streaming

    @functools.wraps(fn)
    def handler(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as e:
            raise gr.Error(str(e)) from None

    return handler


def preferred(choices: list[str], name: str) -> str | None:
    """``name`` if it is among ``choices``, else the first choice (None if there are none)."""
    return name if name in choices else next(iter(choices), None)


def random_seed_js(max_seed: int) -> str:
    """A browser-side handler for a 🎲 button: a new seed without a round trip to the server."""
    return f"() => Math.floor(Math.random() * {max_seed + 1})"

"""What the app's tabs do, as plain functions that tests call without a browser.

One module per tab (``gan``, ``vae``, ``text``, ``compare``, ``train``), the
models they share (``models``), the reading of uploaded pictures (``uploads``)
and what every module uses (``common``: the checks of the values people and
clients send, :class:`InputError`, the ZeroGPU decorator).  No Gradio here:
``aigc.ui`` wires these functions to components.
"""

from aigc.studio.common import (
    MAX_SEED,
    OUTPUT_DIR,
    OUTPUT_LIFETIME_S,
    ZERO_GPU,
    InputError,
    gpu,
    integer,
    number,
    output_file,
    shown,
)

__all__ = [
    "MAX_SEED", "OUTPUT_DIR", "OUTPUT_LIFETIME_S", "ZERO_GPU", "InputError", "gpu", "integer", "number",
    "output_file", "shown",
]

"""Two Gradio bugs that this app meets, worked around until Gradio fixes them; ``build_app`` installs the fixes.

A picture half-written while it is downloaded.  Gradio stores every picture a
handler returns in a file named by a hash of its bytes, and writes that file by
truncating and rewriting it in place, even when it already exists.  When two
people get the same picture at the same moment (everyone who opens the page
gets the same first GAN picture), one of them can download it while it is being
rewritten: an empty or cut picture in the browser, and "Too little data for
declared Content-Length" in the log.  Writing through a temporary file and
renaming it into place (as Gradio already does for files) gives every reader a
whole picture.

A file parameter sent something that is not an uploaded file.  Before any
handler runs, Gradio checks an upload's JSON against its data model and refuses
paths that were not uploaded; either refusal (an API client sending ``False``
instead of ``handle_file("x.png")``, or the path of a file on the server) is an
unexpected exception to it, so the client only learns that "the upstream Gradio
app has raised an exception".  Here it becomes a gr.Error that says what to send.

tests/test_load.py and tests/test_abuse.py have the regression tests.
"""

import os
import tempfile
from pathlib import Path

import gradio as gr
import pydantic
from gradio import processing_utils
from gradio.exceptions import InvalidPathError

from aigc.studio import shown
from aigc.ui.common import for_page

UPLOAD_HINT = "with gradio_client: handle_file(path)"


def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    """Gradio's ``processing_utils.save_pil_to_cache``, written atomically."""
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    path = (folder / f"{name}.{format}").resolve()
    descriptor, staging = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(staging, path)  # readers see the old whole file or the new whole file, never a part
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return str(path)


def clear_file_errors(preprocess_data):
    """``Blocks.preprocess_data``, with a file payload that Gradio refuses reported as a gr.Error."""
    async def checked(*args, **kwargs):
        try:
            return await preprocess_data(*args, **kwargs)
        except pydantic.ValidationError as e:
            sent = e.errors()[0].get("input") if e.errors() else None
            raise gr.Error(for_page(f"A file parameter got {shown(sent)}, which is not an uploaded file; upload one "
                                    f"({UPLOAD_HINT})")) from None
        except InvalidPathError:
            raise gr.Error(f"A file parameter names a file that was not uploaded; upload it ({UPLOAD_HINT})") from None

    return checked


def install() -> None:
    """Idempotent: build_app may run more than once in a process (the tests build several apps)."""
    processing_utils.save_pil_to_cache = save_pil_to_cache
    if not getattr(gr.Blocks.preprocess_data, "clear_file_errors", False):
        gr.Blocks.preprocess_data = clear_file_errors(gr.Blocks.preprocess_data)
        gr.Blocks.preprocess_data.clear_file_errors = True

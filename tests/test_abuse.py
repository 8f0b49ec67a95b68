"""Hostile input on every endpoint, and broken weights at start-up: clear errors, never a dead server.

The property (DESIGN.md, "Bad input"): whatever a client sends (wrong types,
NaN, huge numbers, megabyte strings, lists, broken files), the call returns a
result or a gradio_client AppError whose message a person can read, and the
server goes on serving.  Endpoints come from the running app's API, so new ones
are covered.  Examples are derandomized, so CI runs the same ones every time.
"""

import io
import json
import math
import random
import re
import shutil
import struct
import sys
import time
import zlib
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from aigc.hub import WEIGHTS_DIR
from aigc.studio import InputError, compare, gan, number, vae
from aigc.studio.models import registry
from aigc.studio.uploads import to_model_input
from helpers import sample_picture, serving

EXAMPLES_PER_ENDPOINT = 15
MAX_MESSAGE_CHARS = 2_000  # an error is read in a toast: it says what is wrong, it does not echo a megabyte back
UNREADABLE = ["verbose error reporting", "Traceback", "Exception"]  # what an unexpected exception looks like

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 10**30, -(10**30), 10**400, -1, 0]),
    st.text(max_size=40),
    st.sampled_from([10_000, 1_000_000]).map(lambda n: "9" * n),  # a huge string, and a huge number as text
    st.lists(st.integers(), max_size=4),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
    st.just({"path": __file__, "meta": {"_type": "gradio.FileData"}}),  # a file payload in a non-file place
)


def claiming_size(png: bytes, width: int, height: int) -> bytes:
    """The same PNG with a header (its IHDR chunk, checksum and all) that claims another size."""
    header = png[12:16] + struct.pack(">II", width, height) + png[24:29]
    return png[:12] + header + struct.pack(">I", zlib.crc32(header)) + png[33:]


def broken_files(folder: Path) -> list[str]:
    """A good picture, and files that claim to be pictures and are not."""
    png = sample_picture(folder)
    whole = Path(png).read_bytes()
    files = {"random.png": random.Random(0).randbytes(10_000), "truncated.png": whole[: len(whole) // 2],
             "empty.png": b"", "text.png": b"not a picture at all",
             "bomb.png": claiming_size(whole, 100_000, 100_000)}  # ten gigapixels, if it were decoded
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [png, *(str(folder / name) for name in files)]


def choices(type_name: str) -> list[str]:
    """The values of a Literal[...] parameter type, as view_api writes it."""
    return re.findall(r"'([^']*)'", type_name) if type_name.startswith("Literal[") else []


def parameter_values(parameter: dict, files: list[str]):
    """Valid values for the parameter mixed with hostile ones."""
    kind = parameter["python_type"]["type"]
    if kind == "filepath":
        return st.one_of(st.sampled_from(files).map(handle_file), HOSTILE)
    valid = [st.sampled_from(choices(kind))] if choices(kind) else []
    if parameter["parameter_has_default"]:
        valid.append(st.just(parameter["parameter_default"]))
    if kind in ("float", "int"):
        valid.append(st.floats(-10, 100) if kind == "float" else st.integers(-10, 100))
    return st.one_of(*valid, HOSTILE)


def assert_readable(message: str) -> None:
    assert message.strip() and message.strip() not in ("Error", "None"), f"an empty error: {message!r}"
    assert not any(sign in message for sign in UNREADABLE), f"not a message for a person: {message[:500]}"
    assert len(message) <= MAX_MESSAGE_CHARS, f"a {len(message):,}-character error: {message[:200]}..."


def call_raw(url: str, endpoint: str, parameters: list[dict], request: dict) -> None:
    """Call the endpoint over Gradio's HTTP API, for values that gradio_client cannot send.

    JSON has no NaN or infinity, so gradio_client refuses them; a hand-made
    request can send them all the same (Python's JSON reader accepts them).
    Missing parameters take their defaults; file parameters are left empty.
    """
    data = [None if p["python_type"]["type"] == "filepath" else request.get(p["parameter_name"],
                                                                             p["parameter_default"])
            for p in parameters]
    call = httpx.post(f"{url}gradio_api/call{endpoint}", content=json.dumps({"data": data}),
                      headers={"Content-Type": "application/json"}, timeout=60)
    call.raise_for_status()
    with httpx.stream("GET", f"{url}gradio_api/call{endpoint}/{call.json()['event_id']}", timeout=120) as events:
        lines = events.iter_lines()
        for line in lines:
            if line in ("event: complete", "event: generating"):
                return  # a result, or the first piece of one
            if line == "event: error":
                error = json.loads(next(lines).removeprefix("data: "))  # a message, or {"error": message, ...}
                assert_readable((error if isinstance(error, str) else (error or {}).get("error")) or "")
                return
    raise AssertionError(f"{endpoint} closed its stream without an answer to {request!r:.300}")


def answer(client: Client, endpoint: str, request: dict, streaming: bool) -> None:
    """Call the endpoint; a stream counts as answered at its first piece (then it is stopped)."""
    job = client.submit(api_name=endpoint, **request)
    deadline = time.monotonic() + 120
    while streaming and not job.done() and not job.outputs():
        assert time.monotonic() < deadline, f"{endpoint} did not answer {request!r:.300}"
        time.sleep(0.02)
    if streaming and not job.done():
        job.cancel()
        return
    try:
        job.result(timeout=120)
    except AppError as e:
        assert_readable(str(e))


def check(client: Client, endpoint: str, parameters: list[dict], request: dict, streaming: bool) -> None:
    """One hostile request gets an answer, and then the server still draws a GAN picture."""
    if any(isinstance(value, float) and not math.isfinite(value) for value in request.values()):
        call_raw(client.src, endpoint, parameters, request)
    else:
        answer(client, endpoint, request, streaming)
    assert client.predict(model="gan-mnist", seed=1, api_name="/gan_generate")


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False, httpx_kwargs={"timeout": 120})


def test_every_endpoint_answers_hostile_input_clearly_and_keeps_serving(client, tmp_path_factory):
    files = broken_files(tmp_path_factory.mktemp("uploads"))
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    streaming = {f"/{d['api_name']}" for d in client.config["dependencies"] if d.get("types", {}).get("generator")}
    for endpoint, info in endpoints.items():
        requests = st.fixed_dictionaries(
            {}, optional={p["parameter_name"]: parameter_values(p, files) for p in info["parameters"]})

        @settings(max_examples=EXAMPLES_PER_ENDPOINT, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(request=requests)
        def is_answered(request):
            check(client, endpoint, info["parameters"], request, endpoint in streaming)  # noqa: B023 (run here)

        is_answered()


# --- what the property found, pinned down ---------------------------------------------------------

def test_numbers_too_big_for_a_float_are_clamped_like_any_other():
    assert number(10**400, "steps", 2, 64, 10) == 64 and number(-(10**400), "steps", 2, 64, 10) == 2


@pytest.mark.parametrize("call", [
    lambda: registry().get("9" * 1_000_000, "vae"),
    lambda: gan.generate("gan-mnist", label="x" * 1_000_000),
    lambda: number("x" * 1_000_000, "seed", 0, 1, 0),
    lambda: vae.interpolate("vae-mnist", None, None, mode={"lerp": 1}),
    lambda: compare.compare(["mnist"]),
], ids=["model", "label", "number", "unhashable mode", "unhashable dataset"])
def test_hostile_values_get_a_short_clear_error(call):
    with pytest.raises(InputError) as refused:
        call()
    assert len(str(refused.value)) < 300


def drawing(kind: str) -> Image.Image:
    """A white square on black, in a mode that ``kind`` can store."""
    picture = Image.new("L", (40, 40), 0)
    picture.paste(255, (10, 10, 30, 30))
    return picture.convert("RGB") if kind in ("PDF", "EPS") else picture


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"])
def test_uploads_in_the_picture_formats_are_read(tmp_path, kind):
    path = tmp_path / f"drawing.{kind.lower()}"
    drawing(kind).save(path, kind)
    assert to_model_input(str(path)).shape == (1, 28, 28)


@pytest.mark.parametrize("kind", ["EPS", "PDF", "ICO", "PCX", "TGA", "PPM", "SPIDER"])
def test_uploads_in_any_other_format_pillow_knows_are_refused_clearly(tmp_path, kind):
    """Pillow reads these too (an EPS through Ghostscript, where it is installed): an upload is never opened as one."""
    path = tmp_path / "drawing.png"  # the name a browser would send proves nothing
    # Written through memory: Pillow's SPIDER writer registers the extension of the file it writes as its own, and
    # every later save to a ".png" in this process would then write SPIDER.
    stored = io.BytesIO()
    drawing(kind).save(stored, kind)
    path.write_bytes(stored.getvalue())
    with pytest.raises(InputError, match="not a picture that can be read: send a PNG, JPEG, GIF, WebP, BMP or TIFF"):
        to_model_input(str(path))


def test_an_upload_deleted_since_says_to_upload_it_again(tmp_path):
    """Gradio deletes uploads after half an hour (app.DELETE_CACHE): a page left open then gets a clear message."""
    with pytest.raises(InputError, match="Image A is no longer on the server: upload it again"):
        to_model_input(str(tmp_path / "gone.png"), "Image A")


@pytest.mark.parametrize("sent", [False, "disk.png", 5])
def test_a_file_parameter_given_something_else_says_what_to_send(client, sent):
    with pytest.raises(AppError, match="not an uploaded file; upload one"):
        client.predict(model="vae-mnist", image_a=sent, api_name="/vae_interpolate")


# --- broken weights at start-up ----------------------------------------------------------------

@pytest.fixture(scope="module")
def broken_weights(tmp_path_factory):
    """A copy of weights/ in which gan-mnist's weights are corrupt and vae-mnist-2d's are missing."""
    folder = tmp_path_factory.mktemp("weights") / "weights"
    shutil.copytree(WEIGHTS_DIR, folder)
    weights = folder / "gan-mnist" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    (folder / "vae-mnist-2d" / "model.safetensors").unlink()
    return folder


def test_broken_weights_at_start_up_are_reported_and_the_rest_is_served(broken_weights):
    with serving([sys.executable, "app.py"], env={"AIGC_WEIGHTS_DIR": str(broken_weights)}) as (url, _, _):
        page = httpx.get(f"{url}config", timeout=30).text
        assert "Unavailable models" in page  # then one line a model (a line ends with \n in the JSON)
        assert re.search(r"- \*\*gan-mnist\*\*: [^\\]*corrupt", page)
        assert re.search(r"- \*\*vae-mnist-2d\*\*: [^\\]*model\.safetensors is missing", page)
        client = Client(url, verbose=False)
        assert client.predict(model="gan-fashion", api_name="/gan_generate")
        picture = handle_file(sample_picture(broken_weights))
        assert client.predict(model="vae-mnist", image_a=picture, image_b=picture, api_name="/vae_interpolate")
        with pytest.raises(AppError, match="gan-mnist is unavailable: .*corrupt"):
            client.predict(model="gan-mnist", api_name="/gan_generate")
        with pytest.raises(AppError, match="vae-mnist-2d is unavailable: .*missing"):
            client.predict(model="vae-mnist-2d", image_a=picture, image_b=picture, api_name="/vae_interpolate")

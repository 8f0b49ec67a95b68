"""The app starts and serves whatever subset of its models exists, including none of a family, or none at all.

Each case serves the app in a subprocess whose $AIGC_WEIGHTS_DIR holds only some of the bundled models, offline and
with an empty Hub cache, so that the others cannot be had.  The app must start, say in each tab whose family is
missing that it is (one line), and answer /gan_generate, /vae_interpolate, /text_generate, /nearest and /compare:
a result from a family that is there, a clear error from one that is not.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted(p.name for p in (ROOT / "weights").iterdir() if (p / "config.json").is_file())
GANS = [name for name in BUNDLED if name.startswith("gan-")]
VAES = [name for name in BUNDLED if name.startswith("vae-")]
GPTS = [name for name in BUNDLED if name.startswith("gpt-")]
CASES = {  # case -> the models in weights/
    "no models at all": [],
    "no GPT": [name for name in BUNDLED if name not in GPTS],
    "no VAE": [name for name in BUNDLED if name not in VAES],
    "no GAN": [name for name in BUNDLED if name not in GANS],
    "one model of each family, no classifier": ["gan-mnist", "vae-mnist-2d", "gpt-shakespeare"],
}
GENERIC_ERROR = "The upstream Gradio app has raised an exception"

SERVE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import gradio as gr
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

import app
from aigc.bench import free_port

demo = app.build_app().queue(**app.QUEUE_SETTINGS)
_, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True,
                        **app.LAUNCH_SETTINGS)
client = Client(url, verbose=False)
picture = f"{sys.argv[2]}/picture.png"
drawn = Image.new("L", (28, 28), 0)
ImageDraw.Draw(drawn).rectangle((8, 6, 20, 22), fill=255)
drawn.save(picture)
calls = {  # every parameter left to its default but the pictures
    "/gan_generate": dict(),
    "/vae_interpolate": dict(image_a=handle_file(picture), image_b=handle_file(picture)),
    "/text_generate": dict(max_new_tokens=5),
    "/nearest": dict(image=handle_file(picture)),
    "/compare": dict(dataset="mnist"),
}
answers = {}
for api_name, arguments in calls.items():
    try:
        answers[api_name] = {"result": str(client.predict(**arguments, api_name=api_name))[:200]}
    except Exception as e:
        answers[api_name] = {"error": str(e)}
markdown = [block.value for block in demo.blocks.values() if isinstance(block, gr.Markdown)]
notices = [block.value for block in demo.blocks.values()
           if isinstance(block, gr.Markdown) and "family-absent" in (block.elem_classes or [])]
demo.close()
print("REPORT " + json.dumps({"answers": answers, "markdown": markdown, "notices": notices}))
"""


def serve(tmp_path: Path, names: list[str]) -> dict:
    """The app served with only ``names`` in its weights folder, offline -> what it answered and showed."""
    weights = tmp_path / "weights"
    weights.mkdir()
    for name in names:
        (weights / name).symlink_to(ROOT / "weights" / name, target_is_directory=True)
    env = {**os.environ, "AIGC_WEIGHTS_DIR": str(weights), "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    done = subprocess.run([sys.executable, "-c", SERVE, str(ROOT), str(tmp_path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("REPORT ")]
    assert lines, f"the app did not start:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return json.loads(lines[-1].removeprefix("REPORT "))


@pytest.mark.parametrize("case", CASES)
def test_the_app_serves_what_it_has_and_says_what_it_lacks(case, tmp_path):
    present = CASES[case]
    report = serve(tmp_path, present)
    families = {"/gan_generate": ("GANs", GANS), "/vae_interpolate": ("VAEs", VAES), "/text_generate": ("GPTs", GPTS)}
    for api_name, (family, members) in families.items():
        answer = report["answers"][api_name]
        if any(name in present for name in members):
            assert "result" in answer, f"{api_name}: {answer}"
            assert not any(family in notice for notice in report["notices"])
        else:
            assert "error" in answer, f"{api_name} answered without a model: {answer}"
            assert GENERIC_ERROR not in answer["error"] and any(name in answer["error"] for name in members)
            assert [notice for notice in report["notices"] if f"bundled {family} " in notice] != []
    assert "result" in report["answers"]["/compare"], "the real pictures are shown whatever models there are"
    assert GENERIC_ERROR not in report["answers"]["/nearest"].get("error", "")
    page = "\n".join(value or "" for value in report["markdown"])
    assert all(name in page for name in BUNDLED if name not in present), "the banner names every missing model"

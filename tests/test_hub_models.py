"""Hub models in the tabs: a repo id joins a tab's picker, of that tab's family only, a few kept loaded at once.

The Hub is tests/test_hub.py's local server; the app's code runs in a subprocess so
that HF_ENDPOINT and HF_HUB_OFFLINE are read as a user's process reads them.
"""

import json
import os
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import gradio as gr
import pytest

import aigc
from aigc.hub import ModelLoadError
from aigc.models import VAE, VAEConfig
from aigc.studio import InputError
from aigc.studio.models import Registry, hub_name, is_hub_name
from aigc.ui.common import add_to_picker
from helpers import FakeHub, save_tiny_gan

SESSION = """
import json, sys
import gradio as gr
from aigc.studio import models, gan
from aigc.studio.models import HUB_MODELS_KEPT, Registry, using_registry
from aigc.ui.common import add_to_picker

results = {}
def attempt(key, fn):
    try:
        results[key] = fn()
    except gr.Error as e:
        results[key] = "error: " + e.message

def picker(repo, kinds, loaded=()):
    update, names = add_to_picker(repo, None, list(loaded), ["gan-mnist"], kinds)
    return {"choices": [c[1] if isinstance(c, (list, tuple)) else c for c in update.choices], "value": update.value,
            "loaded": names}

with using_registry(Registry(names=["gan-mnist"])):  # the bundled models are not what is tested here
    attempt("gan tab", lambda: picker("studio/tiny-gan", ("dcgan", "mlp-gan")))
    attempt("picture", lambda: list(gan.generate("studio/tiny-gan", None, 3).size))
    attempt("vae tab refuses a gan", lambda: picker("studio/tiny-gan", ("vae",)))
    attempt("a gan tab refuses a vae", lambda: picker("studio/tiny-vae", ("dcgan", "mlp-gan")))
    attempt("missing", lambda: picker("studio/missing", ("dcgan", "mlp-gan")))
    attempt("not an id", lambda: picker("no slash here", ("dcgan", "mlp-gan")))
    for i in range(HUB_MODELS_KEPT + 1):
        attempt(f"copy {i}", lambda: picker(f"studio/gan-{i}", ("dcgan", "mlp-gan")))
    results["kept"] = list(models.registry().hub_models)
print(json.dumps(results))
"""


@pytest.fixture
def hub(tmp_path):
    """A fake Hub with a tiny GAN (several copies), a tiny VAE; its environment for a subprocess."""
    save_tiny_gan(tmp_path / "gan")
    VAE(VAEConfig(latent_dim=4, width=8, hidden=16)).eval().save_pretrained(tmp_path / "vae")
    files = {folder: {name: (tmp_path / folder / name).read_bytes() for name in ("config.json", "model.safetensors")}
             for folder in ("gan", "vae")}
    FakeHub.repos = {"studio/tiny-gan": files["gan"], "studio/tiny-vae": files["vae"],
                     **{f"studio/gan-{i}": files["gan"] for i in range(8)}}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"HF_ENDPOINT": f"http://127.0.0.1:{server.server_port}", "HF_HUB_CACHE": str(tmp_path / "cache"),
           "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_ETAG_TIMEOUT": "5",
           "HF_HUB_DOWNLOAD_TIMEOUT": "5", "GRADIO_ANALYTICS_ENABLED": "False"}
    server.shutdown()


def test_a_hub_model_joins_its_tabs_picker_and_other_families_are_refused(hub):
    result = subprocess.run([sys.executable, "-c", SESSION], env={**os.environ, **hub}, capture_output=True,
                            text=True, timeout=180, cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout.strip().splitlines()[-1])
    assert results["gan tab"] == {"choices": ["gan-mnist", "studio/tiny-gan"], "value": "studio/tiny-gan",
                                  "loaded": ["studio/tiny-gan"]}
    assert results["picture"] == [280, 280]
    assert results["vae tab refuses a gan"] == "error: studio/tiny-gan holds a DCGAN model; this needs a VAE"
    assert results["a gan tab refuses a vae"] == \
        "error: studio/tiny-vae holds a VAE model; this needs a DCGAN or MLP GAN"
    assert "studio/missing was not found" in results["missing"]
    assert "is not a Hub repo id" in results["not an id"]
    kept = results["kept"]  # a stream of repo ids: only the last few stay loaded
    assert kept == [f"studio/gan-{i}" for i in range(1, 4)]


def test_without_the_hub_the_picker_says_so_and_keeps_what_it_had():
    """The test session runs with HF_HUB_OFFLINE=1, as a Space without network would."""
    with pytest.raises(gr.Error, match="Hub cannot be reached"):
        add_to_picker("someone/never-downloaded", None, [], ["gan-mnist"], ("dcgan",))


def test_hub_names_carry_the_revision_and_refuse_what_is_not_an_id(tmp_path, monkeypatch):
    assert hub_name(" someone/gan ", "main") == "someone/gan"
    assert hub_name("someone/gan", "v1.0") == "someone/gan@v1.0"
    assert hub_name("someone/gan", "refs/pr/1") == "someone/gan@refs/pr/1"
    assert is_hub_name("someone/gan@v1.0") and not is_hub_name("gan-mnist") and not is_hub_name("../gan")
    for repo, revision, message in [("", None, "not a Hub repo id"), ("a/b/c", None, "not a Hub repo id"),
                                    ("../x", None, "not a Hub repo id"), ("a--b/c", None, "not a Hub repo id"),
                                    ("a/b", "v1; rm", "not a revision"), ("a/b", "../x", "not a revision"),
                                    ("a/b", "-x", "not a revision"), ("a/b", "a..b", "not a revision"),
                                    ("a/b", "x\nY", "not a revision"), ("a/b", "x.lock", "not a revision")]:
        with pytest.raises(InputError, match=message):
            hub_name(repo, revision)


def test_a_name_a_client_sends_is_never_looked_up_on_the_servers_disk(tmp_path, monkeypatch):
    """"weights/x" is a folder beside the app and also a repo id: for a client it is only ever the repo."""
    save_tiny_gan(tmp_path / "weights" / "x")
    monkeypatch.chdir(tmp_path)
    assert aigc.load("weights/x").config.latent_dim == 8  # the Python API still loads folders
    with pytest.raises(ModelLoadError, match="Hub repo weights/x: config.json is not in the local cache"):
        Registry([]).get("weights/x", "dcgan")

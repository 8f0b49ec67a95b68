"""Loading: every bundled name offline, local folders, and Hub repos through huggingface_hub's own code.

The Hub is a local HTTP server named by HF_ENDPOINT that answers the two calls
``hf_hub_download`` makes (HEAD and GET of /<repo>/resolve/<revision>/<file>),
including the Hub's error headers.  Loading runs in a subprocess so that
HF_ENDPOINT, HF_HUB_CACHE and HF_HUB_OFFLINE are read exactly as a user's
process reads them.
"""

import json
import os
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

import aigc
from aigc.hub import ModelLoadError, load
from helpers import COMMIT, FakeHub, save_tiny_gan

BUNDLED = ["classifier-fashion", "classifier-mnist", "gan-fashion", "gan-mlp-fashion", "gan-mlp-mnist",
           "gan-mnist", "gpt-shakespeare", "vae-fashion", "vae-mnist", "vae-mnist-2d"]


def test_every_bundled_model_is_listed_and_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert set(BUNDLED) <= set(aigc.list_models())
    for name in BUNDLED:
        model = load(name, device="cpu")
        assert not model.training and model.name == name


def test_device_defaults_and_override(monkeypatch):
    monkeypatch.setenv("AIGC_DEVICE", "cpu")
    assert load("gan-mnist").device.type == "cpu"
    monkeypatch.delenv("AIGC_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert load("gan-mnist").device.type == expected


def test_local_folder_and_its_failures(tmp_path):
    folder = save_tiny_gan(tmp_path / "gan")
    z = torch.randn(2, 8)
    assert load(str(folder)).generate(z).shape == (2, 1, 28, 28)

    with pytest.raises(ModelLoadError, match="unknown model 'no-such-model'"):
        load("no-such-model")
    with pytest.raises(ModelLoadError, match="is a dcgan model, not one of: vae"):
        load(str(folder), model_types=("vae",))

    (folder / "model.safetensors").write_bytes(b"\x00garbage, not safetensors")
    with pytest.raises(ModelLoadError, match="model.safetensors is corrupt"):
        load(str(folder))

    folder = save_tiny_gan(tmp_path / "mismatch")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "width": 16}))
    with pytest.raises(ModelLoadError, match="config.json does not match the weights"):
        load(str(folder))

    (folder / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not readable JSON"):
        load(str(folder))

    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="model.safetensors is missing"):
        load(str(folder))


LOADER = """
import json, sys, torch
from aigc.hub import ModelLoadError, load
results = {}
for repo, revision in json.loads(sys.argv[1]):
    try:
        model = load(repo, revision=revision, device="cpu")
        results[repo + "@" + str(revision)] = float(model.generate(torch.ones(1, 8)).sum())
    except ModelLoadError as e:
        results[repo + "@" + str(revision)] = "error: " + str(e)
print(json.dumps(results))
"""


def load_in_subprocess(cases: list[tuple[str, str | None]], env: dict) -> dict:
    result = subprocess.run([sys.executable, "-c", LOADER, json.dumps(cases)], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_hub_repos_load_through_the_hub_cache_and_then_offline(tmp_path):
    good = save_tiny_gan(tmp_path / "good")
    files = {name: (good / name).read_bytes() for name in ("config.json", "model.safetensors")}
    FakeHub.repos = {
        "studio/tiny-gan": files,
        "studio/no-weights": {"config.json": files["config.json"]},
        "studio/corrupt": {**files, "model.safetensors": b"\x00garbage"},
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    expected = float(load(str(good), device="cpu").generate(torch.ones(1, 8)).sum())
    cache = tmp_path / "hub-cache"
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{server.server_port}", "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "0",
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_ETAG_TIMEOUT": "5", "HF_HUB_DOWNLOAD_TIMEOUT": "5"}
    try:
        online = load_in_subprocess([("studio/tiny-gan", None), ("studio/tiny-gan", COMMIT),
                                     ("studio/tiny-gan", "v9"), ("studio/missing", None),
                                     ("studio/no-weights", None), ("studio/corrupt", None)], env)
    finally:
        server.shutdown()
    assert online["studio/tiny-gan@None"] == pytest.approx(expected)
    assert online[f"studio/tiny-gan@{COMMIT}"] == pytest.approx(expected)
    assert "has no revision 'v9'" in online["studio/tiny-gan@v9"]
    assert "studio/missing was not found" in online["studio/missing@None"]
    assert "has no model.safetensors" in online["studio/no-weights@None"]
    assert "model.safetensors is corrupt" in online["studio/corrupt@None"]
    assert (cache / "models--studio--tiny-gan" / "snapshots" / COMMIT / "model.safetensors").exists()

    # the server is gone: with HF_HUB_OFFLINE the cached repo still loads, pinned or not; others fail clearly
    offline = load_in_subprocess([("studio/tiny-gan", None), ("studio/tiny-gan", COMMIT),
                                  ("studio/never-downloaded", None)], {**env, "HF_HUB_OFFLINE": "1"})
    assert offline["studio/tiny-gan@None"] == pytest.approx(expected)
    assert offline[f"studio/tiny-gan@{COMMIT}"] == pytest.approx(expected)
    assert "not in the local cache" in offline["studio/never-downloaded@None"]

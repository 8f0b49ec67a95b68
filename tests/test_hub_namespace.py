"""Bundled models without weights/: each pulled from its Hub repo NAMESPACE/NAME through the Hub cache, at the
commit hub_revisions.json pins; what cannot be had is one short line, and the rest is served.

The Hub is tests/test_hub.py's local server holding some of the bundled models (none of the Fashion-MNIST ones,
no MLP GAN); the app's code runs in a subprocess with AIGC_WEIGHTS_DIR pointing at an empty folder, so that it,
HF_ENDPOINT and HF_HUB_OFFLINE are read as a Space's process reads them.
"""

import json
import os
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from aigc.hub import BUNDLED, WEIGHTS_DIR
from helpers import COMMIT, FakeHub

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "aigc-test"
SERVED = ["classifier-mnist", "gan-mnist", "gpt-shakespeare", "vae-mnist-2d"]
PINS = {"gan-mnist": COMMIT}

SPACE = """
import json, sys
from pathlib import Path
import torch
import aigc
from aigc import hub
from aigc.studio.models import Registry, stored_metrics

hub.REVISIONS_FILE = Path(sys.argv[1])

def fingerprint(model):
    torch.manual_seed(0)
    kind = model.config.model_type
    if kind in ("dcgan", "mlp-gan"):
        out = model.generate(torch.randn(2, model.config.latent_dim), torch.tensor([0, 1]))
    elif kind == "vae":
        out = model.decode(torch.randn(2, model.config.latent_dim))
    elif kind == "gpt":
        out = model(torch.tensor([[1, 2, 3]]))
    else:
        out = model(torch.rand(2, 1, 28, 28))
    return float(out.double().sum())

models = Registry()
index = hub.bundled_file("classifier-mnist", "train_features.safetensors")
print(json.dumps({
    "listed": aigc.list_models(),
    "kinds": models.kinds,
    "errors": models.errors,
    "pulled": {name: fingerprint(model) for name, model in models.models.items()},
    "bundled": {name: fingerprint(aigc.load(sys.argv[2] + "/" + name)) for name in models.models},
    "from the cache": {name: str(model.folder).startswith(sys.argv[3]) for name, model in models.models.items()},
    "metrics": stored_metrics("gan-mnist"),
    "index": index is not None and index.stat().st_size,
}))
"""


def run_space(env: dict, pins: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", SPACE, str(pins), str(WEIGHTS_DIR), env["HF_HUB_CACHE"]],
                            env={**os.environ, **env}, capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def namespace_hub(tmp_path):
    """Some of the bundled models in their Hub repos (with the files the tabs read beside them)."""
    FakeHub.repos = {f"{NAMESPACE}/{name}": {path.name: path.read_bytes() for path in (WEIGHTS_DIR / name).iterdir()
                                             if path.is_file()} for name in SERVED}
    FakeHub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "no-weights").mkdir()
    (tmp_path / "hub_revisions.json").write_text(json.dumps(PINS))
    yield {"AIGC_WEIGHTS_DIR": str(tmp_path / "no-weights"), "AIGC_HUB_NAMESPACE": NAMESPACE,
           "HF_ENDPOINT": f"http://127.0.0.1:{server.server_port}", "HF_HUB_CACHE": str(tmp_path / "hub-cache"),
           "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_ETAG_TIMEOUT": "5",
           "HF_HUB_DOWNLOAD_TIMEOUT": "5", "GRADIO_ANALYTICS_ENABLED": "False"}
    server.shutdown()
    server.server_close()


def test_without_weights_the_bundled_models_come_from_their_hub_repos_then_from_the_cache(namespace_hub, tmp_path):
    pins = tmp_path / "hub_revisions.json"
    online = run_space(namespace_hub, pins)
    assert online["listed"] == sorted(BUNDLED) and online["kinds"] == {name: BUNDLED[name] for name in sorted(BUNDLED)}
    assert sorted(online["pulled"]) == SERVED
    assert online["pulled"] == pytest.approx(online["bundled"])  # the same weights as the bundled copies
    assert all(online["from the cache"].values())
    assert sorted(online["errors"]) == sorted(set(BUNDLED) - set(SERVED))  # none of a family (MLP GAN) is fine
    for name, reason in online["errors"].items():
        assert reason == f"Hub repo {NAMESPACE}/{name} was not found (or is private)"
    assert online["metrics"] == json.loads((WEIGHTS_DIR / "gan-mnist" / "metrics.json").read_text())
    assert online["index"] == (WEIGHTS_DIR / "classifier-mnist" / "train_features.safetensors").stat().st_size
    gan_requests = [r for r in FakeHub.requests if f"/{NAMESPACE}/gan-mnist/" in r]
    assert gan_requests and all(f"/{COMMIT}/" in r or r.endswith(f"/paths-info/{COMMIT}") for r in gan_requests)
    assert not any("samples.png" in r or "README.md" in r for r in FakeHub.requests)  # only what the app reads

    # no Hub at all now (a Space offline, or the Hub down): the same models, from the Hub cache
    offline = run_space({**namespace_hub, "HF_HUB_OFFLINE": "1"}, pins)
    assert offline["pulled"] == online["pulled"] and offline["metrics"] == online["metrics"]
    for name, reason in offline["errors"].items():
        assert reason == f"Hub repo {NAMESPACE}/{name}: config.json is not in the local cache and the Hub cannot be " \
                         "reached"


def test_with_no_model_to_be_had_the_registry_still_starts_and_says_why_in_one_line_each(namespace_hub, tmp_path):
    FakeHub.repos = {}
    result = run_space({**namespace_hub, "HF_HUB_OFFLINE": "1"}, tmp_path / "no-pins.json")
    assert result["pulled"] == {} and sorted(result["errors"]) == sorted(BUNDLED)
    assert all("\n" not in reason and len(reason) <= 200 for reason in result["errors"].values())
    assert result["metrics"] == {} and result["index"] is False

"""Publishing: the bundled models and the app go to a Hub, and a Space made of what was sent pulls its models back.

The Hub is tests/fake_hub.py on 127.0.0.1, spoken to by huggingface_hub's own
client.  Publishing runs as a user runs it: ``python -m aigc.publish`` in a
copy of the repo (so ``--record`` writes that copy's pins, not this one's).
The Space is then a fresh folder holding only what the Space repo got, and
``python app.py`` started there pulls every model through the Hub cache.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from gradio_client import Client
from huggingface_hub import HfApi, ModelCard, constants, snapshot_download
from PIL import Image

from aigc import list_models, load
from aigc.hub import WEIGHTS_DIR, ModelLoadError
from aigc.models import GPT, GPTConfig
from aigc.models.tokens import BPETokenizer
from aigc.publish import PIPELINE_TAGS, publish_space, push, space_files
from aigc.studio import gan
from fake_hub import FakeHub
from helpers import NAMESPACE, ROOT, checkout, serving_checkout, train_tokenizer

SPACE = f"{NAMESPACE}/aigc-studio"
TINY_BPE = f"{NAMESPACE}/gpt-tiny-bpe"


def hub_env(hub: FakeHub, home: Path) -> dict[str, str]:
    """This process's environment, pointed at the fake Hub with an empty Hub cache under ``home``."""
    env = {k: v for k, v in os.environ.items() if k not in ("AIGC_WEIGHTS_DIR", "HF_HUB_CACHE", "HF_TOKEN")}
    return {**env, "HF_ENDPOINT": hub.url, "HF_HOME": str(home), "HF_HUB_OFFLINE": "0", "HF_TOKEN": "hf_fake",
            "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_ETAG_TIMEOUT": "5",
            "HF_HUB_DOWNLOAD_TIMEOUT": "5", "GRADIO_ANALYTICS_ENABLED": "False", "AIGC_DEVICE": "cpu",
            "AIGC_HUB_NAMESPACE": NAMESPACE, "OMP_NUM_THREADS": "1"}


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def tiny_bpe_gpt(folder: Path) -> Path:
    """A GPT with a byte-level BPE tokenizer: its tokenizer.json must travel with it."""
    folder.mkdir(parents=True)
    train_tokenizer().save(str(folder / "trained.json"))
    tokenizer = BPETokenizer(folder / "trained.json")
    (folder / "trained.json").unlink()
    torch.manual_seed(0)
    config = GPTConfig(tokenizer="bpe", vocab_size=tokenizer.tokenizer.get_vocab_size(), block_size=16, n_layer=1,
                       n_head=2, n_embd=16)
    gpt = GPT(config).eval()
    gpt.tokenizer = tokenizer
    gpt.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Every bundled model and the Space published from a clone of the repo, plus a tiny BPE GPT pushed alone."""
    tmp = tmp_path_factory.mktemp("publish")
    clone = checkout(tmp / "clone")
    (clone / "aigc" / "hub_revisions.json").unlink(missing_ok=True)  # the pins are the ones recorded below
    tiny = tiny_bpe_gpt(tmp / "gpt-tiny-bpe")
    with FakeHub() as hub:
        env = hub_env(hub, tmp / "publisher-home")
        printed = run(["-m", "aigc.publish", "all", "--namespace", NAMESPACE, "--space", SPACE, "--record"], clone, env)
        printed += run(["-m", "aigc.hub", "push", str(tiny), TINY_BPE], clone, env)  # the old command still works
        yield hub, clone, tiny, printed, tmp


def test_every_binary_file_is_under_lfs():
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode()
    binary = [p for p in tracked.split("\0") if p and (ROOT / p).is_file() and b"\0" in (ROOT / p).read_bytes()[:8000]]
    assert binary  # weights and pictures
    attributes = subprocess.run(["git", "check-attr", "filter", "--", *binary], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.splitlines()
    assert [line for line in attributes if not line.endswith(": filter: lfs")] == []


def test_every_bundled_model_is_published_with_its_files_and_a_card(published):
    hub, clone, _, printed, _ = published
    recorded = json.loads((clone / "aigc" / "hub_revisions.json").read_text())
    assert sorted(recorded) == list_models()
    for name in list_models():
        repo = f"{NAMESPACE}/{name}"
        files = hub.files(repo)
        assert recorded[name] == hub.commit_ids(repo)[-1] and f"{name} -> {repo} @ {recorded[name]}" in printed
        for path in (WEIGHTS_DIR / name).iterdir():
            if path.name != "README.md":  # every other file of the model travels as it is
                assert files[path.name] == path.read_bytes(), (name, path.name)
        card = ModelCard(files["README.md"].decode())
        kind = json.loads(files["config.json"])["model_type"]
        assert card.data.pipeline_tag == PIPELINE_TAGS[kind] and card.data.license == "mit"
        assert (WEIGHTS_DIR / name / "README.md").read_text().split("\n---\n", 1)[1].strip() in card.text
        metrics = json.loads(files["metrics.json"])
        results = {result.metric_type: result.metric_value for result in card.data.eval_results}
        assert results and all(metrics[key] == value for key, value in results.items())
        if "shakespeare" not in name:
            assert card.data.datasets == ["zalando-datasets/fashion_mnist" if "fashion" in name else "ylecun/mnist"]
    assert {"model.safetensors", "train_features.safetensors"} <= set(hub.files(f"{NAMESPACE}/classifier-fashion"))


def test_a_bpe_gpt_is_published_with_its_tokenizer_and_loads_back_from_the_hub(published):
    hub, clone, tiny, printed, tmp = published
    files = hub.files(TINY_BPE)
    assert files["tokenizer.json"] == (tiny / "tokenizer.json").read_bytes()
    assert f"/{TINY_BPE}/commit/{hub.commit_ids(TINY_BPE)[-1]}" in printed
    ids = load(str(tiny), device="cpu").tokenizer.encode("To be, or not")
    loader = ("import json, sys, torch; from aigc import load; gpt = load(sys.argv[1], device='cpu'); "
              "print(json.dumps(gpt(torch.tensor([json.loads(sys.argv[2])]))[0].tolist()))")
    logits = run(["-c", loader, TINY_BPE, json.dumps(ids)], clone, hub_env(hub, tmp / "loader-home"))
    with torch.no_grad():
        expected = load(str(tiny), device="cpu")(torch.tensor([ids]))[0]
    torch.testing.assert_close(torch.tensor(json.loads(logits.splitlines()[-1])), expected)


def test_the_space_gets_the_app_and_its_examples_but_not_the_weights_or_tests(published):
    hub, clone, _, printed, _ = published
    sent = set(hub.files(SPACE, "space"))
    assert sent == set(space_files(clone))
    assert {"app.py", "requirements.txt", "README.md", "aigc/hub.py", "aigc/hub_revisions.json"} <= sent
    assert not [path for path in sent if path.startswith(("weights/", "tests/")) or "__pycache__" in path]
    assert hub.files(SPACE, "space")[".gitattributes"] == (ROOT / ".gitattributes").read_bytes()
    assert f"{len(sent)} files" in printed
    assert hub.repos["space", SPACE].variables == {"AIGC_HUB_NAMESPACE": NAMESPACE}  # where it pulls the models from


def test_publishing_the_space_again_removes_what_the_app_no_longer_has(published, monkeypatch):
    hub, clone, _, _, _ = published
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # conftest keeps this process offline; not for this
    api = HfApi(endpoint=hub.url, token="hf_fake")
    (clone / "aigc" / "stale.py").write_text("STALE = True\n")
    publish_space(SPACE, NAMESPACE, root=clone, api=api)
    assert "aigc/stale.py" in hub.files(SPACE, "space")
    (clone / "aigc" / "stale.py").unlink()
    publish_space(SPACE, NAMESPACE, root=clone, api=api)
    assert set(hub.files(SPACE, "space")) == set(space_files(clone))


def test_a_model_that_would_not_load_is_never_published(tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(WEIGHTS_DIR / "gan-mnist", folder)
    (folder / "model.safetensors").write_bytes(b"broken")
    with FakeHub() as hub:
        with pytest.raises(ModelLoadError, match="corrupt"):
            push(folder, f"{NAMESPACE}/broken", api=HfApi(endpoint=hub.url, token="hf_fake"))
        assert hub.requests == [] and hub.repos == {}


def test_the_space_pulls_every_model_from_the_hub_and_draws_what_the_bundled_weights_draw(published, monkeypatch):
    hub, clone, _, _, tmp = published
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # conftest keeps this process offline; not for this
    space = Path(snapshot_download(SPACE, repo_type="space", local_dir=tmp / "space", endpoint=hub.url))
    shutil.rmtree(space / ".cache")  # snapshot_download's own bookkeeping, not the Space's
    assert not (space / "weights").exists() and (space / "app.py").is_file()
    home = tmp / "space-home"
    with serving_checkout(space, hub_env(hub, home)) as (url, _):
        client = Client(url, verbose=False)
        shown = client.predict(model="gan-fashion", label="3", seed=11, truncation=0.6, d2=1.0,
                               api_name="/gan_generate")
        page = httpx.get(url + "config", timeout=30).text
    expected = gan.generate("gan-fashion", "3", 11, 0.6, [0, 1.0, 0, 0, 0, 0, 0, 0])  # this process: weights/
    assert np.array_equal(np.asarray(Image.open(shown).convert("L")), np.asarray(expected))
    assert "Unavailable models" not in page
    recorded = json.loads((space / "aigc" / "hub_revisions.json").read_text())
    for name in list_models():
        snapshot = home / "hub" / f"models--{NAMESPACE}--{name}" / "snapshots" / recorded[name]
        assert (snapshot / "model.safetensors").read_bytes() == (WEIGHTS_DIR / name / "model.safetensors").read_bytes()

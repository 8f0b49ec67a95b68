"""A hostile Hub: what a visitor could make the server fetch is refused before it costs memory, disk or others' time.

The Hub is a server of our own on 127.0.0.1 (tests/test_hub.py's, taught to lie about sizes and to be slow),
and this process's huggingface_hub client is pointed at it, with an empty cache, as HF_ENDPOINT and HF_HUB_CACHE
would point it.  Every request the server gets is recorded, so a test can show that a refusal came before any.
"""

import json
import os
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from huggingface_hub import constants
from safetensors.torch import save_file

from aigc import hub
from aigc.hub import ModelLoadError, check_allowed, load_from_hub
from aigc.studio import InputError
from aigc.studio.models import HUB_MODELS_KEPT, Registry, StillLoading
from helpers import FakeHub, save_gpt2, save_tiny_gan, train_tokenizer

GATE_S = 5  # the longest a slow download waits for its test to let it go


class HostileHub(FakeHub):
    """FakeHub that tells the sizes it is told to (``claimed``) and holds the downloads of ``slow`` repos."""

    repos: dict[str, dict[str, bytes]] = {}
    requests: list[str] = []
    claimed: dict[tuple[str, str], int] = {}  # (repo, file) -> the size it tells
    slow: set[str] = set()
    gate = threading.Event()  # slow repos' downloads wait for it

    def size(self, repo: str, filename: str) -> int:
        return self.claimed.get((repo, filename), super().size(repo, filename))

    def answer(self, body: bool):
        if body and "/".join(self.path.strip("/").split("/")[:2]) in self.slow:
            self.gate.wait(GATE_S)
        super().answer(body)


@pytest.fixture
def hostile(tmp_path, monkeypatch):
    """The hostile Hub, serving no repo yet; this process's Hub client talks to it, online, with an empty cache."""
    HostileHub.repos, HostileHub.requests, HostileHub.claimed, HostileHub.slow = {}, [], {}, set()
    HostileHub.gate = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), HostileHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(hub, "_unreachable_until", 0.0)
    for variable in ("SPACE_ID", "AIGC_HUB_ALLOW"):
        monkeypatch.delenv(variable, raising=False)
    yield HostileHub
    HostileHub.gate.set()
    server.shutdown()
    server.server_close()


def files_of(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


def tiny_gan(tmp_path: Path, name: str = "gan") -> dict[str, bytes]:
    return files_of(save_tiny_gan(tmp_path / name))


def weights_requested(server, repo: str) -> bool:
    return any(f"/{repo}/resolve/" in request and request.endswith("/model.safetensors")
               for request in server.requests)


def rss() -> int | None:
    """This process's resident memory in bytes, where /proc tells it."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


HUGE = {  # configs of a few billion parameters each, with 10 bytes of "weights"
    "huge/gan": {"model_type": "dcgan", "latent_dim": 64, "num_classes": 10, "image_size": 28, "width": 200_000},
    "huge/gpt": {"model_type": "gpt", "vocab": "abc", "n_layer": 48, "n_head": 64, "n_embd": 8192, "block_size": 4096},
    "huge/gpt2": {"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_layer": 48, "n_head": 25,
                  "n_embd": 12800},
}


def test_a_huge_config_is_refused_before_anything_is_allocated_or_its_weights_fetched(hostile):
    hostile.repos = {repo: {"config.json": json.dumps(config).encode(), "model.safetensors": b"0123456789",
                            "tokenizer.json": b"{}"} for repo, config in HUGE.items()}
    before = rss()
    for repo in HUGE:
        with pytest.raises(ModelLoadError, match=r"config.json describes [\d,]+ parameters, more than the"):
            load_from_hub(repo)
        assert not weights_requested(hostile, repo)
    if before is not None:
        assert rss() - before < 100e6  # the smallest of them would take 5 GB


def test_a_config_with_sizes_beyond_the_limits_is_refused(hostile):
    configs = {"wide/gan": {"model_type": "dcgan", "image_size": 4096, "width": 1},
               "deep/gpt": {"model_type": "gpt", "vocab": "ab", "n_layer": 10_000, "n_head": 1, "n_embd": 1},
               "silly/gan": {"model_type": "dcgan", "width": 10**30}}
    hostile.repos = {repo: {"config.json": json.dumps(config).encode(), "model.safetensors": b"0"}
                     for repo, config in configs.items()}
    for repo in configs:
        with pytest.raises(ModelLoadError, match="config.json is invalid"):
            load_from_hub(repo)
        assert not weights_requested(hostile, repo)


def test_oversized_files_are_refused_before_their_download(hostile, tmp_path):
    files = tiny_gan(tmp_path)
    hostile.repos = {"big/weights": files, "big/config": files}
    hostile.claimed = {("big/weights", "model.safetensors"): 10_000_000_000, ("big/config", "config.json"): 10**8}
    with pytest.raises(ModelLoadError, match="model.safetensors is 10,000.0 MB, more than the 600.0 MB this app loads"):
        load_from_hub("big/weights")
    with pytest.raises(ModelLoadError, match="config.json is 100.0 MB"):
        load_from_hub("big/config")
    assert not weights_requested(hostile, "big/weights")
    assert not any("/big/config/resolve/" in request for request in hostile.requests)
    assert not any((Path(constants.HF_HUB_CACHE) / "models--big--weights").rglob("model.safetensors"))


@pytest.fixture(scope="module")
def gpt2_files(tmp_path_factory) -> dict[str, bytes]:
    """A tiny GPT-2 in the transformers format, with its byte-level BPE tokenizer."""
    folder = tmp_path_factory.mktemp("gpt2")
    save_gpt2(folder, train_tokenizer())
    return files_of(folder)


def with_tokenizer(files: dict[str, bytes], change) -> dict[str, bytes]:
    spec = json.loads(files["tokenizer.json"])
    change(spec)
    return {**files, "tokenizer.json": json.dumps(spec).encode()}


ODD_TOKENIZERS = {  # each would cost memory or time at every encoding, or break the model
    "expanding": lambda t: t.update(normalizer={"type": "Replace", "pattern": {"String": "e"},
                                                "content": "e" * 10_000}),
    "padding": lambda t: t.update(padding={"strategy": {"Fixed": 10**9}, "direction": "Right",
                                           "pad_to_multiple_of": None, "pad_id": 0, "pad_type_id": 0,
                                           "pad_token": "<|endoftext|>"}),
    "regex": lambda t: t.update(pre_tokenizer={"type": "Split", "pattern": {"Regex": "(a+)+$"},
                                               "behavior": "Isolated", "invert": False}),
    "wordpiece": lambda t: t["model"].update(type="WordPiece"),
    "ids": lambda t: t["model"]["vocab"].update({"far": 10**9}),
    "bytes": lambda t: t["model"]["vocab"].pop("Ġ"),
}


def test_only_a_byte_level_bpe_tokenizer_of_gpt2s_shape_is_accepted(hostile, gpt2_files):
    hostile.repos = {f"odd/{kind}": with_tokenizer(gpt2_files, change) for kind, change in ODD_TOKENIZERS.items()}
    hostile.repos["plain/gpt2"] = gpt2_files
    hostile.repos["big/tokenizer"] = gpt2_files
    hostile.claimed = {("big/tokenizer", "tokenizer.json"): 50_000_000}
    for kind in ODD_TOKENIZERS:
        with pytest.raises(ModelLoadError, match="tokenizer.json is not a byte-level BPE tokenizer like GPT-2's"):
            load_from_hub(f"odd/{kind}")
        assert not weights_requested(hostile, f"odd/{kind}")
    with pytest.raises(ModelLoadError, match="tokenizer.json is 50.0 MB"):
        load_from_hub("big/tokenizer")
    gpt = load_from_hub("plain/gpt2", device="cpu")
    assert gpt.tokenizer.decode(gpt.tokenizer.encode("To be, or not")) == "To be, or not"


def test_weights_that_are_not_finite_are_refused(hostile, tmp_path):
    files = tiny_gan(tmp_path)
    for bad in (float("nan"), float("inf")):
        folder = save_tiny_gan(tmp_path / str(bad))
        tensors = {name: p.detach().clone() for name, p in hub.load(str(folder)).state_dict().items()}
        tensors["first_layer.weight"][3, 5] = bad
        save_file(tensors, folder / "model.safetensors")
        hostile.repos[f"broken/{bad}"] = files_of(folder)
    hostile.repos["fine/gan"] = files
    for bad in ("nan", "inf"):
        with pytest.raises(ModelLoadError, match=r"model.safetensors holds NaN or infinite values \(first_layer"):
            load_from_hub(f"broken/{bad}")
    assert load_from_hub("fine/gan", device="cpu").config.latent_dim == 8


def test_weights_that_do_not_match_the_config_are_refused_from_the_header_alone(hostile, tmp_path):
    files = tiny_gan(tmp_path)
    config = json.loads(files["config.json"])
    hostile.repos = {"mismatch/gan": {**files, "config.json": json.dumps({**config, "width": 16}).encode()},
                     "foreign/dtype": {**files, "model.safetensors": tiny_safetensors("U8")}}
    with pytest.raises(ModelLoadError, match=r"config.json does not match the weights \(first_layer.weight is "
                                             r"\[784, 16\] in the weights, \[1568, 16\] by the config"):
        load_from_hub("mismatch/gan")
    with pytest.raises(ModelLoadError, match="tensors of an unusable dtype"):
        load_from_hub("foreign/dtype")


def tiny_safetensors(dtype: str) -> bytes:
    header = json.dumps({"first_layer.weight": {"dtype": dtype, "shape": [2], "data_offsets": [0, 2]}}).encode()
    return len(header).to_bytes(8, "little") + header + b"\x00\x00"


BAD_NAMES = [("../aigc-no-such-folder", None, "not a Hub repo id"), ("-x/y", None, "not a Hub repo id"),
             ("a/b/c", None, "not a Hub repo id"), ("a--b/c", None, "not a Hub repo id"),
             ("ok/gan", "../x", "is not a revision"), ("ok/gan", "-x", "is not a revision"),
             ("ok/gan", "a..b", "is not a revision"), ("ok/gan", "refs/../../x", "is not a revision"),
             ("ok/gan", "x\x00y", "is not a revision"), ("ok/gan", "main:x", "is not a revision")]


def test_bad_repo_ids_and_revisions_are_refused_before_any_request(hostile, tmp_path):
    hostile.repos = {"ok/gan": tiny_gan(tmp_path)}
    models = Registry([])
    for repo, revision, message in BAD_NAMES:
        with pytest.raises(ModelLoadError, match=message):
            load_from_hub(repo, revision)
        with pytest.raises(ModelLoadError, match=message):
            hub.load(repo, revision)
        if revision is not None:
            with pytest.raises(InputError, match=message):
                models.get(f"{repo}@{revision}", "dcgan")
    assert hostile.requests == []
    assert load_from_hub("ok/gan", "main", device="cpu").config.latent_dim == 8


def test_on_a_public_deployment_only_allowed_repos_are_fetched(hostile, tmp_path, monkeypatch):
    hostile.repos = {"someone/gan": tiny_gan(tmp_path)}
    monkeypatch.setenv("SPACE_ID", "aigc-studio/aigc-studio")
    for ask in (lambda: load_from_hub("someone/gan"), lambda: hub.load("someone/gan"),
                lambda: Registry([]).get("someone/gan", "dcgan")):
        with pytest.raises(ModelLoadError, match="someone/gan is not one of the Hub models this app may load; "
                                                 "it loads the bundled models and openai-community/gpt2"):
            ask()
    assert hostile.requests == []
    for allowed in (f"{hub.namespace()}/gan-mnist", "openai-community/gpt2"):
        check_allowed(allowed)
    monkeypatch.setenv("AIGC_HUB_ALLOW", "someone/other, someone/gan")
    assert Registry([]).get("someone/gan", "dcgan").config.latent_dim == 8
    monkeypatch.delenv("SPACE_ID")
    monkeypatch.delenv("AIGC_HUB_ALLOW")
    check_allowed("anyone/anything")  # run locally, any repo loads


def test_a_slow_repo_holds_up_no_one_else_and_is_fetched_once(hostile, tmp_path):
    hostile.repos = {"slow/gan": tiny_gan(tmp_path)}
    hostile.slow = {"slow/gan"}
    models = Registry(["gan-mnist"], hub_wait_s=0.3)
    for _ in range(3):  # several visitors ask for it while it downloads
        started = time.monotonic()
        with pytest.raises(StillLoading, match="slow/gan is still loading from the Hub; try again in a moment"):
            models.get("slow/gan", "dcgan")
        assert time.monotonic() - started < 2
    started = time.monotonic()
    picture = models.get("gan-mnist", "dcgan").generate(torch.randn(1, 64))
    assert time.monotonic() - started < 1 and picture.shape == (1, 1, 28, 28)
    assert "slow/gan" in models.loading  # the bystander was served while the download was still held
    hostile.gate.set()
    assert models.get("slow/gan", "dcgan", wait=GATE_S).config.latent_dim == 8
    config_downloads = [r for r in hostile.requests if r.startswith("GET") and r.endswith("/config.json")]
    assert len(config_downloads) == 1


def test_repos_dropped_from_memory_or_refused_leave_the_hub_cache(hostile, tmp_path):
    files = tiny_gan(tmp_path)
    names = [f"studio/gan-{i}" for i in range(HUB_MODELS_KEPT + 1)]
    config = json.loads(files["config.json"])
    hostile.repos = {**{name: files for name in names},
                     "studio/mismatch": {**files, "config.json": json.dumps({**config, "width": 16}).encode()}}
    models = Registry([])
    for name in names:
        models.get(name, "dcgan")
    cache = Path(constants.HF_HUB_CACHE)
    assert list(models.hub_models) == names[1:]
    assert not (cache / "models--studio--gan-0").exists()
    assert all((cache / f"models--studio--gan-{i}" / "snapshots").is_dir() for i in range(1, HUB_MODELS_KEPT + 1))
    with pytest.raises(ModelLoadError, match="does not match the weights"):
        models.get("studio/mismatch", "dcgan")
    assert any("/studio/mismatch/resolve/" in request for request in hostile.requests)
    assert not (cache / "models--studio--mismatch").exists()
    preloaded = cache / "models--openai-community--gpt2" / "snapshots"  # as a Space's preload_from_hub leaves it
    preloaded.mkdir(parents=True)
    hub.forget("openai-community/gpt2")
    assert preloaded.is_dir()

"""GPT-2 checkpoints in the transformers format, read into our GPT: from a folder and through the Hub code path.

No GPT-2 can be downloaded here, so each test builds a tiny one in GPT-2's own
format: HF names and Conv1D layout (weights [in, out]) saved with safetensors,
an HF-style config.json, and a byte-level BPE tokenizer.json trained on a few
sentences.  Our logits are checked against GPT-2's forward pass written out in
plain torch below.
"""

import json
import math
import os
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import aigc
from aigc.hub import ModelLoadError, model_type
from aigc.models.tokens import StreamDecoder
from helpers import COMMIT, N_EMBD, N_HEAD, N_LAYER, N_POSITIONS, FakeHub, save_gpt2, train_tokenizer

TRICKY = "Café “naïve” 😀 🦜 日本 — ok"


def reference_logits(tensors: dict[str, torch.Tensor], ids: list[int]) -> torch.Tensor:
    """GPT-2's forward pass, written out: Conv1D is x @ W + b; pre-LN; tanh GELU; causal softmax; tied head."""
    def layer_norm(x, name):
        return F.layer_norm(x, (N_EMBD,), tensors[f"{name}.weight"], tensors[f"{name}.bias"], eps=1e-5)

    def conv1d(x, name):
        return x @ tensors[f"{name}.weight"] + tensors[f"{name}.bias"]

    def gelu(x):
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))

    t, head_dim = len(ids), N_EMBD // N_HEAD
    x = tensors["wte.weight"][ids] + tensors["wpe.weight"][:t]
    for i in range(N_LAYER):
        q, k, v = conv1d(layer_norm(x, f"h.{i}.ln_1"), f"h.{i}.attn.c_attn").split(N_EMBD, dim=1)
        q, k, v = (z.view(t, N_HEAD, head_dim).transpose(0, 1) for z in (q, k, v))
        scores = q @ k.transpose(1, 2) / math.sqrt(head_dim)
        scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
        y = (scores.softmax(-1) @ v).transpose(0, 1).reshape(t, N_EMBD)
        x = x + conv1d(y, f"h.{i}.attn.c_proj")
        x = x + conv1d(gelu(conv1d(layer_norm(x, f"h.{i}.ln_2"), f"h.{i}.mlp.c_fc")), f"h.{i}.mlp.c_proj")
    return layer_norm(x, "ln_f") @ tensors["wte.weight"].T


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer()


@pytest.mark.parametrize("prefix", ["", "transformer."])
def test_a_gpt2_folder_loads_as_our_gpt_with_the_same_logits(tmp_path, tokenizer, prefix):
    tensors = save_gpt2(tmp_path / "gpt2", tokenizer, prefix)
    gpt = aigc.load(str(tmp_path / "gpt2"), device="cpu", model_types=("gpt",))
    assert model_type(str(tmp_path / "gpt2")) == "gpt"
    assert gpt.config.tokenizer == "bpe" and gpt.config.block_size == N_POSITIONS
    assert gpt.lm_head.weight is gpt.transformer.wte.weight
    ids = gpt.tokenizer.encode(TRICKY)
    with torch.no_grad():
        ours = gpt(torch.tensor([ids]))[0]
    torch.testing.assert_close(ours, reference_logits(tensors, ids), atol=1e-5, rtol=1e-5)


def test_the_tokenizer_round_trips_any_text_and_streams_whole_characters(tmp_path, tokenizer):
    save_gpt2(tmp_path / "gpt2", tokenizer)
    gpt = aigc.load(str(tmp_path / "gpt2"), device="cpu")
    for text in [TRICKY, "", "plain ascii", "😀😀😀", "“”‘’", "<|endoftext|>after"]:
        assert gpt.tokenizer.decode(gpt.tokenizer.encode(text)) == text
    assert gpt.tokenizer.unknown(TRICKY) == []
    ids = gpt.tokenizer.encode("🦜")
    assert len(ids) > 1, "the test needs an emoji that takes several tokens"
    decoder = StreamDecoder(gpt.tokenizer)
    pieces = [decoder.push(token) for token in gpt.tokenizer.encode(TRICKY)]
    assert "".join(pieces) == TRICKY and "\ufffd" not in "".join(pieces)
    # a random model writes any bytes, incomplete characters included: the pieces still join to the decoding
    tokens = [t for t, _ in gpt.stream_tokens(gpt.tokenizer.encode("Café"), 80, temperature=1.5, seed=3)]
    assert "".join(gpt.stream_text("Café", 80, temperature=1.5, seed=3)) == gpt.tokenizer.decode(tokens)


def test_a_converted_gpt2_saves_and_loads_in_our_own_format(tmp_path, tokenizer):
    save_gpt2(tmp_path / "gpt2", tokenizer)
    gpt = aigc.load(str(tmp_path / "gpt2"), device="cpu")
    gpt.save_pretrained(tmp_path / "ours")
    assert json.loads((tmp_path / "ours" / "config.json").read_text())["model_type"] == "gpt"
    again = aigc.load(str(tmp_path / "ours"), device="cpu")
    ids = torch.tensor([gpt.tokenizer.encode(TRICKY)])
    with torch.no_grad():
        assert torch.equal(again(ids), gpt(ids))
    assert again.tokenizer.encode(TRICKY) == gpt.tokenizer.encode(TRICKY)


def test_broken_gpt2_folders_are_clear_errors(tmp_path, tokenizer):
    folder = tmp_path / "gpt2"
    save_gpt2(folder, tokenizer)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "activation_function": "relu"}))
    with pytest.raises(ModelLoadError, match="config.json is invalid .*relu"):
        aigc.load(str(folder))
    (folder / "config.json").write_text(json.dumps({**config, "n_embd": 64}))
    with pytest.raises(ModelLoadError, match="config.json does not match the weights"):
        aigc.load(str(folder))
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="tokenizer.json is not a readable tokenizer"):
        aigc.load(str(folder))
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ModelLoadError, match="tokenizer.json is not a readable tokenizer"):
        aigc.load(str(folder))


LOADER = """
import json, sys, torch
from aigc.hub import ModelLoadError, load, model_type
from aigc.studio.models import Registry
repo, ids = sys.argv[1], json.loads(sys.argv[2])
try:
    gpt = Registry([]).get(repo, "gpt")  # what the app does with a repo id picked for the Transformer tab
    with torch.no_grad():
        logits = gpt(torch.tensor([ids]))[0].tolist()
    print(json.dumps({"kind": model_type(repo), "logits": logits, "text": gpt.tokenizer.decode(ids)}))
except ModelLoadError as e:
    print(json.dumps({"error": str(e)}))
"""


def load_in_subprocess(repo: str, ids: list[int], env: dict) -> dict:
    result = subprocess.run([sys.executable, "-c", LOADER, repo, json.dumps(ids)], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_gpt2_repo_loads_through_the_hub_code_path(tmp_path, tokenizer):
    folder = tmp_path / "gpt2"
    tensors = save_gpt2(folder, tokenizer, prefix="transformer.")
    files = {name: (folder / name).read_bytes() for name in ("config.json", "model.safetensors", "tokenizer.json")}
    FakeHub.repos = {"openai-community/gpt2": files,
                     "studio/no-tokenizer": {name: files[name] for name in ("config.json", "model.safetensors")}}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ids = tokenizer.encode(TRICKY, add_special_tokens=False).ids
    cache = tmp_path / "hub-cache"
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{server.server_port}", "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "0",
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_ETAG_TIMEOUT": "5", "HF_HUB_DOWNLOAD_TIMEOUT": "5"}
    try:
        online = load_in_subprocess("openai-community/gpt2", ids, env)
        no_tokenizer = load_in_subprocess("studio/no-tokenizer", ids, env)
    finally:
        server.shutdown()
    assert online["kind"] == "gpt" and online["text"] == TRICKY
    torch.testing.assert_close(torch.tensor(online["logits"]), reference_logits(tensors, ids), atol=1e-5, rtol=1e-5)
    assert (cache / "models--openai-community--gpt2" / "snapshots" / COMMIT / "tokenizer.json").exists()
    assert "has no tokenizer.json" in no_tokenizer["error"]
    # no Hub at all: the cached repo still loads, as users see it with HF_HUB_OFFLINE=1
    offline = load_in_subprocess("openai-community/gpt2", ids, {**env, "HF_HUB_OFFLINE": "1"})
    assert offline["logits"] == online["logits"]
    never = load_in_subprocess("someone/never-downloaded", ids, {**env, "HF_HUB_OFFLINE": "1"})
    assert "the Hub cannot be reached" in never["error"]

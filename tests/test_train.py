"""Training end to end on a few steps: the Hub-format output, exact resumption, and DDP on two CPU processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from aigc.data import load_text
from aigc.hub import load
from aigc.models import GPT, GPTConfig
from aigc.train import with_context

ROOT = Path(__file__).parent.parent
FAST = ["--batch-size", "32", "--log-every", "1", "--sample-every", "1000", "--checkpoint-every", "1000"]


def train(*args: str, launcher: list[str] | None = None) -> str:
    command = (launcher or [sys.executable, "-m"]) + ["aigc.train", *args, *FAST]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout + result.stderr


RECIPES = {"gpt": ["--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--block-size", "32"],
           "gan": ["--augment", "--class-loss", "0.5"],
           "vae": ["--blocks", "1", "--latent-channels", "1", "--prior", "mixture",
                   "--kl-warmup", "2", "--augment"]}


@pytest.mark.parametrize("family, data", [("classifier", "mnist"), ("gan", "mnist"), ("mlp-gan", "mnist"),
                                          ("vae", "mnist"), ("gpt", "shakespeare")])
def test_each_family_trains_and_exports_in_hub_format(tmp_path, family, data):
    extra = RECIPES.get(family, [])
    out = tmp_path / "out"
    train(family, "--data", data, "--out", str(out), "--run-dir", str(tmp_path / "run"), "--steps", "3", *extra)
    log = json.loads((out / "training_log.json").read_text())
    assert log["steps"] == 3 and len(log["history"]) == 3 and log["command"].startswith("python -m aigc.train")
    assert (out / "samples.png").exists() or (out / "samples.txt").exists()
    assert load(str(out), device="cpu").config.model_type in ("classifier", "dcgan", "mlp-gan", "vae", "gpt")


def test_a_longer_context_starts_from_the_shorter_models_predictions():
    short = GPT(GPTConfig(vocab="\n abc", block_size=8, n_layer=1, n_head=2, n_embd=16)).eval()
    longer = with_context(short, 16).eval()
    assert longer.config.block_size == 16 and longer.transformer.wpe.weight.shape == (16, 16)
    ids = torch.tensor([[0, 2, 3, 4, 1, 3, 2, 2]])
    assert torch.equal(longer(ids), short(ids)), "the first 8 positions predict as before"
    assert longer(torch.cat([ids, ids], dim=1)).shape == (1, 16, 5)
    with pytest.raises(ValueError, match="shorter than the checkpoint's context of 8"):
        with_context(short, 4)


def test_fine_tuning_keeps_the_models_vocabulary_and_sizes(tmp_path):
    text = load_text("train") + load_text("val")
    vocab = "".join(sorted(set(text))) + "#@"  # more than the text has, as the bundled GPT's vocabulary is
    GPT(GPTConfig(vocab=vocab, block_size=16, n_layer=1, n_head=2, n_embd=32)).save_pretrained(tmp_path / "short")
    train("gpt", "--data", "shakespeare", "--out", str(tmp_path / "long"), "--run-dir", str(tmp_path / "run"),
          "--init-from", str(tmp_path / "short"), "--block-size", "32", "--steps", "2")
    short, long = load(str(tmp_path / "short"), device="cpu"), load(str(tmp_path / "long"), device="cpu")
    assert long.config.vocab == vocab and long.config.block_size == 32 and long.config.n_embd == 32
    assert long.num_parameters() == short.num_parameters() + 16 * 32  # the 16 new positions


def test_resuming_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    common = ["classifier", "--data", "mnist", "--width", "8"]
    train(*common, "--out", str(tmp_path / "straight"), "--run-dir", str(tmp_path / "a"), "--steps", "6")
    # a wall-clock budget far below one step's time stops the run after its first step, with a checkpoint
    train(*common, "--out", str(tmp_path / "cut"), "--run-dir", str(tmp_path / "b"), "--steps", "6",
          "--minutes", "0.00001")
    assert json.loads((tmp_path / "cut" / "training_log.json").read_text())["steps"] < 6
    output = train(*common, "--out", str(tmp_path / "resumed"), "--run-dir", str(tmp_path / "b"), "--steps", "6",
                   "--resume")
    assert "resumed" in output
    straight = load_file(tmp_path / "straight" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "model.safetensors")
    assert straight.keys() == resumed.keys()
    assert all(torch.allclose(straight[k], resumed[k], atol=1e-6) for k in straight)


def test_ddp_on_two_cpu_processes_keeps_the_replicas_identical(tmp_path):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m"]
    output = train("gan", "--data", "mnist", "--out", str(tmp_path / "out"), "--run-dir", str(tmp_path / "run"),
                   "--steps", "4", "--width", "8", launcher=launcher)
    assert "DDP: the 2 replicas are identical" in output
    assert json.loads((tmp_path / "out" / "training_log.json").read_text())["world_size"] == 2

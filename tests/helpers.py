"""What several test modules share: a fake Hub, tiny models in the formats the Hub serves, and the app run from
a copy of the repository.

The benchmark's tools that tests also use (a free port, a served app, percentiles, Chromium's path and flags)
stay in ``aigc.bench``, which uses them itself; they are reached from here too, so that a test imports every
helper from this one module.
"""

import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, unquote

import httpx
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

# the benchmark's tools, re-exported ("X as X"): aigc.bench uses them itself, and tests reach them from here
from aigc.bench import CHROMIUM as CHROMIUM
from aigc.bench import CHROMIUM_ARGS as CHROMIUM_ARGS
from aigc.bench import free_port as free_port
from aigc.bench import peak_rss_mb as peak_rss_mb
from aigc.bench import percentile as percentile
from aigc.bench import sample_picture as sample_picture
from aigc.bench import serving as serving
from aigc.bench import small_request as small_request
from aigc.models import GANConfig, Generator

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "studio-test"  # the Hub namespace that the tests publish to and load from


# --- a fake Hub that serves repos of files, and a tiny model to put there ---------------------------

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def save_tiny_gan(folder: Path, seed: int = 0) -> Path:
    """A tiny DCGAN (latent_dim 8), untrained, saved in the Hub format in ``folder``."""
    torch.manual_seed(seed)
    Generator(GANConfig(width=8, latent_dim=8)).eval().save_pretrained(folder)
    return folder


class FakeHub(BaseHTTPRequestHandler):
    """Answers what huggingface_hub asks of the Hub, as the Hub does: the sizes of a repo's files
    (POST /api/models/<owner>/<name>/paths-info/<revision>), and HEAD and GET of
    /<owner>/<name>/resolve/<revision>/<file>, with the Hub's error headers.  ``requests`` records every request.
    """

    repos: dict[str, dict[str, bytes]] = {}
    requests: list[str] = []

    def do_HEAD(self):
        self.answer(body=False)

    def do_GET(self):
        self.answer(body=True)

    def do_POST(self):
        self.requests.append(f"POST {self.path}")
        parts = [unquote(part) for part in self.path.split("?")[0].strip("/").split("/")]
        form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
        repo, revision = "/".join(parts[2:4]), "/".join(parts[5:])
        files = self.repos.get(repo)
        if parts[:2] != ["api", "models"] or parts[4:5] != ["paths-info"] or files is None:
            return self.fail("RepoNotFound", 401)
        if revision not in ("main", COMMIT):
            return self.fail("RevisionNotFound")
        listing = [{"type": "file", "path": path, "size": self.size(repo, path),
                    "oid": hashlib.sha1(files[path]).hexdigest()} for path in form.get("paths", []) if path in files]
        data = json.dumps(listing).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def size(self, repo: str, filename: str) -> int:
        """The size the Hub tells of a file."""
        return len(self.repos[repo][filename])

    def answer(self, body: bool):
        self.requests.append(f"{self.command} {self.path}")
        parts = self.path.split("?")[0].strip("/").split("/")
        repo, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        files = self.repos.get(repo)
        if files is None:
            return self.fail("RepoNotFound", 401)
        if revision not in ("main", COMMIT):
            return self.fail("RevisionNotFound")
        if filename not in files:
            return self.fail("EntryNotFound")
        data = files[filename]
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def fail(self, code: str, status: int = 404):
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


# --- a tiny GPT-2 in the transformers format, with its byte-level BPE tokenizer ----------------------

N_EMBD, N_LAYER, N_HEAD, N_POSITIONS = 32, 2, 4, 48
SENTENCES = [
    "To be, or not to be, that is the question.",
    "The café served crème brûlée to a naïve visitor from Zürich.",
    "She said “hello” and he said ‘goodbye’ — then both laughed 😀.",
    "日本語のテキストも少し。Ελληνικά και русский текст.",
] * 5


def train_tokenizer() -> Tokenizer:
    """A byte-level BPE tokenizer like GPT-2's, trained on SENTENCES (320 tokens, <|endoftext|> among them)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(SENTENCES, trainer)
    return tokenizer


def gpt2_tensors(vocab_size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights under GPT-2's names, linear weights in Conv1D's [in, out] layout."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape, std=0.2):
        return torch.randn(*shape, generator=gen) * std

    c = N_EMBD
    tensors = {"wte.weight": rand(vocab_size, c), "wpe.weight": rand(N_POSITIONS, c),
               "ln_f.weight": 1 + rand(c), "ln_f.bias": rand(c)}
    for i in range(N_LAYER):
        tensors |= {
            f"h.{i}.ln_1.weight": 1 + rand(c), f"h.{i}.ln_1.bias": rand(c),
            f"h.{i}.attn.c_attn.weight": rand(c, 3 * c), f"h.{i}.attn.c_attn.bias": rand(3 * c),
            f"h.{i}.attn.c_proj.weight": rand(c, c), f"h.{i}.attn.c_proj.bias": rand(c),
            f"h.{i}.ln_2.weight": 1 + rand(c), f"h.{i}.ln_2.bias": rand(c),
            f"h.{i}.mlp.c_fc.weight": rand(c, 4 * c), f"h.{i}.mlp.c_fc.bias": rand(4 * c),
            f"h.{i}.mlp.c_proj.weight": rand(4 * c, c), f"h.{i}.mlp.c_proj.bias": rand(c),
            # the causal mask that old transformers versions saved as a buffer
            f"h.{i}.attn.bias": torch.ones(N_POSITIONS, N_POSITIONS).tril().view(1, 1, N_POSITIONS, N_POSITIONS),
        }
    return tensors


def save_gpt2(folder: Path, tokenizer: Tokenizer, prefix: str = "") -> dict[str, torch.Tensor]:
    """A GPT-2 repo's three files in ``folder``; -> the tensors (without prefix)."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = gpt2_tensors(tokenizer.get_vocab_size())
    saved = {prefix + name: tensor for name, tensor in tensors.items()}
    if prefix:  # GPT2LMHeadModel checkpoints also carry the tied head
        saved["lm_head.weight"] = tensors["wte.weight"].clone()
    save_file({name: t.contiguous() for name, t in saved.items()}, folder / "model.safetensors")
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "activation_function": "gelu_new",
              "n_embd": N_EMBD, "n_layer": N_LAYER, "n_head": N_HEAD, "n_positions": N_POSITIONS, "n_ctx": N_POSITIONS,
              "vocab_size": tokenizer.get_vocab_size(), "layer_norm_epsilon": 1e-5, "bos_token_id": 0}
    (folder / "config.json").write_text(json.dumps(config))
    tokenizer.save(str(folder / "tokenizer.json"))
    return tensors


# --- the app as a clone of the repository runs it (a Space) -----------------------------------------

def checkout(dest: Path) -> Path:
    """The files git would commit (tracked, or new and not ignored), copied to ``dest``: a clone of the repo."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for path in filter(None, listed):
        if (ROOT / path).is_file():
            (dest / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, dest / path)
    return dest


@contextlib.contextmanager
def serving_checkout(folder: Path, env: dict[str, str], timeout: float = 240):
    """``python app.py`` in ``folder`` on a free port -> (its URL, seconds until it answered); stopped afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**env, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    log = folder / "app.log"
    with open(log, "wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, "app.py"], cwd=folder, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        while True:
            assert process.poll() is None, f"app.py exited:\n{log.read_text()[-4000:]}"
            assert time.perf_counter() - start < timeout, f"app.py did not answer:\n{log.read_text()[-4000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        yield url, time.perf_counter() - start
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def draw_stroke(page, canvas_selector: str) -> None:
    """A vertical stroke down the middle of a sketchpad's canvas, drawn with the mouse as a person draws it."""
    box = page.locator(canvas_selector).first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y - box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(x, y + box["height"] * 0.3, steps=15)
    page.mouse.up()


def set_up_tutorial_gan(page, seconds: int) -> None:
    """In the Train tab: the tutorial's GAN preset, for ``seconds`` of training (typed, as a person types it)."""
    page.get_by_role("tab", name="Train").click()
    page.get_by_label("The tutorial's GAN").check()
    page.wait_for_function("() => document.querySelector('#train-seconds input[type=number]').value === '60'")
    box = page.locator("#train-seconds input[type=number]")
    box.fill(str(seconds))
    box.press("Enter")

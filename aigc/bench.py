"""How fast the models and the app answer, measured in one run and printed as a table.

    python -m aigc.bench                      # every measure
    python -m aigc.bench --quick              # fewer repeats
    python -m aigc.bench --only server,browser

Groups: ``gan`` and ``vae`` (the models and the GAN tab's handlers, in this
process), ``text`` (the GPT with and without its KV cache), ``server`` (``python
app.py`` in a subprocess: cold start, against Python importing torch and Gradio
alone, peak memory, 16 concurrent API clients),
``browser`` (slider-to-picture time in Chromium, against a trivial Gradio
app measured in the same run) and ``reliability`` (``python app.py`` as a
public Space meets it: repos of a hostile Hub on 127.0.0.1 refused, a bystander
beside one client's flood, disk and memory after 1,000 varied requests).

Ratios are taken within the same run, on the same machine and model, so they
mean something on any hardware; the absolute times are this machine's.
"""

import argparse
import contextlib
import hashlib
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import torch

from aigc.hub import load
from aigc.latent import slerp
from aigc.models.gpt import next_token_probs, sample


def timed(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Median seconds of ``fn`` over ``repeats`` runs, after a warm-up.

    On a GPU each run waits for its kernels, which would otherwise still be running when the clock stops.
    """
    finish = torch.cuda.synchronize if torch.cuda.is_available() else lambda: None
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        finish()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_gan(repeats: int) -> list[tuple[str, str]]:
    gan = load("gan-fashion")
    rows = []
    for n in (1, 16):
        z, labels = torch.randn(n, gan.config.latent_dim), torch.arange(n) % gan.config.num_classes
        seconds = timed(lambda z=z, labels=labels: gan.generate(z, labels), repeats)
        rows.append((f"GAN render, {n} picture(s)", f"{seconds * 1e3:.2f} ms ({seconds * 1e3 / n:.2f} ms each)"))
    # what the GAN tab's server does per request: checks, latent, forward pass, 280 px PIL picture
    from aigc.studio import gan as tab

    offsets = [1.0] + [0.0] * (tab.NUM_DIRECTIONS - 1)
    for method in tab.METHODS:
        tab.directions("gan-fashion", method)  # computed once per (model, method), cached
        seconds = timed(lambda method=method: tab.generate("gan-fashion", 3, 7, 0.7, offsets, method), repeats)
        rows.append((f"GAN tab, one picture ({tab.METHODS[method]})", f"{seconds * 1e3:.2f} ms"))
    n = 16
    batch = (["gan-fashion"] * n, [i % 10 for i in range(n)], list(range(n)), [0.7] * n, [offsets] * n, ["sefa"] * n)
    seconds = timed(lambda: tab.generate_batch(*batch), repeats)
    rows.append((f"GAN tab, {n} batched slider requests", f"{seconds * 1e3:.2f} ms ({seconds * 1e3 / n:.2f} ms each)"))
    seconds = timed(lambda: tab.preview_strips("gan-fashion", 3, 7, 0.7), repeats)
    rows.append((f"GAN tab, 8 preview strips of {tab.PREVIEW_FRAMES} (one pass)", f"{seconds * 1e3:.2f} ms"))
    return rows


def bench_vae(repeats: int) -> list[tuple[str, str]]:
    vae = load("vae-fashion")
    a, b = torch.randn(vae.config.latent_dim), torch.randn(vae.config.latent_dim)
    seconds = timed(lambda: vae.decode(slerp(a, b, torch.linspace(0, 1, 16))), repeats)
    return [("VAE, 16 interpolation frames (one batched decode)", f"{seconds * 1e3:.2f} ms")]


def sliding_window_tokens(gpt, ids: list[int], new_tokens: int, seed: int) -> list[int]:
    """nanoGPT's sample.py: the last block_size tokens recomputed in full for every new token, no cache.

    The same sampling as ``GPT.stream_tokens`` at temperature 1, so the tokens agree with it until
    the window first fills; then sample.py slides the window by one while the cache must restart it.
    """
    generator = torch.Generator(gpt.device).manual_seed(seed)
    context = list(ids)
    for _ in range(new_tokens):
        logits = gpt(torch.tensor([context[-gpt.config.block_size :]], device=gpt.device))[0, -1]
        context.append(int(sample(next_token_probs(logits), generator)))
    return context[len(ids) :]


def bench_text(new_tokens: int, repeats: int = 5) -> list[tuple[str, str]]:
    """Tokens per second with the KV cache, against two ways of recomputing the context for every token.

    nanoGPT's sample.py (a sliding window: the issue's baseline), and the model's own use_cache=False
    path, which restarts the window where the cache does and so draws the very same tokens.  Their
    runs alternate, so that on a shared machine all meet the same load; each speed is the median of
    ``repeats`` runs.
    """
    gpt = load("gpt-shakespeare")
    ids = gpt.tokenizer.encode("ROMEO:\n")
    seed = 0

    def cached_or_not(use_cache: bool) -> Callable[[], list[int]]:
        return lambda: [token for token, _ in gpt.stream_tokens(ids, new_tokens, seed=seed, use_cache=use_cache)]

    ways = {
        "cache": cached_or_not(True),
        "sliding": lambda: sliding_window_tokens(gpt, ids, new_tokens, seed),
        "restarts": cached_or_not(False),
    }
    tokens = {name: generate() for name, generate in ways.items()}  # also the warm-up
    if tokens["cache"] != tokens["restarts"]:
        raise RuntimeError("the KV cache changed the tokens: the two paths are not comparable")
    same_until = gpt.config.block_size - len(ids) + 1  # the tokens drawn before the window first fills
    if tokens["cache"][:same_until] != tokens["sliding"][:same_until]:
        raise RuntimeError("nanoGPT's loop drew other tokens from the same model and seed")
    seconds = {name: [] for name in ways}
    for _ in range(repeats):
        for name, generate in ways.items():
            start = time.perf_counter()
            generate()
            seconds[name].append(time.perf_counter() - start)
    speed = {name: new_tokens / statistics.median(times) for name, times in seconds.items()}
    block = gpt.config.block_size
    return [
        (f"GPT, {new_tokens} new tokens with the KV cache", f"{speed['cache']:.0f} tokens/s"),
        (f"GPT, {new_tokens} new tokens recomputing the last {block} (nanoGPT's sample.py)",
         f"{speed['sliding']:.0f} tokens/s"),
        ("KV-cache speed-up over nanoGPT's sample.py", f"{speed['cache'] / speed['sliding']:.1f}x"),
        (f"GPT, {new_tokens} new tokens recomputing after the cache's restarts (the same tokens)",
         f"{speed['restarts']:.0f} tokens/s"),
        ("KV-cache speed-up over the same-token recomputation", f"{speed['cache'] / speed['restarts']:.1f}x"),
    ]


ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
COLD_STARTS = 5
OFFLINE = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}  # added to every subprocess's environment
CLIENTS = 16
SLIDER_MOVES = 20
# the smallest sizes, for requests that measure serving rather than the work (the server clamps them up)
SMALL_SIZES = {"max_new_tokens": 20, "frames": 1, "steps": 2, "samples": 1, "seconds": 10}  # seconds: /train
MIXED_ENDPOINTS = ["/gan_generate", "/gan_sweep", "/vae_interpolate", "/text_generate"]
TRIVIAL_APP = """
import numpy as np, gradio as gr
from PIL import Image

def picture(value):
    cells = np.random.default_rng(int((value + 3) * 100)).integers(0, 256, (28, 28), dtype=np.uint8)
    return Image.fromarray(cells.repeat(10, 0).repeat(10, 1))  # 280 px, like the GAN tab's picture

with gr.Blocks() as demo:
    slider = gr.Slider(-3, 3, value=0, step=0.05, label="Direction 1", elem_id="gan-d1")
    image = gr.Image(picture(0), type="pil", format="png", interactive=False, height=320, elem_id="gan-picture")
    slider.change(picture, slider, image, trigger_mode="always_last", show_progress="hidden")
demo.queue().launch()
"""
# Only what app.py imports before it builds anything, as app.py does (collector off, Gradio's stub rewriting
# skipped), then a hard exit: the floor under app.py's cold start that no work of ours can lower.
IMPORTS_ONLY = """
import gc, os
gc.disable()
from aigc import gradio_startup
gradio_startup.install()
import gradio, torch
os._exit(0)
"""


def percentile(sorted_values: list[float], p: float) -> float:
    """The nearest-rank p-th percentile of values sorted in increasing order."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def sample_picture(folder: str | Path) -> str:
    """A dark disk on white, as a PNG in ``folder``: an upload any image endpoint can use."""
    from PIL import Image, ImageDraw

    path = Path(folder) / "disk.png"
    picture = Image.new("RGB", (120, 120), "white")
    ImageDraw.Draw(picture).ellipse((30, 20, 90, 100), fill="black")
    picture.save(path)
    return str(path)


def small_request(parameters: list[dict], picture: str, variant: int = 0) -> dict:
    """A cheap, valid request for any endpoint, from its ``view_api`` parameters.

    Uploads get ``picture``, sizes are the smallest, a seed is ``variant`` (so
    that simultaneous requests differ), everything else keeps its default: so
    endpoints added later are covered without a change here.
    """
    from gradio_client import handle_file

    request = {}
    for parameter in parameters:
        name = parameter["parameter_name"]
        if parameter["python_type"]["type"] == "filepath":
            request[name] = handle_file(picture)
        elif name in SMALL_SIZES:
            request[name] = SMALL_SIZES[name]
        elif name == "seed":
            request[name] = variant
    return request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(command: list[str], env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen, float]]:
    """Start a Gradio app in a subprocess (with ``env`` added to this one's) -> (its URL, the process, seconds
    until it answered HTTP)."""
    import httpx

    port = free_port()
    env = {**os.environ, **OFFLINE, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), **(env or {})}
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"{' '.join(command)} exited:\n{log.read().decode()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                time.sleep(0.02)
            yield url, process, time.perf_counter() - start
        finally:
            process.terminate()
            process.wait(timeout=30)


def peak_rss_mb(process: subprocess.Popen, field: str = "VmHWM") -> float:
    """The process's peak resident memory so far (VmHWM), or its ``field`` of /proc (VmRSS: now), in MB."""
    status = Path(f"/proc/{process.pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith(f"{field}:")) / 1024


def load_rows(clients: list, calls: list[tuple[str, dict]], per_client: int, name: str) -> list[tuple[str, str]]:
    """Every client sends ``per_client`` requests one after another, all clients at once -> throughput and p95."""
    def run(index: int) -> list[float]:
        latencies = []
        for i in range(per_client):
            endpoint, request = calls[(index + i) % len(calls)]
            start = time.perf_counter()
            clients[index].predict(api_name=endpoint, **request)
            latencies.append(time.perf_counter() - start)
        return latencies

    start = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        latencies = sorted(sum(pool.map(run, range(len(clients))), []))
    elapsed = time.perf_counter() - start
    return [(f"{len(clients)} concurrent API clients, {name}",
             f"{len(latencies) / elapsed:.1f} requests/s, p95 {percentile(latencies, 95) * 1e3:.0f} ms, "
             f"median {statistics.median(latencies) * 1e3:.0f} ms")]


def bench_server(url: str, process: subprocess.Popen, quick: bool) -> list[tuple[str, str]]:
    """Peak memory after one request on each endpoint, then 16 API clients at once."""
    from gradio_client import Client

    rows = [("App peak memory, every model loaded", f"{peak_rss_mb(process):.0f} MB (target ≤ 1536 MB)")]
    with tempfile.TemporaryDirectory() as folder:
        picture = sample_picture(folder)
        with ThreadPoolExecutor(CLIENTS) as pool:
            # patient: gradio_client's uploads and downloads give up after 5 s, which 16 clients on two
            # cores can exceed; how long they wait is what the p95 reports
            clients = list(pool.map(lambda _: Client(url, verbose=False, httpx_kwargs={"timeout": 120}),
                                    range(CLIENTS)))
        endpoints = clients[0].view_api(print_info=False, return_format="dict")["named_endpoints"]
        for endpoint, info in endpoints.items():
            clients[0].predict(api_name=endpoint, **small_request(info["parameters"], picture))
        rows.append((f"App peak memory, after one request on each of {len(endpoints)} endpoints",
                     f"{peak_rss_mb(process):.0f} MB (target ≤ 1536 MB)"))
        per_client = 4 if quick else 12
        gan = [("/gan_generate", small_request(endpoints["/gan_generate"]["parameters"], picture, seed))
               for seed in range(CLIENTS)]
        rows += load_rows(clients, gan, per_client, f"/gan_generate, {per_client} requests each")
        mixed = [(endpoint, small_request(endpoints[endpoint]["parameters"], picture, seed))
                 for seed, endpoint in enumerate(MIXED_ENDPOINTS)]
        rows += load_rows(clients, mixed, per_client, f"mixed ({', '.join(MIXED_ENDPOINTS)}; small requests)")
    rows.append(("App peak memory, after all of the above", f"{peak_rss_mb(process):.0f} MB"))
    return rows


def watch_controls(page) -> None:
    """Time stamps in the page: the last input event of any control, the last new picture."""
    page.evaluate("""() => {
        window.inputAt = 0; window.pictureAt = 0;
        const picture = () => document.querySelector("#gan-picture img")?.src;
        let shown = picture();
        document.addEventListener("input", () => { window.inputAt = performance.now(); }, true);
        new MutationObserver(() => {
            if (picture() !== shown) { shown = picture(); window.pictureAt = performance.now(); }
        }).observe(document.querySelector("#gan-picture"), {subtree: true, childList: true, attributes: true});
    }""")


def drag_latencies(page, slider: str, moves: int) -> list[float]:
    """Seconds from an input event of the slider ``slider`` (a CSS selector) to a new picture's src, for ``moves``
    moves within one mouse drag that starts at the thumb and ends where it started.

    Both times are taken in the page (performance.now), so Playwright's own round trips do not count.
    """
    track = page.locator(f"{slider} input[type=range]")
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    low, high, value = (float(track.get_attribute(name) or 0) for name in ("min", "max", "value"))
    y, left, width = box["y"] + box["height"] / 2, box["x"], box["width"]
    start = (value - low) / (high - low)
    page.mouse.move(left + width * start, y)
    page.mouse.down()
    latencies = []
    reach = 0.9 * min(start, 1 - start)
    for i in range(moves):
        fraction = start + (reach if i % 2 else -reach) * (1 + i % 5) / 5  # alternate sides, five distances
        page.mouse.move(left + width * fraction, y)
        page.wait_for_function("() => window.pictureAt > window.inputAt && window.inputAt > 0", polling=10)
        latencies.append(page.evaluate("() => (window.pictureAt - window.inputAt) / 1000"))
    page.mouse.move(left + width * start, y)
    page.mouse.up()
    return latencies


def person_sequence(page, controls: list[str], moves: int, pause_s: float) -> list[list[float]]:
    """A person's use of the tab: each slider of ``controls`` dragged in turn (``moves`` moves), a pause between.

    -> for each slider, the seconds from each of its moves to its picture.
    """
    times = []
    for control in controls:
        times.append(drag_latencies(page, f"#{control}", moves))
        page.wait_for_timeout(pause_s * 1000)
    return times


# the GAN tab's sliders in the order a person tries them: truncation, then each direction
PERSON_CONTROLS = ["gan-truncation"] + [f"gan-d{i}" for i in range(1, 9)]
PERSON_MOVES = 4
PERSON_PAUSE_S = 1.5


def bench_browser(app_url: str, quick: bool) -> list[tuple[str, str]]:
    """Slider-to-picture time in Chromium for the GAN tab and a trivial app, interleaved in rounds: a fresh drag of
    Direction 1, then a person's sequence (truncation, then each direction shown in turn, pauses between)."""
    if not os.access(CHROMIUM, os.X_OK):
        return [("Slider to picture in Chromium", f"skipped: {CHROMIUM} is not installed")]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return [("Slider to picture in Chromium", "skipped: playwright is not installed")]
    rounds = 2 if quick else 4
    times: dict[str, list[float]] = {"app": [], "trivial": []}
    sequence: dict[str, dict[str, list[float]]] = {"app": {}, "trivial": {}}
    with serving([sys.executable, "-c", TRIVIAL_APP]) as (trivial_url, _, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pages = {}
        for name, url in (("app", app_url), ("trivial", trivial_url)):
            pages[name] = browser.new_page(viewport={"width": 1400, "height": 1000})
            pages[name].set_default_timeout(60_000)
            pages[name].goto(url)
            pages[name].locator("#gan-picture img").wait_for()
            watch_controls(pages[name])
            drag_latencies(pages[name], "#gan-d1", 3)  # warm up
        for _ in range(rounds):  # interleaved, so that both meet the same load on the machine
            for name, page in pages.items():
                times[name] += drag_latencies(page, "#gan-d1", SLIDER_MOVES // rounds)
        for _ in range(rounds):
            # the directions the tab shows (it hides those whose effect nobody sees); the trivial app has one
            # slider: it is dragged as often
            shown = [control for control in PERSON_CONTROLS if pages["app"].locator(f"#{control}").is_visible()]
            for name, page in pages.items():
                controls = shown if name == "app" else ["gan-d1"] * len(shown)
                for control, seconds in zip(shown, person_sequence(page, controls, PERSON_MOVES, PERSON_PAUSE_S)):
                    sequence[name].setdefault(control, []).extend(seconds)
        browser.close()
    return browser_rows(times, sequence)


def browser_rows(times: dict[str, list[float]], sequence: dict[str, dict[str, list[float]]]) -> list[tuple[str, str]]:
    app, trivial = statistics.median(times["app"]), statistics.median(times["trivial"])
    moves = {name: sum(by_control.values(), []) for name, by_control in sequence.items()}
    person = {name: statistics.median(seconds) for name, seconds in moves.items()}
    sliders = {control: statistics.median(seconds) for control, seconds in sequence["app"].items()}
    slowest = max(sliders, key=sliders.get)
    return [
        (f"Slider to picture in Chromium, GAN tab (median of {len(times['app'])} moves)", f"{app * 1e3:.0f} ms"),
        (f"Slider to picture in Chromium, trivial Gradio app (median of {len(times['trivial'])})",
         f"{trivial * 1e3:.0f} ms"),
        ("Slider to picture, GAN tab / trivial app", f"{app / trivial:.2f}x (target ≤ 1.25)"),
        (f"A person's sequence (truncation, then each direction, {PERSON_PAUSE_S:g} s pauses), GAN tab: median of "
         f"{len(moves['app'])} moves", f"{person['app'] * 1e3:.0f} ms (trivial app: {person['trivial'] * 1e3:.0f} ms)"),
        ("A person's sequence, median of all moves, GAN tab / trivial app",
         f"{person['app'] / person['trivial']:.2f}x (target ≤ 1.25)"),
        ("A person's sequence, slowest slider (its median) / trivial app",
         f"{sliders[slowest] / person['trivial']:.2f}x, {slowest} (target ≤ 1.5); each: "
         + ", ".join(f"{control.removeprefix('gan-')} {seconds * 1e3:.0f}" for control, seconds in sliders.items())
         + " ms"),
    ]


def seconds_to_serve(command: list[str]) -> float:
    with serving(command) as (_, _, seconds):
        return seconds


def seconds_to_exit(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env={**os.environ, **OFFLINE}, check=True)
    return time.perf_counter() - start


def bench_app(quick: bool, groups: set[str]) -> list[tuple[str, str]]:
    """``python app.py`` started COLD_STARTS times (cold start), the last one then measured by the groups."""
    rows = []
    app, trivial = [sys.executable, "app.py"], [sys.executable, "-c", TRIVIAL_APP]
    starts: dict[str, list[float]] = {"app": [], "trivial": [], "imports": []}
    if "server" in groups:
        for _ in range(COLD_STARTS - 1):  # interleaved, so that all meet the same load on the machine
            starts["imports"].append(seconds_to_exit([sys.executable, "-c", IMPORTS_ONLY]))
            starts["trivial"].append(seconds_to_serve(trivial))
            starts["app"].append(seconds_to_serve(app))
        starts["imports"].append(seconds_to_exit([sys.executable, "-c", IMPORTS_ONLY]))
        starts["trivial"].append(seconds_to_serve(trivial))
    with serving(app) as (url, process, seconds):
        if "server" in groups:
            starts["app"].append(seconds)
            median = {name: statistics.median(times) for name, times in starts.items()}
            rows.append((f"Cold start, python app.py to HTTP with every model loaded (median of {COLD_STARTS})",
                         f"{median['app']:.2f} s (target ≤ 5 s)"))
            rows.append((f"Python importing torch and Gradio as app.py does, and no more (median of {COLD_STARTS})",
                         f"{median['imports']:.2f} s"))
            rows.append((f"Cold start of a trivial Gradio app (no torch), for comparison (median of {COLD_STARTS})",
                         f"{median['trivial']:.2f} s"))
            rows += bench_server(url, process, quick)
        if "browser" in groups:
            rows += bench_browser(url, quick)
    return rows


# --- reliability: python app.py as a public Space meets it -------------------------------------------------------

HOSTILE_CONFIGS = {  # billions of parameters each, over 10 bytes of weights: what one share link could make it build
    "gan": {"model_type": "dcgan", "latent_dim": 64, "num_classes": 10, "image_size": 28, "width": 200_000},
    "gpt2": {"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_layer": 48, "n_head": 25,
             "n_embd": 12800},
}
HOSTILE_COMMIT = "0" * 40
FLOODER, BYSTANDER = "203.0.113.7", "198.51.100.20"  # client addresses, sent as X-Forwarded-For (documentation ranges)
LONG_GENERATION = {"prompt": "ROMEO:", "max_new_tokens": 2000, "seed": 1, "model": "gpt-shakespeare"}
FLOOD_ATTEMPTS = 2000  # the most calls the flooding client sends
SHORT_SWEEP = (3, 20)  # delete_cache (frequency, age) of the app whose sweep is watched
# python app.py with Gradio's cache swept every SHORT_SWEEP[0] seconds instead of every few minutes
SHORT_SWEEP_APP = """
import sys
import app
app.DELETE_CACHE = (int(sys.argv[1]), int(sys.argv[2]))
app.launch(app.build_app().queue(**app.QUEUE_SETTINGS))
"""


class HostileHub(BaseHTTPRequestHandler):
    """A Hub on 127.0.0.1 for huggingface_hub's client, whose every repo ``huge/KIND-N`` declares one of
    HOSTILE_CONFIGS (GPT-2 repos with a tokenizer.json too); ``weights_sent`` counts the weights it served."""

    weights_sent = 0

    def repo_files(self, repo: str) -> dict[str, bytes] | None:
        owner, _, name = repo.partition("/")
        config = HOSTILE_CONFIGS.get(name.rpartition("-")[0]) if owner == "huge" else None
        if config is None:
            return None
        files = {"config.json": json.dumps(config).encode(), "model.safetensors": b"0123456789"}
        return files | ({"tokenizer.json": b"{}"} if config["model_type"] == "gpt2" else {})

    def do_POST(self):  # /api/models/OWNER/NAME/paths-info/REVISION: the sizes HfApi.get_paths_info asks for
        parts = self.path.split("?")[0].strip("/").split("/")
        asked = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()).get("paths", [])
        files = self.repo_files("/".join(parts[2:4]))
        if files is None:
            return self.reply(401, b"", {"X-Error-Code": "RepoNotFound"})
        listing = [{"type": "file", "path": path, "size": len(files[path]),
                    "oid": hashlib.sha1(files[path]).hexdigest()} for path in asked if path in files]
        self.reply(200, json.dumps(listing).encode(), {"Content-Type": "application/json"})

    def do_HEAD(self):
        self.resolve(body=False)

    def do_GET(self):
        self.resolve(body=True)

    def resolve(self, body: bool):  # /OWNER/NAME/resolve/REVISION/FILE
        parts = self.path.split("?")[0].strip("/").split("/")
        files, filename = self.repo_files("/".join(parts[:2])), "/".join(parts[4:])
        if files is None or filename not in files:
            return self.reply(404, b"", {"X-Error-Code": "EntryNotFound" if files else "RepoNotFound"})
        if body and filename == "model.safetensors":
            type(self).weights_sent += 1
        self.reply(200, files[filename], {"X-Repo-Commit": HOSTILE_COMMIT,
                                          "ETag": f'"{hashlib.sha256(files[filename]).hexdigest()}"'}, body)

    def reply(self, status: int, data: bytes, headers: dict[str, str], body: bool = True):
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(data))}.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, *args):
        pass


def api_call(url: str, endpoint: str, parameters: dict, address: str) -> tuple[str, float]:
    """One API call (parameters by name) from a client at ``address`` -> (what came of it, seconds).

    What came of it: "complete", the error's message, or the HTTP status of a refusal to queue it.
    """
    import httpx

    headers = {"X-Forwarded-For": address}
    start = time.perf_counter()
    joined = httpx.post(f"{url}gradio_api/call/v2/{endpoint}", json=parameters, headers=headers, timeout=60)
    if joined.status_code != 200:
        return str(joined.status_code), time.perf_counter() - start
    stream = httpx.get(f"{url}gradio_api/call/v2/{endpoint}/{joined.json()['event_id']}", headers=headers,
                       timeout=300).text
    event, _, data = stream.rpartition("event: ")[2].partition("\ndata: ")
    outcome = "complete" if event == "complete" else f"{event}: {data.strip()}"
    return outcome, time.perf_counter() - start


def disk_mb(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 1e6 if folder.exists() else 0.0


def varied_requests(count: int, picture: dict, seed: int = 0) -> list[tuple[str, dict, str]]:
    """``count`` different requests, as 8 clients would send them: (endpoint, parameters, address).

    Seven in ten a GAN picture, the rest GIFs of a GAN direction, VAE interpolations and short texts.
    """
    rng = random.Random(seed)
    calls = []
    for i in range(count):
        kind, address = rng.random(), f"192.0.2.{i % 8 + 1}"
        if kind < 0.7:
            call = ("gan_generate", {"model": "gan-mnist", "label": rng.randrange(10), "seed": rng.randrange(10**6),
                                     "truncation": rng.random(), "method": rng.choice(["SeFa", "GANSpace"]),
                                     **{f"d{d}": rng.uniform(-3, 3) for d in range(1, 9)}})
        elif kind < 0.8:
            call = ("gan_sweep", {"model": "gan-fashion", "label": rng.randrange(10), "seed": rng.randrange(10**6),
                                  "direction": rng.randrange(1, 9), "frames": rng.choice([9, 21, 41])})
        elif kind < 0.9:
            call = ("vae_interpolate", {"model": "vae-mnist", "image_a": picture, "image_b": picture,
                                        "steps": rng.randrange(2, 33), "mode": rng.choice(["lerp", "slerp"])})
        else:
            call = ("text_generate", {"prompt": "ROMEO:", "max_new_tokens": 50, "seed": rng.randrange(10**6),
                                      "model": "gpt-shakespeare"})
        calls.append((*call, address))
    return calls


def uploaded_picture(url: str, folder: str) -> dict:
    """sample_picture uploaded to the app, as an image parameter of an API call."""
    import httpx

    with open(sample_picture(folder), "rb") as file:
        path = httpx.post(f"{url}gradio_api/upload", files={"files": ("disk.png", file, "image/png")},
                          headers={"X-Forwarded-For": "192.0.2.1"}, timeout=60).json()[0]
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


def send_all(url: str, calls: list[tuple[str, dict, str]]) -> tuple[int, float]:
    """The calls, 8 at a time -> (how many completed, seconds)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda call: api_call(url, *call)[0], calls))
    return outcomes.count("complete"), time.perf_counter() - start


def refuse_hostile_repos(url: str, process: subprocess.Popen, count: int, hub_cache: Path) -> list[tuple[str, str]]:
    """The app's memory before and after ``count`` links to hostile repos (half GANs, half GPT-2s), each asked
    for until the app answers other than "still loading" (bounded)."""
    def refusal(kind: str, n: int) -> str:
        endpoint, parameters = (("gan_generate", {"seed": 1}) if kind == "gan" else
                                ("text_generate", {"prompt": "ROMEO:", "max_new_tokens": 5}))
        for _ in range(60):  # each waits ~1 s for the load (aigc.studio.models.TAB_WAIT_S)
            outcome, _ = api_call(url, endpoint, {**parameters, "model": f"huge/{kind}-{n}"}, BYSTANDER)
            if "still loading" not in outcome:
                return outcome
        return "still loading after 60 tries"

    for n in range(2):  # warm up: what a first refusal imports or builds once
        for kind in HOSTILE_CONFIGS:
            refusal(kind, n)
    # in two halves: growth that happens once (worker threads, the allocator's arenas) shows in the first
    rss, peak_before, outcomes = [peak_rss_mb(process, "VmRSS")], peak_rss_mb(process), []
    for half in (range(2, count // 4 + 2), range(count // 4 + 2, count // 2 + 2)):
        outcomes += [refusal(kind, n) for n in half for kind in HOSTILE_CONFIGS]
        rss.append(peak_rss_mb(process, "VmRSS"))
    second = len(outcomes) - count // 4 * len(HOSTILE_CONFIGS)
    refused = [outcome for outcome in outcomes if "parameters, more than" in outcome]
    return [
        ("Hostile Hub repos refused (configs of billions of parameters, 10-byte weights)",
         f"{len(refused)} of {len(outcomes)}; weights fetched {HostileHub.weights_sent} times; "
         f"Hub cache after: {disk_mb(hub_cache) * 1e3:.0f} KB"),
        (f"App memory before, after {len(outcomes) - second} and after {len(outcomes)} refused repos",
         f"RSS {rss[0]:.0f} -> {rss[1]:.0f} -> {rss[2]:.0f} MB ({(rss[2] - rss[0]) / len(outcomes) * 1e3:+.0f} KB "
         f"a repo; {(rss[2] - rss[1]) / second * 1e3:+.0f} KB over the last {second}), "
         f"peak {peak_before:.0f} -> {peak_rss_mb(process):.0f} MB"),
        ("A refusal, as the client reads it", (refused or outcomes)[0][:110]),
    ]


def bystander_beside_flood(url: str, pictures: int) -> list[tuple[str, str]]:
    """A bystander's /gan_generate times idle, then while one client keeps sending long generations unread."""
    def bystander(seed: int, count: int = pictures) -> list[float]:
        seconds = []
        for i in range(count):
            outcome, took = api_call(url, "gan_generate", {"model": "gan-mnist", "seed": seed + i}, BYSTANDER)
            if outcome != "complete":
                raise RuntimeError(f"the bystander's picture failed: {outcome}")
            seconds.append(took)
        return sorted(seconds)

    import httpx

    bystander(0, 3)  # warm up
    idle = bystander(100)
    statuses: list[int] = []
    done = threading.Event()

    def flood() -> None:
        while not done.is_set() and len(statuses) < FLOOD_ATTEMPTS:
            statuses.append(httpx.post(f"{url}gradio_api/call/v2/text_generate", json=LONG_GENERATION,
                                       headers={"X-Forwarded-For": FLOODER}, timeout=60).status_code)
            time.sleep(0.02)

    flooder = threading.Thread(target=flood)
    flooder.start()
    try:
        time.sleep(2)  # the flood has filled its share of the queue
        flooded = bystander(1000)
    finally:
        done.set()
        flooder.join()
    def figures(times: list[float]) -> str:
        return f"median {statistics.median(times) * 1e3:.0f} ms, p95 {percentile(times, 95) * 1e3:.0f} ms"

    return [
        (f"Bystander /gan_generate, idle ({pictures} calls)", figures(idle)),
        (f"Bystander /gan_generate, beside one client's flood of 2000-token /text_generate ({pictures} calls)",
         figures(flooded)),
        ("The flood's calls", f"{len(statuses)} sent, {statuses.count(200)} queued, {statuses.count(429)} refused "
                              "with 429"),
    ]


def bench_reliability(quick: bool) -> list[tuple[str, str]]:
    """``python app.py`` online against a hostile Hub, behind a proxy as on a Space: refused repos, a flood,
    then many varied requests; and an app whose delete_cache sweeps within seconds."""
    from aigc.studio import OUTPUT_DIR

    requests, repos = (200, 8) if quick else (1000, 20)
    hub = ThreadingHTTPServer(("127.0.0.1", 0), HostileHub)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="aigc-bench-") as folder:
            tmp = Path(folder)
            env = {"AIGC_BEHIND_PROXY": "1", "TMPDIR": folder, "GRADIO_TEMP_DIR": str(tmp / "gradio"),
                   "HF_ENDPOINT": f"http://127.0.0.1:{hub.server_port}", "HF_HUB_OFFLINE": "0",
                   "HF_HUB_CACHE": str(tmp / "hub-cache"), "HF_HUB_DISABLE_TELEMETRY": "1",
                   "HF_HUB_ETAG_TIMEOUT": "5", "HF_HUB_DOWNLOAD_TIMEOUT": "5"}
            written = [tmp / "gradio", tmp / OUTPUT_DIR.name]  # Gradio's cache, the app's own files (GIFs)

            def disk() -> str:
                return (f"{sum(map(disk_mb, written)):.1f} MB (Gradio's cache {disk_mb(written[0]):.1f} MB, "
                        f"the app's files {disk_mb(written[1]):.1f} MB)")

            with serving([sys.executable, "app.py"], env) as (url, process, _):
                rows += refuse_hostile_repos(url, process, repos, tmp / "hub-cache")
                picture = uploaded_picture(url, folder)
                start_disk, start_rss = sum(map(disk_mb, written)), peak_rss_mb(process, "VmRSS")
                completed, seconds = send_all(url, varied_requests(requests, picture))
                rows += [
                    (f"{requests} varied requests from 8 addresses (GAN pictures and GIFs, VAE, text)",
                     f"{completed} completed in {seconds:.0f} s"),
                    (f"Disk after them (from {start_disk:.1f} MB; no sweep yet)", disk()),
                    ("App memory after them", f"RSS {start_rss:.0f} -> {peak_rss_mb(process, 'VmRSS'):.0f} MB, "
                                               f"peak {peak_rss_mb(process):.0f} MB"),
                ]
                rows += bystander_beside_flood(url, 10 if quick else 20)
            for path in written:  # the next app starts with an empty cache
                subprocess.run(["rm", "-rf", str(path)], check=True)
            sweep = [sys.executable, "-c", SHORT_SWEEP_APP, *map(str, SHORT_SWEEP)]
            with serving(sweep, env) as (url, _, _):
                # no VAE: its upload would be swept before the last of them
                calls = [call for call in varied_requests(requests // 20, {}, seed=1) if call[0] != "vae_interpolate"]
                send_all(url, calls)
                before = disk()
                time.sleep(sum(SHORT_SWEEP) + 1)
                rows.append((f"Disk after {len(calls)} varied GAN requests, then {sum(SHORT_SWEEP) + 1} s later "
                             f"(delete_cache {SHORT_SWEEP} instead of the app's)", f"{before}; then {disk()}"))
    finally:
        hub.shutdown()
        hub.server_close()
    return rows


GROUPS = ["gan", "vae", "text", "server", "browser", "reliability"]


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m aigc.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--tokens", type=int, default=400, help="new tokens for the text measure")
    p.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated groups, of: {', '.join(GROUPS)}")
    args = p.parse_args()
    groups = set(args.only.split(","))
    if not groups <= set(GROUPS):
        p.error(f"unknown group(s): {', '.join(sorted(groups - set(GROUPS)))}; choose from {', '.join(GROUPS)}")
    repeats = 10 if args.quick else 50
    torch.set_grad_enabled(False)
    rows = []
    if "gan" in groups:
        rows += bench_gan(repeats)
    if "vae" in groups:
        rows += bench_vae(repeats)
    if "text" in groups:
        rows += bench_text(args.tokens)
    if groups & {"server", "browser"}:
        rows += bench_app(args.quick, groups)
    if "reliability" in groups:
        rows += bench_reliability(args.quick)
    width = max(len(name) for name, _ in rows)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {load('gan-fashion').device}\n")
    print(f"| {'measure':<{width}} | result |\n| {'-' * width} | --- |")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")


if __name__ == "__main__":
    main()

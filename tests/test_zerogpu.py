"""On a ZeroGPU Space every handler that does model work holds a GPU while it runs, and nothing else touches a model.

ZeroGPU lends a GPU only to a function decorated with ``spaces.GPU``: it runs the function in a forked process,
sends it its arguments and sends the result back pickled, shows a gr.Error's message and hides any other
exception's.  The stand-in for the ``spaces`` package below does the same on the CPU; the app runs with it in a
subprocess (as on a Space: ``SPACES_ZERO_GPU`` set, ``spaces`` importable), serves every public endpoint through
it, and reports which functions were decorated and whether any model ran outside a decorated one.
"""

import functools
import inspect
import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import traceback
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The handlers that do model work, one GPU request a call; every other function runs without a GPU.
GPU_HANDLERS = {
    "aigc.ui.gan": ["gan_generate", "gan_sweep", "preview_strips", "seed_grid_picture", "latent_json", "restore",
                    "share_link", "named_directions", "picture_text"],
    "aigc.ui.nearest": ["nearest", "nearest_to_frame"],
    "aigc.ui.vae": ["vae_interpolate", "latent_views", "manifold_view", "decode_click", "prior_samples",
                    "on_load"],
    "aigc.ui.text": ["text_generate", "step", "next_token", "attention", "candidates_view", "attention_view"],
    "aigc.ui.compare": ["compare", "measure"],
    "aigc.ui.train": ["training"],
}
# Called by the handler an event calls: with the click's pixel, as the select events' gr.SelectData does not
# unpickle; only when the grid is shown, so that a slider let go with the grid hidden asks for no GPU; the training
# run, whose model the handler then keeps in the app's own process.
CALLED_BY_A_HANDLER = {("aigc.ui.vae", "decode_click"), ("aigc.ui.gan", "seed_grid_picture"),
                       ("aigc.ui.train", "training")}
LONGEST_GPU_S = {"training": 360}  # a training run's budget (up to 5 minutes), its start and its end
WORKER_TIMEOUT_S = 300


# --- the stand-in for ``spaces`` -----------------------------------------------------------------

decorated = []  # [module, qualname, duration] of every function given to GPU
in_worker = False  # True in the forked process that runs a decorated function
calls = []  # the qualname of each decorated function run, in the order they asked for a GPU


def GPU(task=None, *, duration=None):
    """``spaces.GPU``: the decorated function runs in a forked process, its arguments and results pickled."""
    if task is None:
        return functools.partial(GPU, duration=duration)
    decorated.append([task.__module__, task.__qualname__, duration])
    if inspect.isgeneratorfunction(task):
        @functools.wraps(task)
        def streaming(*args, **kwargs):
            yield from forked(task, args, kwargs)
        wrapper = streaming
    else:
        @functools.wraps(task)
        def wrapper(*args, **kwargs):
            return next(forked(task, args, kwargs))
    wrapper.zerogpu = (task.__module__, task.__qualname__)
    return wrapper


def forked(task, args, kwargs):
    """Run ``task`` in a forked process -> what it returns (or yields), unpickled."""
    if in_worker:  # a decorated function called by another runs in the same worker, as on ZeroGPU
        yield from task(*args, **kwargs) if inspect.isgeneratorfunction(task) else iter([task(*args, **kwargs)])
        return
    import gradio as gr

    calls.append(task.__qualname__)
    arguments = pickle.dumps((args, kwargs))
    reader, writer = multiprocessing.get_context("fork").Pipe(duplex=False)
    process = multiprocessing.get_context("fork").Process(target=worker, args=(task, arguments, writer), daemon=True)
    process.start()
    writer.close()
    try:
        while True:
            if not reader.poll(WORKER_TIMEOUT_S):
                raise TimeoutError(f"{task.__qualname__} gave nothing for {WORKER_TIMEOUT_S} s")
            kind, *payload = pickle.loads(reader.recv_bytes())
            if kind == "result":
                yield payload[0]
            elif kind == "end":
                return
            elif kind == "gradio error":
                raise payload[0]
            elif kind == "error":
                raise gr.Error(f"ZeroGPU worker error: {payload[0]}")
            else:  # a queue event (a warning toast) sent on to the app's queue
                method, method_args, method_kwargs = payload
                getattr(gr.context.LocalContext.blocks.get()._queue, method)(*method_args, **method_kwargs)
    finally:
        reader.close()
        process.join(10)
        if process.is_alive():
            process.kill()


def worker(task, arguments, writer):
    """The forked process: unpickle the arguments, run the task, send back each result (CPU tensors only)."""
    global in_worker
    in_worker = True
    import gradio as gr
    from gradio.queueing import Queue

    def send(*message):
        writer.send_bytes(cpu_only_pickle(message))

    Queue.log_message = lambda queue, *a, **k: send("queue event", "log_message", a, k)
    Queue.set_progress = lambda queue, *a, **k: None  # progress bars are not sent back here
    try:
        args, kwargs = pickle.loads(arguments)
        results = task(*args, **kwargs)
        for result in results if inspect.isgenerator(results) else [results]:
            send("result", result)
        send("end")
    except gr.Error as e:
        send("gradio error", e)
    except Exception as e:  # ZeroGPU shows the class only; the log gets the traceback
        traceback.print_exc()
        send("error", type(e).__name__)
    finally:
        writer.close()


def cpu_only_pickle(value) -> bytes:
    """pickle.dumps, refusing a tensor on any device but the CPU (the main process of a Space has no GPU)."""
    import io

    import torch

    class Pickler(pickle.Pickler):
        def reducer_override(self, obj):
            if isinstance(obj, torch.Tensor) and obj.device.type != "cpu":
                raise pickle.PicklingError(f"a tensor on {obj.device} left a GPU handler")
            return NotImplemented

    buffer = io.BytesIO()
    Pickler(buffer).dump(value)
    return buffer.getvalue()


def install() -> None:
    """Put this stand-in where ``import spaces`` finds it (before the app is imported)."""
    spaces = types.ModuleType("spaces")
    spaces.GPU = GPU
    sys.modules["spaces"] = spaces


# --- the app, served on a ZeroGPU stand-in, in a subprocess --------------------------------------

SERVE = r"""
import json, sys, threading
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import test_zerogpu as fake
fake.install()

import gradio as gr
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

import app
from helpers import free_port
from aigc.studio import gan as studio_gan
from aigc.studio import models as studio_models
from aigc.studio.models import registry
from aigc.ui import gan, nearest, text, vae

demo = app.build_app().queue(**app.QUEUE_SETTINGS)
outside = []  # models run outside a GPU handler (by any thread)
for name, model in registry().models.items():
    for module in model.modules():
        module.register_forward_pre_hook(lambda *_, name=name: None if fake.in_worker else outside.append(name))
_, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True,
                        **app.LAUNCH_SETTINGS)
client = Client(url, verbose=False)
report = {"decorated": fake.decorated, "wired": sorted({fn.fn.zerogpu for fn in demo.fns.values()
                                                        if hasattr(fn.fn, "zerogpu")}), "public": {}, "private": {}}

def kinds(value):
    return [type(item).__name__ for item in value] if isinstance(value, (list, tuple)) else type(value).__name__

def public(name, call):
    try:
        report["public"][name] = kinds(call())
    except Exception as e:
        report["public"][name] = f"error: {e}"

def private(name, call):
    try:
        report["private"][name] = kinds(call())
    except Exception as e:
        report["private"][name] = f"error: {type(e).__name__}: {e}"

paths = []
for shape in ("ellipse", "rectangle"):
    picture = Image.new("RGB", (120, 120), "white")
    getattr(ImageDraw.Draw(picture), shape)((30, 20, 90, 100), fill="black")
    paths.append(f"{sys.argv[3]}/{shape}.png")
    picture.save(paths[-1])
uploads = [{"path": path} for path in paths]
offsets = [0.5] + [0.0] * 7

public("/gan_generate", lambda: client.predict(model="gan-mnist", label=3, seed=5, d1=0.5,
                                               api_name="/gan_generate"))
public("/gan_generate unknown model", lambda: client.predict(model="no-such-gan", api_name="/gan_generate"))
public("/gan_sweep", lambda: client.predict(model="gan-mnist", direction=2, frames=5, method="GANSpace",
                                            api_name="/gan_sweep"))
public("/vae_interpolate", lambda: client.predict(model="vae-mnist", image_a=handle_file(paths[0]),
                                                  image_b=handle_file(paths[1]), steps=4, api_name="/vae_interpolate"))
public("/text_generate", lambda: client.predict(prompt="ROMEO:", max_new_tokens=40, seed=1, api_name="/text_generate"))
public("/next_token", lambda: client.predict(prompt="ROMEO:", seed=1, api_name="/next_token"))
public("/attention", lambda: client.predict(text="ROMEO:", index=3, layer=2, api_name="/attention"))
public("/nearest", lambda: client.predict(model="gan-mnist", image=handle_file(paths[0]), k=3, api_name="/nearest"))
public("/compare", lambda: client.predict(dataset="mnist", seed=1, api_name="/compare"))
public("/compare_measure", lambda: client.predict(dataset="mnist", samples=200, seed=1, api_name="/compare_measure"))
trained = {}  # the last output of /train: its status names the model
public("/train", lambda: trained.setdefault("last", client.predict(family="mlp-gan", seconds=10, api_name="/train")))
public("/gan_generate trained", lambda: client.predict(model=trained["last"][0]["model"], label=1,
                                                       api_name="/gan_generate"))

point = ["gan-mnist", 3, 5, 0.7, *offsets, "SeFa"]  # the GAN tab's point: what every view of it follows
private("preview_strips", lambda: gan.preview_strips(point))
private("named_directions", lambda: gan.named_directions("gan-mnist", "SeFa"))
private("picture_text", lambda: gan.picture_text(point))
private("seed_grid", lambda: gan.seed_grid(True, point))
before = len(fake.calls)
private("hidden seed_grid", lambda: gan.seed_grid(False, point))
report["GPU calls of a hidden grid"] = len(fake.calls) - before
state = gan.latent_json(point[:-1] + ["GANSpace"])
private("latent_json", lambda: state)
private("restore", lambda: gan.restore(state))
private("share_link", lambda: gan.share_link(point))
private("latent_views", lambda: vae.latent_views("vae-mnist", *uploads, 4, "lerp"))
private("manifold_view", lambda: vae.manifold_view("vae-mnist-2d"))
click = gr.SelectData(None, {"index": [200, 150], "value": None, "selected": True})
private("decode_map_click", lambda: vae.decode_map_click("vae-mnist", click))
private("decode_manifold_click", lambda: vae.decode_manifold_click("vae-mnist-2d", click))
private("prior_samples", lambda: vae.prior_samples("vae-mnist", 1.0, 3, 4))
continuation = list(text.text_generate("ROMEO:", 20, seed=2))[-1][-1]
private("step", lambda: text.step(continuation, "ROMEO:", 0.8, 0, 1.0, 2, "gpt-shakespeare"))
private("candidates_view", lambda: text.candidates_view(continuation, 3, "ROMEO:", 0.8, 0, 1.0, "gpt-shakespeare"))
private("attention_view", lambda: text.attention_view(continuation, 3, "ROMEO:", "gpt-shakespeare", 1, 1))
frames = [{"image": upload, "caption": None} for upload in uploads]
private("nearest_to_frame", lambda: nearest.nearest_to_frame("vae-mnist", frames, 1, 3))

hub_devices = []  # the device each Hub model is loaded onto (none can be had offline: the call is what counts)
load_from_hub = studio_models.load_from_hub
studio_models.load_from_hub = lambda *a, **k: hub_devices.append(str(k.get("device"))) or load_from_hub(*a, **k)
try:
    registry().get("someone/some-gpt", "gpt")
except Exception:
    pass
report["hub model devices"] = hub_devices

report["outside"] = sorted(set(outside))
report["directions computed in the main process"] = [list(key) for key in studio_gan._directions_cache]
report["threads"] = sorted(thread.name for thread in threading.enumerate())
demo.close()
print("REPORT " + json.dumps(report))
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """What the app did on the ZeroGPU stand-in (one subprocess for the module)."""
    folder = tmp_path_factory.mktemp("zerogpu")
    env = {**os.environ, "SPACES_ZERO_GPU": "true", "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", SERVE, str(ROOT), str(ROOT / "tests"), str(folder)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=900)
    lines = [line for line in done.stdout.splitlines() if line.startswith("REPORT ")]
    assert lines, f"the app did not run on the stand-in:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return json.loads(lines[-1].removeprefix("REPORT "))


def test_each_handler_that_does_model_work_asks_for_a_gpu_once_and_no_helper_does(report):
    expected = sorted((module, name) for module, names in GPU_HANDLERS.items() for name in names)
    decorated = sorted((module, name) for module, name, _ in report["decorated"])
    assert decorated == expected
    assert len(decorated) == 26
    assert all(isinstance(duration, int) and 0 < duration <= LONGEST_GPU_S.get(name, 120)
               for _, name, duration in report["decorated"])


def test_the_gpu_handlers_are_what_the_events_call(report):
    wired = {tuple(handler) for handler in report["wired"]}
    decorated = {(module, name) for module, name, _ in report["decorated"]}
    assert decorated - wired == CALLED_BY_A_HANDLER


def test_every_public_endpoint_answers_through_the_forked_gpu_worker(report):
    results = dict(report["public"])
    results.pop("/gan_generate unknown model")
    assert sorted(results) == ["/attention", "/compare", "/compare_measure", "/gan_generate", "/gan_generate trained",
                               "/gan_sweep", "/nearest", "/next_token", "/text_generate", "/train", "/vae_interpolate"]
    assert not {name: result for name, result in results.items() if str(result).startswith("error")}
    assert results["/gan_generate"] == results["/gan_sweep"] == "str"  # a picture's path, a GIF's
    assert results["/vae_interpolate"] == ["list", "str"]  # the frames, the GIF
    assert results["/text_generate"] == ["str", "str", "str"]  # the text, coloured (HTML), the summary
    assert results["/gan_generate trained"] == "str"  # drawn by the model trained in the worker, kept by the app
    assert results["/next_token"] == results["/attention"] == "dict"  # JSON


def test_a_user_error_in_a_gpu_handler_keeps_its_message(report):
    message = report["public"]["/gan_generate unknown model"]
    assert message.startswith("error: ") and "Unknown model 'no-such-gan'" in message
    assert "ZeroGPU worker error" not in message


def test_the_page_events_that_use_a_model_work_through_the_worker(report):
    failed = {name: result for name, result in report["private"].items() if str(result).startswith("error")}
    assert not failed
    assert report["private"]["seed_grid"] == report["private"]["hidden seed_grid"] == "Image"
    assert report["GPU calls of a hidden grid"] == 0
    assert report["private"]["latent_views"] == ["Image", "Image", "Image"]
    assert report["private"]["decode_map_click"] == "Image"
    assert report["private"]["candidates_view"] == report["private"]["attention_view"] == "str"  # HTML


def test_no_model_runs_outside_a_gpu_handler_not_even_a_warm_up_thread(report):
    assert report["outside"] == []
    assert report["directions computed in the main process"] == []
    assert "gan-directions" not in report["threads"]


def test_a_hub_model_loaded_while_serving_stays_on_the_cpu(report):
    # ZeroGPU's stand-in for CUDA works only in the thread that imported spaces, not in the Hub loader's
    assert report["hub model devices"] == ["cpu"]

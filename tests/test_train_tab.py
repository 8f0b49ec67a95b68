"""The Train tab: a short live run streams its progress, obeys pause, resume and stop, ends when its visitor
leaves, and its model then draws in the GAN tab, through the studio functions and through /train."""

import itertools
import math
import threading
import time

import pytest
import torch
from PIL import Image

from aigc.data import held_out
from aigc.studio import InputError
from aigc.studio import gan as studio_gan
from aigc.studio import train as studio
from aigc.studio.models import TRAINED_KEPT, Registry, registry


def training_threads() -> int:
    return sum(thread.name == "aigc-train" for thread in threading.enumerate())


def wait_for_no_training(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while training_threads() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert training_threads() == 0, "the training thread is still running"


def test_settings_are_clamped_to_their_limits_and_unknown_names_refused():
    checked = studio.settings(seconds=1, batch=10_000, lr=1.0)
    assert (checked.seconds, checked.batch, checked.lr) == (studio.MIN_SECONDS, studio.MAX_BATCH, studio.MAX_LR)
    assert studio.settings(seconds=10**6).seconds == studio.MAX_SECONDS
    assert studio.settings("vae", loss="anything").loss == "elbo"
    for wrong in (dict(family="gpt"), dict(dataset="cifar"), dict(loss="l2"), dict(seconds="soon")):
        with pytest.raises(InputError):
            studio.settings(**wrong)


def test_every_preset_is_a_valid_setting_with_something_to_look_for():
    assert list(studio.PRESETS) == ["The tutorial's GAN", "Watch it collapse", "Fix it"]
    tutorial = studio.PRESETS["The tutorial's GAN"]
    assert (tutorial["family"], tutorial["loss"], tutorial["lr"]) == ("mlp-gan", "bce", 2e-4)
    for preset in studio.PRESETS.values():
        settings = {key: value for key, value in preset.items() if key != "about"}
        assert studio.settings(**settings) == studio.Settings(**{**settings, "seed": 0, "beta": 1.0})
        assert preset["about"].startswith("The") and "Look" in preset["about"]


def rows_of_real_pictures(dataset: str, per_row: int, seed: int) -> torch.Tensor:
    """A grid as a GAN draws it: a row of ``per_row`` pictures a class, here real held-out ones."""
    pictures, generator = held_out(dataset), torch.Generator().manual_seed(seed)
    rows = [torch.nonzero(pictures.labels == label).squeeze(1) for label in range(10)]
    return pictures.images[torch.cat([row[torch.randperm(len(row), generator=generator)[:per_row]] for row in rows])]


def test_diversity_is_about_one_for_real_pictures_and_zero_for_copies_of_one():
    for dataset in ("mnist", "fashion"):
        real = rows_of_real_pictures(dataset, 8, seed=1)
        assert 0.8 < studio.diversity(dataset, real, 8, per_class=True).value < 1.2
        copies = real[::8].repeat_interleave(8, dim=0)  # every row one picture
        assert studio.diversity(dataset, copies, 8, per_class=True).value == 0.0
        assert 0.8 < studio.diversity(dataset, real[torch.randperm(80)][:32], 32, per_class=False).value < 1.2
    measured = studio.diversity("mnist", real, 8, per_class=True)
    assert (measured.samples, measured.group, measured.groups) == (80, 8, studio.REAL_GROUPS)
    assert f"{measured.samples} samples" in measured.text() and "held-out pictures" in measured.text()


def test_the_diversity_tells_the_collapsing_preset_from_its_fix():
    """Ten seconds of each: the collapsed rows read well below the varied ones (about 0.3 against 0.7)."""
    last = {}
    for name in ("Watch it collapse", "Fix it"):
        chosen = {key: value for key, value in studio.PRESETS[name].items() if key != "about"}
        last[name] = list(studio.train(**{**chosen, "seconds": 10}))[-1].diversity.value
    print(last)
    assert last["Watch it collapse"] < 0.5 and last["Fix it"] > 1.5 * last["Watch it collapse"], last


def test_a_ten_second_run_streams_a_grid_a_second_and_ends_with_a_model_kept_by_name():
    updates = list(studio.train("mlp-gan", "mnist", "bce", 2e-4, 64, seconds=10, seed=1))
    *live, last = updates
    assert len(live) >= 7 and all(not update.done for update in live) and last.done
    assert [update.step for update in updates] == sorted(update.step for update in updates)
    assert all(math.isfinite(value) for update in updates for value in update.losses.values())
    assert set(live[-1].losses) == {"loss_d", "loss_g"} and last.diversity.samples == 80
    assert 9 <= last.seconds <= 12 and last.name.startswith("trained: mlp-gan bce 10 s #")
    assert {update.grid.size for update in updates} == {live[0].grid.size}
    assert Image.open(last.gif).n_frames == len(updates)
    assert last.status()["model"] == last.name and last.status()["state"] == "done"
    studio.keep(last.name, last.model)
    picture = studio_gan.generate(last.name, 3, 7, 0.7, [0.0] * 8)
    assert picture.size[0] > 28
    assert last.name not in registry().names(), "a trained model is not listed among the bundled ones"


def test_pause_holds_the_steps_resume_goes_on_and_stop_ends_early_with_a_model():
    stream = studio.train("mlp-gan", seconds=60, session="visitor")
    first = next(stream)
    studio.pause("visitor")
    paused = [next(stream) for _ in range(3)]
    assert paused[-1].paused and paused[-1].step == paused[-2].step
    assert paused[-1].seconds == paused[-2].seconds, "a pause is not training time"
    studio.resume("visitor")
    resumed = next(update for update in stream if not update.paused)
    assert resumed.step > paused[-1].step > first.step
    studio.stop("visitor")
    started = time.monotonic()
    last = list(stream)[-1]
    assert last.done and last.model is not None and last.seconds < 20 and time.monotonic() - started < 5
    wait_for_no_training(5)


def test_the_memory_read_is_the_process_own_and_grows_with_what_it_holds():
    before = studio.resident_mb()
    held = torch.ones(50 * 2**20)  # 200 MB, every page written
    assert studio.resident_mb() - before > 150 and held[-1] == 1


def test_a_run_during_which_memory_grows_past_the_cap_stops_with_a_message(monkeypatch):
    """A leak as the cap sees it: the process's memory grows by 100 MB each time it is read (once an update)."""
    readings = itertools.count(1000, 100)
    monkeypatch.setattr(studio, "resident_mb", lambda: float(next(readings)))
    monkeypatch.setattr(studio, "MEMORY_CAP_MB", 250)
    started = time.monotonic()
    with pytest.raises(InputError, match=r"stopped at step \d+: the server's memory grew by 300 MB .* over the 250 MB"):
        list(studio.train("mlp-gan", seconds=60))
    assert time.monotonic() - started < 40, "it did not stop well before its 60 s"
    wait_for_no_training(5)


def test_a_run_whose_stream_is_closed_stops():
    stream = studio.train("dcgan", seconds=60)
    next(stream)
    stream.close()
    wait_for_no_training(10)


def test_the_registry_keeps_the_last_trained_models_and_checks_their_family():
    models = Registry(names=[])
    gan = registry().get("gan-mlp-mnist")
    for i in range(TRAINED_KEPT + 2):
        models.add_trained(f"trained: mlp-gan bce 10 s #{i}", gan)
    assert list(models.trained) == [f"trained: mlp-gan bce 10 s #{i}" for i in range(2, TRAINED_KEPT + 2)]
    assert models.get("trained: mlp-gan bce 10 s #5", "mlp-gan", "dcgan") is gan
    with pytest.raises(InputError, match="holds a MLP GAN model; this needs a VAE"):
        models.get("trained: mlp-gan bce 10 s #5", "vae")
    with pytest.raises(InputError, match="Unknown model"):
        models.get("trained: mlp-gan bce 10 s #0", "mlp-gan")


def test_the_gif_keeps_at_most_its_frames_evenly_spaced():
    gif = studio.Frames()
    for i in range(200):
        gif.add(i)
    gif.add(200, last=True)
    frames = gif.kept
    assert frames[-1] == 200 and len(frames) <= studio.GIF_FRAMES and frames[0] == 0 and frames == sorted(frames)
    gaps = {b - a for a, b in zip(frames, frames[1:-1], strict=False)}
    assert len(gaps) == 1


# --- through the API of the running app ----------------------------------------------------------

@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_train_has_the_contract_parameters_each_with_a_default(client):
    parameters = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/train"]["parameters"]
    names = [parameter["parameter_name"] for parameter in parameters]
    assert names[:7] == ["family", "dataset", "loss", "lr", "batch", "seconds", "seed"]
    assert all(parameter["parameter_has_default"] for parameter in parameters)


def test_train_streams_its_progress_and_the_model_then_draws_through_gan_generate(client):
    job = client.submit(family="mlp-gan", dataset="mnist", loss="bce", lr=2e-4, batch=64, seconds=15, seed=3,
                        api_name="/train")
    outputs = job.result(timeout=120) and job.outputs()
    assert len(outputs) >= 5
    statuses = [output[0] for output in outputs]
    assert all(math.isfinite(v) for status in statuses for v in status["losses"].values())
    assert {status["model"] for status in statuses} == {statuses[-1]["model"]}
    assert statuses[-1]["state"] == "done" and 14 <= statuses[-1]["seconds"] <= 17
    assert statuses[-1]["step"] > statuses[0]["step"]
    name = statuses[-1]["model"]
    picture = client.predict(model=name, label=7, seed=1, api_name="/gan_generate")
    assert Image.open(picture).size[0] > 28


def test_train_stops_when_its_client_leaves(client):
    job = client.submit(family="vae", seconds=120, api_name="/train")
    deadline = time.monotonic() + 60
    while len(job.outputs()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert training_threads() == 1
    job.cancel()
    wait_for_no_training(studio.STALL_S + 10)


def test_a_second_training_waits_in_line_told_its_place_and_a_visitor_has_one_place(client, app_url):
    import httpx
    from gradio_client import Client
    from gradio_client.utils import Status

    first = client.submit(family="mlp-gan", seconds=60, api_name="/train")
    deadline = time.monotonic() + 60
    while not first.outputs() and time.monotonic() < deadline:
        time.sleep(0.2)
    again = httpx.post(f"{app_url}gradio_api/call/v2/train", json={"seconds": 10}, timeout=30)  # the first's address
    assert again.status_code == 429 and "You have a training waiting or running" in again.json()["detail"]
    another_visitor = Client(app_url, verbose=False, headers={"X-Forwarded-For": "198.51.100.30"})
    second = another_visitor.submit(family="mlp-gan", seconds=60, api_name="/train")
    places = []
    for _ in range(50):
        status = second.status()
        if status.code == Status.IN_QUEUE and status.rank is not None:
            places.append(status.rank)
        time.sleep(0.1)
    assert places and set(places) == {0}, "the first in line, behind the run in progress"
    assert not second.outputs() and training_threads() == 1
    second.cancel()
    first.cancel()
    wait_for_no_training(studio.STALL_S + 10)


def test_a_trained_vae_joins_the_visitors_vae_picker_and_interpolates():
    import gradio as gr

    from aigc.studio import vae as studio_vae
    from aigc.ui import train as train_tab

    last = list(studio.train("vae", "mnist", seconds=10, beta=0.5))[-1]
    assert last.name.startswith("trained: vae β=0.5 10 s #") and set(last.losses) == {"loss", "reconstruction", "kl"}
    studio.keep(last.name, last.model)
    gan_picker, vae_picker, trained = train_tab.join_pickers(last.status(), ["trained: gone"])
    assert trained == [last.name] and isinstance(gan_picker, type(gr.skip()))
    assert vae_picker.value == last.name and last.name in [choice[0] for choice in vae_picker.choices]
    pictures = [studio_vae.dataset_picture(f"mnist:{i}") for i in (0, 1)]
    frames, gif = studio_vae.interpolate(last.name, *pictures, steps=4)
    assert len(frames) == 4 and Image.open(gif).n_frames > 1


def test_without_prepared_data_it_trains_on_the_pictures_shipped_with_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_DATA", str(tmp_path))
    monkeypatch.setenv("AIGC_DEBIAN_FASHION", "")
    run = studio.settings("mlp-gan", "fashion")
    assert run.examples and "--examples" in run.argv(tmp_path / "model")
    assert studio.data_description("fashion") == ("Fashion-MNIST: the 1,000 pictures shipped with the app "
                                                  "(no train split is prepared here)")
    last = list(studio.train("mlp-gan", "fashion", seconds=10))[-1]
    assert last.done and last.model.config.class_names[7] == "Sneaker"

"""Every endpoint of the running app through gradio_client, as an API user calls it."""

import html
import re
from pathlib import Path

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image, ImageDraw

from aigc.studio import gan, text

GAN, VAE, GPT = "gan-mnist", "vae-mnist", "gpt-shakespeare"
CONTRACT = {
    "/gan_generate": ["model", "label", "seed", "truncation"] + [f"d{i}" for i in range(1, gan.NUM_DIRECTIONS + 1)],
    "/gan_sweep": ["model", "label", "seed", "truncation", "direction", "frames"],
    "/vae_interpolate": ["model", "image_a", "image_b", "steps", "mode"],
    "/text_generate": ["prompt", "max_new_tokens", "temperature", "top_k", "top_p", "seed"],
    "/compare": ["dataset", "seed"],
    "/nearest": ["model", "image", "k"],
}


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


@pytest.fixture
def pictures(tmp_path):
    """Two uploads: a dark disk and a dark bar, on white."""
    paths = []
    for name, shape in (("disk.png", "ellipse"), ("bar.png", "rectangle")):
        picture = Image.new("RGB", (120, 120), "white")
        getattr(ImageDraw.Draw(picture), shape)((30, 20, 90, 100), fill="black")
        picture.save(tmp_path / name)
        paths.append(tmp_path / name)
    return paths


def test_the_api_has_the_contract_parameters_each_with_a_default(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name, expected in CONTRACT.items():
        parameters = endpoints[name]["parameters"]
        assert [p["parameter_name"] for p in parameters][: len(expected)] == expected
        assert all(p["parameter_has_default"] for p in parameters), name


def test_gan_generate_is_the_studio_picture(client):
    path = client.predict(model=GAN, label="3", seed=5, truncation=0.5, d1=1.5, d8=-9, api_name="/gan_generate")
    expected = gan.generate(GAN, "3", 5, 0.5, [1.5, 0, 0, 0, 0, 0, 0, -3])  # -9 is clamped to -3
    assert np.array_equal(np.asarray(Image.open(path).convert("L")), np.asarray(expected))


def test_gan_sweep_is_a_gif_around_the_picture(client):
    path = client.predict(model=GAN, label=2, seed=7, truncation=0.7, direction=3, frames=9, api_name="/gan_sweep")
    gif = Image.open(path)
    assert gif.format == "GIF" and gif.n_frames == 9
    gif.seek(4)  # the middle frame is offset 0: the picture /gan_generate draws with every slider at 0
    at_zero = client.predict(model=GAN, label=2, seed=7, truncation=0.7, api_name="/gan_generate")
    assert np.array_equal(np.asarray(gif.convert("L")), np.asarray(Image.open(at_zero).convert("L")))


def test_vae_interpolate_uploads(client, pictures):
    frames, gif = client.predict(model=VAE, image_a=handle_file(pictures[0]), image_b=handle_file(pictures[1]),
                                 steps=6, mode="slerp", api_name="/vae_interpolate")
    assert len(frames) == 6 and Image.open(frames[0]["image"]).size == (224, 224)
    assert Image.open(gif).n_frames == 2 * 6 - 2


def test_text_generate_streams_and_is_fixed_by_its_seed(client):
    job = client.submit(prompt="ROMEO:", max_new_tokens=400, temperature=0.8, top_k=0, top_p=1.0, seed=3,
                        api_name="/text_generate")
    final, highlighted, summary = job.result()
    partial = [output[0] for output in job.outputs()]
    assert len(partial) >= 3, "the continuation should arrive piece by piece"
    assert all(later.startswith(earlier) for earlier, later in zip(partial, partial[1:]))
    assert len(final) == 400 and "seed **3**" in summary
    tokens = re.findall(r'<span class="t [^"]*" role="button" data-i="\d+"[^>]*>(.*?)</span>', highlighted, re.S)
    assert html.unescape("".join(tokens)).replace("↵\n", "\n") == "ROMEO:" + final, "one span a token"
    *_, studio_text = text.stream("ROMEO:", 400, 0.8, 0, 1.0, 3, GPT)
    assert final == studio_text.text


def test_compare_table_has_a_row_per_model(client):
    grids, table, notes = client.predict(dataset="fashion", seed=1, api_name="/compare")
    assert table["headers"][:3] == ["Model", "Family", "FID ↓"]
    assert {row[0] for row in table["data"]} >= {"vae-fashion", "gan-mlp-fashion"}
    assert len(grids) >= len(table["data"]) and "Rows, top to bottom: T-shirt/top" in notes


@pytest.mark.parametrize("call, message", [
    (dict(model="nope", api_name="/gan_generate"), "Unknown model 'nope'"),
    (dict(model=GAN, label="Sneaker", api_name="/gan_generate"), "Unknown class"),
    (dict(model=GAN, seed="abc", api_name="/gan_sweep"), "Expected a number for seed"),
    (dict(model=VAE, image_a=None, api_name="/vae_interpolate"), "Image A is missing"),
    (dict(prompt="naïve 😀", api_name="/text_generate"), "does not know these characters"),
    (dict(dataset="cifar", api_name="/compare"), "Unknown dataset"),
])
def test_bad_input_is_a_clear_error_and_the_server_lives_on(client, call, message):
    with pytest.raises(AppError, match=message):
        client.predict(**call)
    assert client.predict(model=GAN, api_name="/gan_generate")  # still serving


def test_a_file_that_is_not_a_picture_is_a_clear_error(client, pictures, tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture")
    with pytest.raises(AppError, match="Image B is not a picture"):
        client.predict(model=VAE, image_a=handle_file(pictures[0]), image_b=handle_file(fake),
                       api_name="/vae_interpolate")


def test_a_client_cannot_read_server_files_through_an_image_parameter(app_url):
    """The VAE event skips Gradio's preprocessing; Gradio must still refuse paths that were not uploaded."""
    server_file = {"path": str(Path(__file__).resolve()), "meta": {"_type": "gradio.FileData"}}
    call = httpx.post(f"{app_url}gradio_api/call/vae_interpolate",
                      json={"data": [VAE, server_file, server_file, 4, "lerp"]}).json()
    events = httpx.get(f"{app_url}gradio_api/call/vae_interpolate/{call['event_id']}", timeout=30).text
    assert "event: error" in events and "event: complete" not in events


def test_events_leave_few_components_in_the_pages_status_list(app_url):
    """The page refreshes every progress target an event ever had on each status change (aigc.ui.NO_PROGRESS):
    page-load events and events that show no progress have none, the others at most three."""
    config = httpx.get(app_url + "config").json()
    for dependency in config["dependencies"]:
        if not dependency["backend_fn"]:
            continue
        targets = dependency["show_progress_on"]
        targets = dependency["outputs"] if targets is None else targets
        triggers = {event for _, event in dependency["targets"]}
        name = dependency.get("api_name") or dependency["id"]
        if "load" in triggers or dependency["show_progress"] == "hidden":
            assert targets == [], name
        assert len(targets) <= 3, name

"""Many people at once on loopback: every endpoint serves every request, and a heavy user cannot starve the sliders.

Each simulated person is their own gradio_client Client (their own session), as
in a browser.  Requests are kept small so that the file runs in about a minute
on two busy cores; the latencies are printed (``pytest -s``).  Timing is only
asserted, loosely, in the starvation test: the rest asserts that nobody is lost.
"""

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from helpers import percentile, sample_picture, small_request

CLIENTS = 32  # on /gan_generate, the slider endpoint that every visitor hits while dragging
CLIENTS_PER_ENDPOINT = 16  # on each of the others, at the same time: about 130 requests in all
# The endpoints that take seconds per call (a whole dataset's samples and metrics) are hit by fewer people:
# more would only measure how long their queue is.  A training runs one at a time, for seconds.
SLOW_ENDPOINTS = {"/compare": 4, "/compare_measure": 2, "/train": 1}
# gradio_client's HTTP calls (uploads, downloads) give up after 5 s by default; on two shared cores serving
# over a hundred requests at once, waiting longer is what a person does too.  How long they wait is what p95 says.
PATIENT = {"timeout": 120}


@pytest.fixture(scope="module")
def clients(app_url):
    """One person each, from an address of their own (as the Spaces proxy forwards it): each has their own share
    of the queue (aigc.ui.fairness)."""
    def person(i: int) -> Client:
        return Client(app_url, verbose=False, httpx_kwargs=PATIENT, headers={"X-Forwarded-For": f"198.51.100.{i}"})

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(person, range(CLIENTS)))


@pytest.fixture(scope="module")
def endpoints(clients):
    return clients[0].view_api(print_info=False, return_format="dict")["named_endpoints"]


def timed_call(client: Client, endpoint: str, request: dict) -> tuple[float, object]:
    start = time.perf_counter()
    result = client.predict(api_name=endpoint, **request)
    return time.perf_counter() - start, result


def answer(client: Client, endpoint: str, request: dict) -> tuple[float, str]:
    """(seconds, "result") or (seconds, the error message): an endpoint that cannot serve a request here
    (its data is not prepared) must give the same clear error under load as alone."""
    start = time.perf_counter()
    try:
        client.predict(api_name=endpoint, **request)
        outcome = "result"
    except AppError as e:
        outcome = str(e)
    return time.perf_counter() - start, outcome


def test_every_endpoint_serves_every_concurrent_client(clients, endpoints, tmp_path):
    """All endpoints at once, each with many people: every request gets its answer, none is lost or refused."""
    picture = sample_picture(tmp_path)
    alone = {endpoint: answer(clients[0], endpoint, small_request(info["parameters"], picture))[1]
             for endpoint, info in endpoints.items()}
    calls = []  # (client, endpoint, request): each person sends one request to every endpoint
    for endpoint, info in endpoints.items():
        people = CLIENTS if endpoint == "/gan_generate" else SLOW_ENDPOINTS.get(endpoint, CLIENTS_PER_ENDPOINT)
        for person in range(people):
            calls.append((clients[person], endpoint, small_request(info["parameters"], picture, variant=person)))
    with ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(lambda call: answer(*call), calls))
    for endpoint in endpoints:
        outcomes = [outcome for (_, name, _), (_, outcome) in zip(calls, answers) if name == endpoint]
        lost = [outcome for outcome in outcomes if outcome != alone[endpoint]]
        assert not lost, f"{endpoint}: {len(lost)} of {len(outcomes)} answered otherwise than alone: {lost[:3]}"
        seconds = sorted(latency for (_, name, _), (latency, _) in zip(calls, answers) if name == endpoint)
        print(f"{endpoint}: {len(seconds)} concurrent clients, all served ({alone[endpoint][:60]}); "
              f"median {statistics.median(seconds):.2f} s, p95 {percentile(seconds, 95):.2f} s")


def test_people_asking_for_the_same_picture_at_once_all_get_it_whole(clients):
    """Everyone who opens the page gets the same first picture; Gradio rewrote its file in place as it was
    being downloaded, so some got an empty picture (fixed by aigc.ui.gradio_fixes)."""
    def picture(client: Client) -> tuple[int, int]:
        with Image.open(client.predict(model="gan-mnist", seed=7, api_name="/gan_generate")) as image:
            image.load()
            return image.size

    with ThreadPoolExecutor(CLIENTS) as pool:
        for _ in range(2):
            assert set(pool.map(picture, clients)) == {(280, 280)}


def test_a_heavy_user_does_not_starve_the_sliders_of_others(clients, tmp_path):
    """A 2000-token generation, a 64-frame interpolation and four 61-frame GAN sweeps (each one a GIF) run while
    another person drags a GAN slider."""
    heavy, slider = clients[0], clients[1]
    picture = handle_file(sample_picture(tmp_path))

    def drag(count: int, seed: int) -> list[float]:
        return [timed_call(slider, "/gan_generate", dict(model="gan-mnist", seed=seed, d1=i / count))[0]
                for i in range(count)]

    drag(3, 0)  # warm up this client's connection
    idle = drag(8, 100)
    text = heavy.submit(prompt="ROMEO:", max_new_tokens=2000, seed=1, api_name="/text_generate")
    frames = heavy.submit(model="vae-mnist", image_a=picture, image_b=picture, steps=64, api_name="/vae_interpolate")
    sweeps = [heavy.submit(model="gan-mnist", seed=seed, frames=61, api_name="/gan_sweep") for seed in range(4)]
    while not text.outputs():  # until the generation has begun
        time.sleep(0.05)
    loaded = []
    while not text.done() and len(loaded) < 15:
        loaded += drag(1, 200 + len(loaded))
    assert len(text.result(timeout=120)[0]) >= 2000  # the heavy user is served too
    assert len(frames.result(timeout=120)[0]) == 64 and all(sweep.result(timeout=120) for sweep in sweeps)
    assert len(loaded) >= 3, "the generation ended before the slider could be measured beside it"
    idle_p95, loaded_p95 = percentile(sorted(idle), 95), percentile(sorted(loaded), 95)
    print(f"GAN slider requests: p95 {idle_p95:.2f} s idle, {loaded_p95:.2f} s beside a heavy user "
          f"({len(loaded)} requests during the generation)")
    # loose on purpose (two busy shared cores): a starved slider waits for the whole generation, seconds
    assert loaded_p95 < max(2.0, 4 * idle_p95)

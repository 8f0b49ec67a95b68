"""One visitor cannot take more than their share: of the queue, of the cores, of memory, of the disk.

Each simulated visitor has an address of their own, sent as X-Forwarded-For (the
test app runs as behind the Spaces proxy: tests/conftest.py).  Figures are
printed (``pytest -s``); timing is asserted loosely, the rest exactly.
"""

import inspect
import json
import os
import statistics
import time

import httpx
import pytest
from gradio.queueing import Event, Queue

from aigc.studio import OUTPUT_DIR, OUTPUT_LIFETIME_S, output_file
from aigc.ui import fairness
from helpers import percentile

FLOOD = {"X-Forwarded-For": "203.0.113.7"}  # one client flooding (an address reserved for documentation)
BYSTANDER = {"X-Forwarded-For": "198.51.100.20, 10.0.0.1"}  # another visitor, as the proxy forwards them
LONG_GENERATION = {"prompt": "ROMEO:", "max_new_tokens": 2000, "seed": 1, "model": "gpt-shakespeare"}


def picture(seed: int) -> dict:
    return {"model": "gan-mnist", "seed": seed}


def join(url: str, endpoint: str, parameters: dict, headers: dict) -> httpx.Response:
    """Join the queue as an API client does (POST /gradio_api/call/v2/..., parameters by name, the others their
    defaults), without reading the result."""
    return httpx.post(f"{url}gradio_api/call/v2/{endpoint}", json=parameters, headers=headers, timeout=30)


def result(url: str, endpoint: str, parameters: dict, headers: dict) -> str:
    """Join, then read the whole answer; -> the event stream's text."""
    joined = join(url, endpoint, parameters, headers)
    joined.raise_for_status()
    return httpx.get(f"{url}gradio_api/call/v2/{endpoint}/{joined.json()['event_id']}", headers=headers,
                     timeout=120).text


def flood(url: str, count: int) -> tuple[list[str], httpx.Response | None]:
    """Up to ``count`` long generations from one client, never read -> (their event ids, the first refusal)."""
    events = []
    for _ in range(count):
        joined = join(url, "text_generate", LONG_GENERATION, FLOOD)
        if joined.status_code != 200:
            return events, joined
        events.append(joined.json()["event_id"])
    return events, None


def text_generate_index(app) -> int:
    return next(fn._id for fn in app.fns.values() if fn.api_name == "text_generate")


def cancel(app, url: str, events: list[str]) -> None:
    """Cancel the flood's generations, and wait until the queue has let them go."""
    for event_id in events:  # a sessionless call's session is its own event id
        httpx.post(f"{url}gradio_api/cancel", timeout=30,
                   json={"session_hash": event_id, "fn_index": text_generate_index(app), "event_id": event_id})
    deadline = time.monotonic() + 120
    while any(event_id in app._queue.event_ids_to_events for event_id in events) and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.fixture
def flooded(app, app_url):
    """A client that has queued long generations until refused; they are cancelled afterwards."""
    events, refusal = flood(app_url, fairness.PENDING_PER_CLIENT + 5)
    yield events, refusal
    cancel(app, app_url, events)


def test_gradio_still_keeps_what_the_caps_count(app):
    """aigc.ui.fairness counts Gradio's own queue; if Gradio changes it, this says so before any cap goes silent."""
    assert getattr(Queue.push, "limit_pending", False), "fairness.install() did not run"
    assert list(inspect.signature(inspect.unwrap(Queue.push)).parameters) == ["self", "body", "request", "username"], \
        "Gradio's Queue.push changed its parameters: update aigc.ui.fairness.limit_pending"
    assert isinstance(app._queue.event_ids_to_events, dict), "Gradio's queue no longer keeps event_ids_to_events"
    event = inspect.signature(Event.__init__).parameters
    assert "request" in event and "fn" in event, "Gradio's queue Event no longer keeps the request"
    assert isinstance(app.state_holder.session_data, dict) and app.state_holder.capacity, \
        "Gradio's StateHolder changed: the sessions test counts session_data against capacity"


def test_the_address_is_the_proxys_first_hop_only_behind_a_proxy(monkeypatch):
    headers = [(b"x-forwarded-for", b"198.51.100.20, 10.0.0.1")]
    monkeypatch.setenv("AIGC_BEHIND_PROXY", "1")
    assert fairness.client_address(headers, ("10.16.3.80", 5000)) == "198.51.100.20"
    assert fairness.client_address([], ("10.16.3.80", 5000)) == "10.16.3.80"
    monkeypatch.delenv("AIGC_BEHIND_PROXY")
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert fairness.client_address(headers, ("127.0.0.1", 5000)) == "127.0.0.1"  # anyone can send the header


def test_one_client_cannot_fill_the_queue_and_the_others_are_still_served(app, app_url, flooded):
    events, refusal = flooded
    assert all(event_id in app._queue.event_ids_to_events for event_id in events), "the flood did not queue"
    assert len(events) == fairness.HEAVY_PER_CLIENT, "the flood was not capped at its share of the heavy queue"
    assert refusal.status_code == 429 and "long requests" in refusal.json()["detail"]
    assert refusal.headers["retry-after"]
    assert "event: complete" in result(app_url, "gan_generate", picture(1), BYSTANDER)
    short = {"prompt": "ROMEO:", "max_new_tokens": 5}
    assert join(app_url, "text_generate", short, BYSTANDER).status_code == 200  # their own share of the heavy queue
    assert httpx.get(app_url, headers=BYSTANDER, timeout=60).status_code == 200  # the page still loads


def test_a_client_has_at_most_its_share_of_all_pending_events(app_url, monkeypatch):
    monkeypatch.setattr(fairness, "PENDING_PER_CLIENT", 3)  # below the heavy cap, so this cap is the one met
    events, refusal = flood(app_url, 6)
    try:
        assert len(events) == 3
        assert refusal.status_code == 429 and "at most 3 at once" in refusal.json()["detail"]
    finally:
        monkeypatch.undo()
        for event_id in events:  # wait them out: three generations
            httpx.get(f"{app_url}gradio_api/call/v2/text_generate/{event_id}", timeout=120)


def test_a_bystanders_slider_keeps_its_pace_while_one_client_floods_long_generations(app, app_url):
    """The figures of the README's reliability section: /gan_generate latency idle and beside the flood."""
    def slider(count: int, seed: int) -> list[float]:
        seconds = []
        for i in range(count):
            start = time.perf_counter()
            assert "event: complete" in result(app_url, "gan_generate", picture(seed + i), BYSTANDER)
            seconds.append(time.perf_counter() - start)
        return seconds

    slider(3, 0)  # warm up
    idle = slider(20, 100)
    events, _ = flood(app_url, fairness.PENDING_PER_CLIENT + 5)
    try:
        loaded = slider(20, 1000)
        assert events[-1] in app._queue.event_ids_to_events, "the flood ended before the slider was measured beside it"
    finally:
        cancel(app, app_url, events)
    idle_p95, loaded_p95 = percentile(sorted(idle), 95), percentile(sorted(loaded), 95)
    print(f"/gan_generate: median {statistics.median(idle):.3f} s, p95 {idle_p95:.3f} s idle; median "
          f"{statistics.median(loaded):.3f} s, p95 {loaded_p95:.3f} s beside {len(events)} queued 2000-token "
          "generations of one client")
    assert loaded_p95 < max(1.0, 4 * idle_p95)  # loose on purpose: two busy shared cores


def test_api_calls_without_a_session_keep_a_bounded_number_of_sessions(app, app_url, monkeypatch):
    """Gradio keeps a session (~190 KB) for every call that names none; the oldest go past the capacity."""
    from app import STATE_SESSIONS

    sessions = app.state_holder.session_data
    assert app.state_holder.capacity == STATE_SESSIONS
    before = len(sessions)
    result(app_url, "gan_generate", picture(1), BYSTANDER)
    assert len(sessions) == min(before + 1, STATE_SESSIONS), "a sessionless call no longer keeps a session: " \
        "STATE_SESSIONS may be raised"
    bound = len(sessions) + 3  # the same bound, reached in a few calls (Gradio drops one session a call past it)
    monkeypatch.setattr(app.state_holder, "capacity", bound)
    for seed in range(12):
        result(app_url, "gan_generate", picture(seed), BYSTANDER)
        assert len(sessions) <= bound


def upload(url: str, size: int, headers: dict) -> httpx.Response:
    return httpx.post(f"{url}gradio_api/upload", headers=headers, timeout=60,
                      files={"files": ("noise.png", os.urandom(size), "image/png")})


def test_each_client_uploads_at_most_its_budget_a_minute(app_url):
    uploader = {"X-Forwarded-For": "203.0.113.50"}
    part = fairness.UPLOAD_BYTES_PER_MINUTE * 2 // 5
    assert upload(app_url, part, uploader).status_code == 200
    assert upload(app_url, part, uploader).status_code == 200
    refused = upload(app_url, part, uploader)
    assert refused.status_code == 429 and "MB a minute" in refused.json()["detail"]
    assert 0 < int(refused.headers["retry-after"]) <= 61
    assert upload(app_url, part, BYSTANDER).status_code == 200  # everyone else still uploads
    too_big = upload(app_url, fairness.UPLOAD_BYTES_PER_MINUTE + 1, {"X-Forwarded-For": "203.0.113.51"})
    assert too_big.status_code == 413


def test_an_upload_that_does_not_declare_its_size_is_refused(app_url):
    def chunks():
        yield b"--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\n\r\n"
        yield os.urandom(1000) + b"\r\n--x--\r\n"

    sent = httpx.post(f"{app_url}gradio_api/upload", content=chunks(), timeout=60,
                      headers={"Content-Type": "multipart/form-data; boundary=x", **BYSTANDER})
    assert sent.status_code == 411


def test_gradio_deletes_every_picture_the_app_hands_out_once_old(app, app_url):
    """delete_cache deletes only the files Gradio tracks: the pictures (written by aigc.ui.gradio_fixes) must be."""
    from app import DELETE_CACHE

    assert app.delete_cache == DELETE_CACHE
    answer = result(app_url, "gan_generate", picture(424242), BYSTANDER)
    path = json.loads(answer.split("event: complete\ndata: ")[1].splitlines()[0])[0]["path"]
    assert any(path in files for files in app.temp_file_sets), f"Gradio would never delete {path}"


def test_files_the_app_writes_are_removed_once_old(monkeypatch):
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    old, recent = OUTPUT_DIR / "old-test.gif", OUTPUT_DIR / "recent-test.gif"
    for path in (old, recent):
        path.write_bytes(b"GIF89a")
    stale = time.time() - OUTPUT_LIFETIME_S - 60
    os.utime(old, (stale, stale))
    output_file(".gif")
    assert not old.exists() and recent.exists()
    recent.unlink()

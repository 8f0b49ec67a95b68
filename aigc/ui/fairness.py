"""Fair sharing of one small server: no single client can fill the queue, hold all the heavy work or fill the disk.

A client is an address: behind the Spaces proxy (``SPACE_ID`` set, or
``AIGC_BEHIND_PROXY`` wherever the operator runs one) the first address of
``X-Forwarded-For``, the visitor's as the proxy saw it; anywhere else the
connection's own address (a header a client sends itself proves nothing there).
Were a proxy to keep an X-Forwarded-For the client sent and append to it, the
first address would be the client's word: behind such a proxy, key on the
address it appends instead.

- Pending events.  Gradio has one queue of ``max_size`` events for everyone: ~45
  long generations from one client filled it, and every other person then got
  "Queue is full".  Here a client may have at most ``PENDING_PER_CLIENT`` events
  waiting or running, ``HEAVY_PER_CLIENT`` of them in the heavy queue
  (aigc.ui.common.HEAVY) and ``TRAININGS_PER_CLIENT`` in the line of trainings
  (aigc.ui.train.TRAIN, one run at a time on the server); past that, joining the
  queue is refused with HTTP 429 and a message.  The count is Gradio's own: the
  events its queue holds from join until done (``Queue.event_ids_to_events``),
  so it cannot drift from what is queued.
  ``install`` wraps ``Queue.push`` for that (tests/test_fair_sharing.py fails
  loudly should Gradio change what it relies on).
- Uploads.  ``/gradio_api/upload`` took 1 GB in 4.5 s from one client.  The
  :class:`UploadBudget` middleware lets each client upload at most
  ``UPLOAD_BYTES_PER_MINUTE`` (each file is also capped by ``max_file_size``);
  what was uploaded is deleted by Gradio's ``delete_cache`` (app.py).
"""

import functools
import json
import os
import time
from collections import Counter, defaultdict, deque

from fastapi import HTTPException
from gradio.queueing import Queue

PENDING_PER_CLIENT = 32  # above the ~17 events of a page load: two tabs opened at once still load
HEAVY_PER_CLIENT = 8  # above what a page load opened from a share link queues there
TRAININGS_PER_CLIENT = 1  # a run takes up to 5 minutes: one visitor holds at most one place in that line
HEAVY_ID = "heavy"
TRAIN_ID = "train"
UPLOAD_BYTES_PER_MINUTE = 40 * 2**20  # two pictures of the largest size allowed (app.MAX_FILE_SIZE) a minute


def behind_proxy() -> bool:
    return bool(os.environ.get("SPACE_ID") or os.environ.get("AIGC_BEHIND_PROXY"))


def client_address(headers, client) -> str:
    """The client's address from ASGI ``headers`` ([(name, value)] in bytes) and ``client`` ((host, port) or None)."""
    if behind_proxy():
        forwarded = next((value for name, value in headers if name == b"x-forwarded-for"), b"")
        first = forwarded.decode("latin-1").split(",")[0].strip()
        if first:
            return first
    return client[0] if client else "unknown"


def request_address(request) -> str:
    scope = getattr(request, "scope", None) or {}  # an event Gradio queued itself has no request
    return client_address(scope.get("headers", []), scope.get("client"))


def too_many(message: str, retry_after: int) -> HTTPException:
    return HTTPException(status_code=429, detail=message, headers={"Retry-After": str(retry_after)})


def limit_pending(push):
    """``Queue.push``, refusing a client that already has its share of the queue."""
    @functools.wraps(push)
    async def limited(self, body, request, username):
        address = request_address(request)
        fn = self.blocks.fns.get(body.fn_index) if body.fn_index is not None else None
        queue_id = fn.concurrency_id if fn is not None else None
        # pushes under way, not yet queued, by (address, queue)
        joining = self.__dict__.setdefault("aigc_joining", defaultdict(int))
        mine = Counter(event.concurrency_id for event in self.event_ids_to_events.values()
                       if request_address(event.request) == address)  # this client's events, by queue
        mine.update({queue: count for (who, queue), count in joining.items() if who == address})
        if (pending := mine.total()) >= PENDING_PER_CLIENT:
            raise too_many(f"You have {pending} requests waiting or running (at most {PENDING_PER_CLIENT} at once): "
                           "wait for them to finish, then try again.", 10)
        if refusal := over_share(queue_id, mine[queue_id]):
            raise too_many(refusal, 10)
        joining[address, queue_id] += 1
        try:
            return await push(self, body, request, username)
        finally:
            joining[address, queue_id] -= 1
            if not joining[address, queue_id]:
                del joining[address, queue_id]

    limited.limit_pending = True
    return limited


def over_share(queue_id: str | None, held: int) -> str | None:
    """Why one more event of the queue ``queue_id`` is refused to a client who holds ``held`` of its places; None:
    it isn't.  The heavy queue and the line of trainings are shared: each client may hold only a few places."""
    if queue_id == HEAVY_ID and held >= HEAVY_PER_CLIENT:
        return (f"You have {HEAVY_PER_CLIENT} long requests (generations, animations, metrics) waiting or running: "
                "wait for them to finish, then try again.")
    if queue_id == TRAIN_ID and held >= TRAININGS_PER_CLIENT:
        return ("You have a training waiting or running (one at a time for each visitor): wait for it to finish, "
                "or stop it, then try again.")
    return None


def install() -> None:
    """Idempotent, like aigc.ui.gradio_fixes.install: build_app may run more than once in a process."""
    if not getattr(Queue.push, "limit_pending", False):
        Queue.push = limit_pending(Queue.push)


class UploadBudget:
    """ASGI middleware: each client may upload ``bytes_per_minute``; past it, uploads are refused with 429.

    An upload is charged its declared size (``Content-Length``, which the server holds
    the body to) before a byte of it is read, so an upload without one is refused.
    """

    def __init__(self, app, bytes_per_minute: int = UPLOAD_BYTES_PER_MINUTE):
        self.app = app
        self.bytes_per_minute = bytes_per_minute
        self.uploads: dict[str, deque[tuple[float, int]]] = {}  # address -> (time, bytes) of the last minute

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].endswith("/gradio_api/upload"):
            refusal = self.charge(scope)
            if refusal is not None:
                status, message, retry_after = refusal
                headers = [(b"content-type", b"application/json"), (b"retry-after", str(retry_after).encode())]
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": json.dumps({"detail": message}).encode()})
                return
        await self.app(scope, receive, send)

    def charge(self, scope) -> tuple[int, str, int] | None:
        """Record this upload against its client -> None, or (status, message, seconds to wait) to refuse it."""
        declared = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if declared is None or not declared.isdigit():
            return 411, "An upload must declare its size (Content-Length)", 0
        size, now = int(declared), time.monotonic()
        limit = self.bytes_per_minute / 2**20
        if size > self.bytes_per_minute:
            return 413, f"An upload may be at most {limit:.0f} MB", 0
        address = client_address(scope["headers"], scope.get("client"))
        recent = self.uploads.setdefault(address, deque())
        while recent and recent[0][0] < now - 60:
            recent.popleft()
        if len(self.uploads) > 10_000:  # forget the clients that uploaded nothing for a minute
            self.uploads = {key: value for key, value in self.uploads.items() if value or key == address}
        used = sum(amount for _, amount in recent)
        if used + size > self.bytes_per_minute:
            wait = int(recent[0][0] + 60 - now) + 1
            return 429, (f"Uploads are limited to {limit:.0f} MB a minute for each visitor: try again in "
                         f"{wait} s"), wait
        recent.append((now, size))
        return None

"""Requests served together, and failures kept apart: one broken request never fails the others batched with it.

Gradio batches waiting requests into one call (the GAN's sliders: one forward
pass per model for everyone dragging at once).  If that call raises, for any
reason (a bad value, a model that fails to load, NaN weights that break an SVD),
each request is served again on its own, so that only the requests that fail
alone fail.
"""

import logging
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)


def each_alone(run_batch: Callable[[Sequence], list], run_one: Callable, requests: Sequence) -> list:
    """``run_batch(requests)``, or if it raises, ``run_one(request)`` for each request -> one result per request.

    A request that fails alone gets its exception in its place in the list; a
    single request's exception is raised as is (there is no one else to spare).
    """
    try:
        return run_batch(requests)
    except Exception:
        if len(requests) == 1:
            raise
        log.info("A batch of %d requests failed; serving each alone", len(requests), exc_info=True)
    results = []
    for request in requests:
        try:
            results.append(run_one(request))
        except Exception as e:  # any failure stays with its own request
            results.append(e)
    return results

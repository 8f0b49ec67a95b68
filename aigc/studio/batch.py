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


def served(run_batch: Callable[[Sequence], list], run_one: Callable, requests: Sequence) -> list:
    """:func:`each_alone`, as a batched endpoint answers -> one result per request, None where it failed.

    Each failure is logged; only when every request failed is there nobody to serve, and the first
    failure is raised (the person then sees why).
    """
    results = each_alone(run_batch, run_one, requests)
    failures = [result for result in results if isinstance(result, Exception)]
    for failure in failures:
        log.warning("A request failed in a batch of %d: %r", len(requests), failure)
    if failures and len(failures) == len(results):
        raise failures[0]
    return [None if isinstance(result, Exception) else result for result in results]

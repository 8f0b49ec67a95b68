"""The README's Train tab figures: steps per second of each family, and a bystander's /gan_generate latency
while a training runs, against the same bystander on the idle app.

    python tests/train_benchmark.py [SECONDS]     # each family trains SECONDS (20 by default)

``python app.py`` serves on 127.0.0.1 in a subprocess; one client trains through /train while another asks
/gan_generate for a picture at a time, a new seed each, for as long as the training runs.  The app's peak
memory is read before the first training and after the last.
"""

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gradio_client import Client  # noqa: E402

from helpers import peak_rss_mb, percentile, serving  # noqa: E402

FAMILIES = ("mlp-gan", "dcgan", "vae")


def latencies(client: Client, until, first_seed: int) -> list[float]:
    """Seconds of each /gan_generate call, one after another, while ``until()`` is False (at least 10 calls)."""
    times = []
    while len(times) < 10 or not until():
        start = time.perf_counter()
        client.predict(model="gan-mnist", label=len(times) % 10, seed=first_seed + len(times), d1=0.5,
                       api_name="/gan_generate")
        times.append(time.perf_counter() - start)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    return f"median {statistics.median(ordered) * 1000:.0f} ms, p95 {percentile(ordered, 95) * 1000:.0f} ms " \
           f"({len(times)} calls)"


def main(seconds: int) -> None:
    with serving([sys.executable, "app.py"], env={"GRADIO_ANALYTICS_ENABLED": "False"}) as (url, process, _):
        bystander, trainer = Client(url, verbose=False), Client(url, verbose=False)
        latencies(bystander, lambda: True, 0)  # warm-up
        idle_end = time.monotonic() + seconds
        idle = latencies(bystander, lambda: time.monotonic() > idle_end, 1000)
        print(f"bystander /gan_generate, idle: {summary(idle)}; app peak memory {peak_rss_mb(process):.0f} MB")
        for family in FAMILIES:
            with ThreadPoolExecutor(1) as pool:
                training = pool.submit(trainer.predict, family=family, seconds=seconds, api_name="/train")
                busy = latencies(bystander, training.done, 2000)
                status = training.result()[0]
            ratio = statistics.median(busy) / statistics.median(idle)
            print(f"{family}: {status['step']} steps in {status['seconds']} s = "
                  f"{status['step'] / status['seconds']:.1f} steps/s; bystander while training: {summary(busy)}, "
                  f"{ratio:.2f}x idle")
        print(f"app peak memory after the three trainings: {peak_rss_mb(process):.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)

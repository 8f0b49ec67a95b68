"""The README's Space figures: the size of the Space copy, and its cold start with Hub-pulled weights.

    python tests/space_cold_start.py [RUNS]     # RUNS starts of each kind, 3 by default

A clone of the repo without ``weights/`` gets its models from the fake Hub of
tests/fake_hub.py (published, pins recorded) into an empty cache: one first
start fills the cache; then, in turn, RUNS starts with that warm cache and RUNS
starts of the same clone with ``weights/`` bundled.  A start is the time from
``python app.py`` to its first HTTP 200.
"""

import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
os.environ["HF_HUB_OFFLINE"] = "0"  # before huggingface_hub is imported: this process publishes

from huggingface_hub import HfApi  # noqa: E402

from aigc.publish import publish_models, space_files  # noqa: E402
from fake_hub import FakeHub  # noqa: E402
from helpers import checkout, serving_checkout  # noqa: E402


def main(runs: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    try:
        bundled = checkout(tmp / "bundled")
        files = space_files(bundled)
        print(f"Space copy: {len(files)} files, {sum((bundled / f).stat().st_size for f in files) / 1e6:.2f} MB")
        space = checkout(tmp / "space")
        shutil.rmtree(space / "weights")
        env = {k: v for k, v in os.environ.items() if k not in ("AIGC_WEIGHTS_DIR", "HF_HUB_CACHE", "HF_TOKEN")}
        env |= {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1", "AIGC_HUB_NAMESPACE": "ns"}
        with FakeHub() as hub:
            publish_models(ns="ns", api=HfApi(endpoint=hub.url, token="hf_fake"),
                           record=space / "aigc" / "hub_revisions.json")
            from_hub = env | {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp / "hf"), "HF_HUB_OFFLINE": "0"}
            with serving_checkout(space, from_hub) as (_, seconds):
                print(f"first start, empty cache: {seconds:.1f} s")
            offline = env | {"HF_HOME": str(tmp / "hf-bundled"), "HF_HUB_OFFLINE": "1"}
            times = {"Hub cache, warm": [], "weights/ bundled": []}
            for _ in range(runs):
                with serving_checkout(space, from_hub) as (_, seconds):
                    times["Hub cache, warm"].append(seconds)
                with serving_checkout(bundled, offline) as (_, seconds):
                    times["weights/ bundled"].append(seconds)
        for name, values in times.items():
            print(f"{name}: median {statistics.median(values):.1f} s of {', '.join(f'{v:.1f}' for v in values)}")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)

"""Request latency through runpod's local API: `python -m benchmarks.api_latency [--engine fake]`.

Starts the worker as `make serve` does (a subprocess on a free loopback port, a temporary
file store), sends N sequential `tts` requests and prints p50/p95/max. With the fake
engine this measures the service's own overhead: parsing, store, encoding, HTTP.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tests.e2e.worker import running_worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="fake")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--text", default="Hello world! This is a latency probe of the worker.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"TTS_ENGINE": args.engine, "STORAGE_URL": f"file://{tmp}/store", "LOG_LEVEL": "WARNING"}
        with running_worker(env, Path(tmp) / "worker.log") as worker:
            worker.runsync({"text": "warm up"})
            for mode in ("url", "base64"):
                seconds = []
                for i in range(args.requests):
                    start = time.perf_counter()
                    answer = worker.runsync({"text": args.text, "seed": i, "return": mode})
                    seconds.append(time.perf_counter() - start)
                    assert answer["status"] == "COMPLETED", answer
                ms = sorted(s * 1000 for s in seconds)
                p95 = ms[int(0.95 * (len(ms) - 1))]
                print(
                    f"engine={args.engine} return={mode:<6} n={len(ms)} "
                    f"p50={statistics.median(ms):.1f} ms p95={p95:.1f} ms max={ms[-1]:.1f} ms"
                )


if __name__ == "__main__":
    main()

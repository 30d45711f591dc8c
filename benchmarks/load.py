"""Mixed good/bad load through the local API: `python -m benchmarks.load [--requests 200 --threads 16]`.

Prints requests, outcomes by code, mismatches against the expected code, wall time and the
worker's resident memory before, at peak and after.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.e2e.load import run_load
from tests.e2e.worker import running_worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--engine", default="fake")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "TTS_ENGINE": args.engine,
            "STORAGE_URL": f"file://{tmp}/store",
            "VOICE_CACHE_DIR": f"{tmp}/cache",
            "MAX_VOICE_BYTES": str(1 << 20),
            "LOG_LEVEL": "WARNING",
        }
        with running_worker(env, Path(tmp) / "worker.log") as worker:
            baseline = worker.memory_kib()
            report = run_load(worker, args.requests, args.threads)
            after = worker.memory_kib()
    print(f"requests={report.requests} threads={args.threads} seconds={report.seconds:.2f}")
    print("outcomes: " + ", ".join(f"{code}={n}" for code, n in sorted(report.outcomes.items())))
    print(f"mismatches={len(report.mismatches)}")
    print(f"rss_kib: start={baseline['VmRSS']} peak={after['VmHWM']} end={after['VmRSS']}")


if __name__ == "__main__":
    main()

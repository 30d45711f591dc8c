"""Mixed good/bad load through the local API: `python -m benchmarks.load [--requests 200 --threads 16]`.

Prints requests, outcomes by code, mismatches against the expected code, wall time and the
worker's resident memory before, at peak and after; then each hostile input of the second
hostile-input round sent alone, with the worker's peak memory above its resident memory
just before (the kernel's high-water mark, reset before each job through /proc/PID/clear_refs).
`--root DIR` runs the worker from another checkout of the project (an older commit exported
with `git archive`), for a before/after comparison on the same machine in the same run.
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
from pathlib import Path

import requests

from harness.load import answer_code, hostile_jobs, run_load
from harness.processes import ROOT, Worker, running_worker

LAST = "ogg answer of ~100 s"  # last: on a worker without the fix it kills the process


def memory(worker: Worker) -> dict[str, int] | None:
    """The worker's memory, or None once it has died (a dead process has no VmRSS)."""
    try:
        return worker.memory_kib()
    except (KeyError, OSError):
        return None


def hostile_table(worker: Worker) -> list[str]:
    jobs = hostile_jobs(uuid.uuid4().hex[:8], 0)
    order = [name for name in jobs if name != LAST] + [LAST]
    rows = [f"{'hostile input (alone)':<30} {'expected':<14} {'answer':<14} {'peak above start MiB':>20}"]
    for name in order:
        job, expected = jobs[name]
        try:
            start = worker.reset_peak()
            got = answer_code(worker.runsync(job, timeout=300))
            peak = (worker.memory_kib()["VmHWM"] - start) / 1024
            rows.append(f"{name:<30} {expected:<14} {got:<14} {peak:>20.1f}")
        except (requests.RequestException, OSError) as exc:
            rows.append(f"{name:<30} {expected:<14} {'worker died':<14} {'-':>20}  ({type(exc).__name__})")
            break
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--engine", default="fake")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout the worker runs from")
    parser.add_argument("--hostile-only", action="store_true", help="skip the mixed load")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "TTS_ENGINE": args.engine,
            "STORAGE_URL": f"file://{tmp}/store",
            "VOICE_CACHE_DIR": f"{tmp}/cache",
            "MAX_VOICE_BYTES": str(1 << 20),
            "LOG_LEVEL": "WARNING",
        }
        with running_worker(env, Path(tmp) / "worker.log", root=args.root) as worker:
            baseline = worker.memory_kib()
            if not args.hostile_only:
                report = run_load(worker, args.requests, args.threads)
                after = memory(worker)
            rows = hostile_table(worker) if memory(worker) else ["worker died during the mixed load"]
    if not args.hostile_only:
        print(f"requests={report.requests} threads={args.threads} seconds={report.seconds:.2f}")
        print("outcomes: " + ", ".join(f"{code}={n}" for code, n in sorted(report.outcomes.items())))
        print(f"mismatches={len(report.mismatches)}" + "".join(f"\n  {m}" for m in sorted(set(report.mismatches))))
        if after is None:
            print(f"rss_kib: start={baseline['VmRSS']} (the worker died: no answer for {report.outcomes['no answer']})")
        else:
            print(f"rss_kib: start={baseline['VmRSS']} peak={after['VmHWM']} end={after['VmRSS']}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

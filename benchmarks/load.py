"""Memory and outcomes under hostile load: `python -m benchmarks.load [--requests 200 --threads 16] [--openai]`.

The fake engine throughout, so what is measured is what the server holds, not the model. `--openai`:
a 2,390 s answer from 2.6 KB of text (`LONG_TEXT`) whole, streamed as wav and SSE, four at
once; then one request naming 12, then 20, uploaded voices of 60 s at 192 kHz, each in a fresh
server. Peaks are rises of the kernel's high-water mark (VmHWM), reset before each case
through /proc/PID/clear_refs. `--root DIR`: another checkout (`git archive`), for a before/after.
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

from harness.audio import audio_file
from harness.load import LONG_TEXT, answer_code, concurrently, hostile_jobs, peak_added, run_load, speech
from harness.processes import ROOT, Worker, running_openai_server, running_worker

LAST = "ogg answer of ~100 s"  # last: on a worker without the fix it kills the process


def hostile_table(worker: Worker) -> list[str]:
    jobs = hostile_jobs(uuid.uuid4().hex[:8], 0)
    rows = [f"{'hostile input (alone)':<30} {'expected':<14} {'answer':<14} {'peak above start MiB':>20}"]
    for name in [name for name in jobs if name != LAST] + [LAST]:
        job, expected = jobs[name]
        try:
            peak, _, answer = peak_added(worker, lambda job=job: worker.runsync(job, timeout=300))
            rows.append(f"{name:<30} {expected:<14} {answer_code(answer):<14} {peak:>20.1f}")
        except (requests.RequestException, OSError) as exc:
            rows.append(f"{name:<30} {expected:<14} {'worker died':<14} {'-':>20}  ({type(exc).__name__})")
            break
    return rows


def worker_load(env: dict[str, str], tmp: Path, args: argparse.Namespace) -> None:
    with running_worker({**env, "MAX_VOICE_BYTES": str(1 << 20)}, tmp / "worker.log", root=args.root) as worker:
        baseline = worker.memory_kib()
        report = run_load(worker, args.requests, args.threads)
        after = worker.memory_kib() if worker.alive() else None  # a dead process has no memory
        rows = hostile_table(worker) if after else ["worker died during the mixed load"]
    print(f"requests={report.requests} threads={args.threads} seconds={report.seconds:.2f}")
    print("outcomes: " + ", ".join(f"{code}={n}" for code, n in sorted(report.outcomes.items())))
    print(f"mismatches={len(report.mismatches)}" + "".join(f"\n  {m}" for m in sorted(set(report.mismatches))))
    peak = f"peak={after['VmHWM']} end={after['VmRSS']}" if after else f"(died: {report.outcomes['no answer']} lost)"
    print(f"rss_kib: start={baseline['VmRSS']} {peak}")
    print("\n".join(rows))


def peak_line(worker: Worker, name: str, case: Callable[[], object]) -> None:
    peak, held, codes = peak_added(worker, case)
    print(f"{name:<28} peak +{peak:7.0f} MiB   held after +{held:6.0f} MiB   status {codes}", flush=True)


def server_memory(env: dict[str, str], tmp: Path, root: Path) -> None:
    transcript = " ".join(["a few words of speech in this recorded voice"] * 17)  # ~13 bytes a second
    clip = audio_file(60.0, 192_000)  # MAX_VOICE_SECONDS at the highest rate the upload takes
    for named in (0, 12, 20):  # voices each in a fresh server: neither the uploads nor another request's cache hide it
        with running_openai_server(env, tmp / "server.log", root=root) as server:
            url, worker = server.base_url, Worker(server.base_url, tmp / "server.log", server.pid or 0)
            speech(url, "Warm up.")
            if named:
                text = " ".join(f"[voice:v{i}] Hello there." for i in range(named))
                peak_line(worker, f"{named} distinct voices", lambda text=text, url=url: speech(url, text))
                continue
            peak_line(worker, "whole wav (stream: false)", lambda url=url: speech(url, LONG_TEXT, stream=False))
            peak_line(worker, "streamed wav", lambda url=url: speech(url, LONG_TEXT))
            peak_line(worker, "streamed SSE", lambda url=url: speech(url, LONG_TEXT, "pcm", stream_format="sse"))
            peak_line(worker, "4 streamed wav at once", concurrently(4, lambda url=url: speech(url, LONG_TEXT)))
            for i in range(20):
                files = {"audio_sample": (f"v{i}.wav", clip, "audio/wav")}
                data = {"name": f"v{i}", "ref_text": transcript}
                requests.post(f"{url}/v1/audio/voices", files=files, data=data, timeout=300).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout the worker runs from")
    parser.add_argument("--openai", action="store_true", help="the OpenAI server's memory for long answers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{tmp}/store", "VOICE_CACHE_DIR": f"{tmp}/cache",
               "LOG_LEVEL": "WARNING"}  # fmt: skip
        if args.openai:
            server_memory(env, Path(tmp), args.root)
        else:
            worker_load(env, Path(tmp), args)


if __name__ == "__main__":
    main()

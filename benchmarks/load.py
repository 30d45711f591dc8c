"""Memory and outcomes under hostile load: `python -m benchmarks.load [--requests 200 --threads 16] [--openai]`.

The fake engine throughout, so what is measured is what the server holds, not the model. Peaks are
rises of the kernel's high-water mark (VmHWM), reset before each case through /proc/PID/clear_refs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import requests

from harness.audio import audio_file
from harness.load import LONG_TEXT, answer_code, concurrently, hostile_jobs, peak_added, run_load, speech
from harness.processes import ROOT, Worker, running_openai_server, running_worker

LAST = "ogg answer of ~100 s"  # last: on a worker without the fix it kills the process
SENTENCE = "The quick brown fox jumps over the lazy dog, and then it rests in the shade."


def fake_env(tmp: str) -> dict[str, str]:
    return {"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{tmp}/store", "VOICE_CACHE_DIR": f"{tmp}/cache",
            "LOG_LEVEL": "WARNING"}  # fmt: skip


def worker_load(env: dict[str, str], tmp: Path, args: argparse.Namespace) -> None:
    with running_worker({**env, "MAX_VOICE_BYTES": str(1 << 20)}, tmp / "worker.log", root=args.root) as worker:
        baseline = worker.memory_kib()
        report = run_load(worker, args.requests, args.threads)
        after = worker.memory_kib() if worker.alive() else None  # a dead process has no memory
        print(f"requests={report.requests} threads={args.threads} seconds={report.seconds:.2f}")
        print("outcomes: " + ", ".join(f"{code}={n}" for code, n in sorted(report.outcomes.items())))
        print(f"mismatches={len(report.mismatches)}" + "".join(f"\n  {m}" for m in sorted(set(report.mismatches))))
        rss = f"peak={after['VmHWM']} end={after['VmRSS']}" if after else f"(died: {report.outcomes['no answer']} lost)"
        print(f"rss_kib: start={baseline['VmRSS']} {rss}")
        if not after:
            print("worker died during the mixed load")
            return
        print(f"{'hostile input (alone)':<30} {'expected':<14} {'answer':<14} {'peak above start MiB':>20}")
        jobs = hostile_jobs(uuid.uuid4().hex[:8], 0)
        for name in [name for name in jobs if name != LAST] + [LAST]:
            job, expected = jobs[name]
            try:
                peak, _, answer = peak_added(worker, lambda job=job: worker.runsync(job, timeout=300))
                print(f"{name:<30} {expected:<14} {answer_code(answer):<14} {peak:>20.1f}")
            except (requests.RequestException, OSError) as exc:
                print(f"{name:<30} {expected:<14} {'worker died':<14} {'-':>20}  ({type(exc).__name__})")
                break


def peak_line(worker: Worker, name: str, case: Callable[[], object]) -> None:
    peak, held, codes = peak_added(worker, case)
    print(f"{name:<28} peak +{peak:7.0f} MiB   held after +{held:6.0f} MiB   status {codes}", flush=True)


def server_memory(env: dict[str, str], tmp: Path, args: argparse.Namespace) -> None:
    transcript = " ".join(["a few words of speech in this recorded voice"] * 17)  # ~13 bytes a second
    clip = audio_file(60.0, 192_000)  # MAX_VOICE_SECONDS at the highest rate the upload takes
    for named in (0, 12, 20):  # voices each in a fresh server: neither the uploads nor another request's cache hide it
        with running_openai_server(env, tmp / "server.log", root=args.root) as server:
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


def rates(send: Callable[[int], float], args: argparse.Namespace) -> tuple[float, float]:
    """(requests/s, audio seconds per wall second) of `--clients` threads each sending `--per-client`,
    after one unmeasured request each (connections, first-call costs)."""
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(send, range(args.clients)))
        start = time.perf_counter()
        audio = sum(pool.map(send, range(args.clients * args.per_client)))
        wall = time.perf_counter() - start
    return args.clients * args.per_client / wall, audio / wall


def serving_path(root: Path, args: argparse.Namespace) -> dict[str, float]:
    """The checkout `root`'s serving path: `/runsync` jobs and OpenAI speech requests under load, then the peak
    memory one `--long-chars` answer adds, streamed by the OpenAI server and by a streaming worker."""
    long_text = " ".join([SENTENCE] * (args.long_chars // len(SENTENCE) + 1))[: args.long_chars]
    session = requests.Session()  # kept alive: the server's cost per request, not the TCP handshake's

    def seconds(url: str, body: dict) -> float:
        """Audio seconds of one answer: a job's duration; 0 for a speech answer (it does not say)."""
        (response := session.post(url, json=body)).raise_for_status()
        return response.json()["output"]["duration"] if url.endswith("/runsync") else 0.0

    with tempfile.TemporaryDirectory() as tmp:
        with running_worker(fake_env(tmp), Path(tmp) / "worker.log", root=root) as worker:
            url, job = f"{worker.base_url}/runsync", {"text": SENTENCE, "return": "base64"}
            runpod_rps, audio = rates(lambda i: seconds(url, {"input": {**job, "seed": i}}), args)
        with running_openai_server(fake_env(tmp), Path(tmp) / "server.log", root=root) as server:
            body = {"model": "tts-1", "input": SENTENCE, "voice": "default"}
            openai_rps, _ = rates(lambda i: seconds(f"{server.base_url}/v1/audio/speech", body), args)
            long = partial(speech, server.base_url, long_text, "pcm", stream_format="audio")
            stream, _, code = peak_added(Worker(server.base_url, Path(tmp) / "server.log", server.pid or 0), long)
            assert code == 200, f"the long answer got {code}"
        with running_worker({**fake_env(tmp), "STREAMING": "1"}, Path(tmp) / "stream.log", root=root) as worker:
            worker.runsync({"text": SENTENCE, "stream": True})
            runpod_stream, _, _ = peak_added(worker, lambda: worker.runsync({"text": long_text, "stream": True}, 600))
    return {"runpod_req_s": runpod_rps, "runpod_audio_s_s": audio, "openai_req_s": openai_rps,
            "stream_peak_mib": stream, "runpod_stream_peak_mib": runpod_stream}  # fmt: skip


def before_after(args: argparse.Namespace) -> None:
    """`serving_path` of each checkout in turn, `--rounds` times, so a shared machine's drift hits
    both alike: each side's medians, then after/before of each measure."""
    sides = {"before": args.before.resolve(), "after": args.root.resolve()}
    results: dict[str, dict[str, list[float]]] = {side: {} for side in sides}
    for _ in range(args.rounds):
        for side, root in sides.items():
            for measure, value in serving_path(root, args).items():
                results[side].setdefault(measure, []).append(value)
    for side, measures in results.items():
        print(side, " ".join(f"{m}={statistics.median(v):.1f} {[round(x, 1) for x in v]}" for m, v in measures.items()))
    for measure, values in results["after"].items():
        before, after = statistics.median(results["before"][measure]), statistics.median(values)
        print(f"{measure}_after_vs_before: {after / before:.2f}" if before else f"{measure}: before 0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout the worker runs from")
    parser.add_argument("--openai", action="store_true", help="the OpenAI server's memory for long answers")
    parser.add_argument("--before", type=Path, help="a checkout before a change: its serving path against --root's")
    parser.add_argument("--clients", type=int, default=8, help="--before: concurrent clients")
    parser.add_argument("--per-client", type=int, default=25, help="--before: requests per client in each round")
    parser.add_argument("--rounds", type=int, default=2, help="--before: interleaved rounds of both sides")
    parser.add_argument("--long-chars", type=int, default=20_000, help="--before: the streamed answer's text")
    args = parser.parse_args()
    if args.before:
        return before_after(args)
    with tempfile.TemporaryDirectory() as tmp:
        (server_memory if args.openai else worker_load)(fake_env(tmp), Path(tmp), args)


if __name__ == "__main__":
    main()

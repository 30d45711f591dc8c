"""First byte and total time of a streamed paragraph: `python -m benchmarks.openai_stream`.

The same ~400-character paragraph, voice, seed and NFE through three ways in, each served
by this worker on the same checkpoint, one after another (never at once):

- the OpenAI-compatible server (`entrypoints.openai_api`), `POST /v1/audio/speech` with the
  body streamed, as pcm and as mp3: first byte is when the client holds the first audio;
- runpod's local job API on a normal worker, `/runsync`: the answer comes when the job ends;
- a STREAMING=1 worker, `/run` then `/stream/{id}`: the local API answers `/stream` only at
  the end too; the time the worker had its first chunk ready (from its log) is shown apart,
  as what a deployed RunPod endpoint's `/stream` could hand out at best.

Each case runs `--reps` times after a warm-up; the table shows medians. Default checkpoint:
the real-size random F5TTS_v1_Base that benchmarks/engine.py writes (`--tiny` for the tiny one).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

from benchmarks.engine import TEXTS, ensure_files
from tests.e2e.openai_server import running_openai_server
from tests.e2e.worker import ROOT, Worker, running_worker

PARAGRAPH = TEXTS["paragraph"]
Timing = tuple[float, float, float | None]  # (first byte s, total s, worker's first chunk s)


def openai_speech(base_url: str, fmt: str, nfe: int, seed: int) -> Timing:
    body = {"model": "f5-tts", "input": PARAGRAPH, "voice": "default", "response_format": fmt}
    body |= {"seed": seed, "nfe_step": nfe}
    started = time.perf_counter()
    first = None
    with requests.post(f"{base_url}/v1/audio/speech", json=body, stream=True, timeout=1800) as response:
        response.raise_for_status()
        for piece in response.iter_content(chunk_size=None):
            if piece and first is None:
                first = time.perf_counter() - started
    total = time.perf_counter() - started
    return first or total, total, None


def runsync(worker: Worker, nfe: int, seed: int) -> Timing:
    job = {"text": PARAGRAPH, "seed": seed, "nfe_step": nfe, "return": "base64", "format": "wav"}
    started = time.perf_counter()
    answer = worker.runsync(job, timeout=1800)
    total = time.perf_counter() - started
    assert answer["status"] == "COMPLETED", str(answer)[:300]
    return total, total, None


def run_and_stream(worker: Worker, nfe: int, seed: int) -> Timing:
    job = {"text": PARAGRAPH, "seed": seed, "nfe_step": nfe, "return": "base64", "format": "wav", "stream": True}
    started = time.perf_counter()
    job_id = requests.post(f"{worker.base_url}/run", json={"input": job}, timeout=60).json()["id"]
    streamed = requests.post(f"{worker.base_url}/stream/{job_id}", timeout=1800).json()
    total = time.perf_counter() - started
    assert streamed["status"] == "COMPLETED", str(streamed)[:300]
    return total, total, _first_chunk_logged(worker.logs())


def _first_chunk_logged(logs: str) -> float | None:
    found = None
    for line in logs.splitlines():
        if line.startswith("{") and '"first_chunk_seconds"' in line:
            found = json.loads(line)["first_chunk_seconds"]
    return found


def measure(case: Callable[[int], Timing], reps: int, warm_up: bool) -> dict[str, float | None]:
    if warm_up:  # first-call allocations and caches (the server's own warm-up covers most)
        case(0)
    runs = [case(1 + rep) for rep in range(reps)]
    chunks = [r[2] for r in runs if r[2] is not None]
    return {
        "first": statistics.median(r[0] for r in runs),
        "total": statistics.median(r[1] for r in runs),
        "chunk": statistics.median(chunks) if chunks else None,
    }


def model_env(args: argparse.Namespace, tmp: Path) -> tuple[dict[str, str], str]:
    if args.tiny:
        printed = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "make_tiny_checkpoint.py"), str(tmp / "tiny")],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        settings = dict(line.split("=", 1) for line in printed.splitlines() if "=" in line)
        return settings, "tiny random checkpoint"
    settings = ensure_files(args.checkpoint_dir)
    keys = ("F5_CKPT_FILE", "F5_VOCAB_FILE", "VOCODER_PATH")
    return {key: settings[key] for key in keys}, "real-size random F5TTS_v1_Base"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-dir", type=Path, default=Path("/tmp/f5-tts-worker-bench"))
    parser.add_argument("--tiny", action="store_true", help="the tiny checkpoint instead of real-size weights")
    parser.add_argument("--nfe", type=int, default=16)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--formats", default="pcm,mp3", help="OpenAI response formats to stream")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false", help="skip the warm-up request")
    args = parser.parse_args()
    rows: list[tuple[str, dict[str, float | None]]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env, checkpoint = model_env(args, tmp)
        env |= {"TTS_ENGINE": "f5", "HF_HUB_OFFLINE": "1", "LOG_LEVEL": "INFO", "VOICE_CACHE_DIR": f"{tmp}/cache"}
        env |= {"STORAGE_URL": f"file://{tmp}/store"}
        with running_openai_server(env, tmp / "openai.log", boot_timeout=900) as server:
            for fmt in args.formats.split(","):
                case = lambda seed, f=fmt: openai_speech(server.base_url, f, args.nfe, seed)  # noqa: E731
                timing = measure(case, args.reps, args.warm_up)
                rows.append((f"openai /v1/audio/speech {fmt}", timing))
        with running_worker(env, tmp / "worker.log", boot_timeout=900) as worker:
            timing = measure(lambda seed: runsync(worker, args.nfe, seed), args.reps, args.warm_up)
            rows.append(("job /runsync", timing))
        with running_worker({**env, "STREAMING": "1"}, tmp / "streaming.log", boot_timeout=900) as worker:
            timing = measure(lambda seed: run_and_stream(worker, args.nfe, seed), args.reps, args.warm_up)
            rows.append(("job STREAMING=1 /run+/stream", timing))
    warm = "after a warm-up" if args.warm_up else "no warm-up request"
    print(f"{checkpoint}; nfe_step={args.nfe}; {len(PARAGRAPH)}-char paragraph; median of {args.reps}, {warm}")
    header = f"{'way in':<32} {'first byte s':>12} {'total s':>8} {'worker first chunk s':>21}"
    print(header)
    print("-" * len(header))
    for name, t in rows:
        chunk = f"{t['chunk']:.2f}" if t["chunk"] is not None else "-"
        print(f"{name:<32} {t['first']:>12.2f} {t['total']:>8.2f} {chunk:>21}")
    ours = rows[0][1]["first"]
    job = next(t for name, t in rows if name == "job /runsync")["first"]
    print(f"first_byte_vs_runsync: {job / ours:.2f}x sooner")  # type: ignore[operator]


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

"""Load against a running worker or OpenAI server: a bounded mix of good and bad jobs from many
threads, long cheap answers, and how far each lifts the process's peak memory."""

from __future__ import annotations

import base64
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from harness.audio import audio_file, claimed_long_flac
from harness.processes import Worker

VOICE = base64.b64encode(audio_file(2.0, 16000)).decode()
UPLOAD = {"endpoint": "upload", "voice_file_base64": VOICE, "ref_text": "Hi, this is my voice."}
FOX = "The quick brown fox jumps over the lazy dog. "
LONG_TEXT = "[pause:10s]" * 239 + "a"  # 2.6 KB of text, 2,390 s of audio (under MAX_AUDIO_SECONDS)


def hostile_jobs(run: str, i: int) -> dict[str, tuple[dict, str]]:
    """The second hostile-input round's attacks, by name: (job input, expected outcome)."""
    bomb = base64.b64encode(claimed_long_flac()).decode()
    return {
        "ogg answer of ~100 s": ({"text": FOX * 20, "format": "ogg", "return": "base64"}, "completed"),
        "FLAC claiming 2048 s x 8 ch": (
            {"endpoint": "upload", "voice_name": f"bomb-{run}-{i}", "voice_file_base64": bomb}, "invalid_audio"
        ),
        "2 s voice, ref_text 'a'": (
            {**UPLOAD, "voice_name": f"mute-{run}-{i}", "ref_text": "a"}, "invalid_input"
        ),
        "audio past MAX_AUDIO_SECONDS": ({"text": FOX * 400, "speed": 0.3}, "invalid_input"),
        "10,001 emoji": ({"text": "\U0001f600" * 10_001}, "invalid_input"),
        "lone surrogates": ({"text": "\ud800\udc00\ud800"}, "invalid_input"),
        "URL http://[::1": (
            {"endpoint": "upload", "voice_name": f"u-{i}", "voice_file_url": "http://[::1"}, "invalid_input"
        ),
        "URL port 70000": (
            {"endpoint": "upload", "voice_name": f"p-{i}", "voice_file_url": "http://127.0.0.1:70000/v.wav"},
            "invalid_input",
        ),
        "100 KB field name": ({"text": "hi", "f" * 100_000: 1}, "invalid_input"),
        "17 voices in one request": ({"text": " ".join(f"[voice:many-{k}] Hi." for k in range(17))}, "invalid_input"),
        "2,410 s of pauses": ({"text": "[pause:10s]" * 241 + "a"}, "invalid_input"),
    }  # fmt: skip


@dataclass
class LoadReport:
    requests: int = 0
    outcomes: Counter = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0


def job_mix(count: int, max_voice_bytes: int, seed: int = 0) -> list[tuple[dict, str]]:
    """(job input, expected outcome code or "completed") pairs, shuffled deterministically;
    names are unique to the call, so repeated loads do not collide."""
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    too_big = base64.b64encode(b"\0" * (max_voice_bytes + 1)).decode()
    kinds = [
        lambda i: ({"text": f"Request number {i}, spoken quickly.", "seed": i}, "completed"),
        lambda i: ({"text": "Inline audio please.", "return": "base64", "format": "flac"}, "completed"),
        lambda i: ({**UPLOAD, "voice_name": f"load-{run}-{i}"}, "completed"),
        lambda i: ({"endpoint": "list_voices"}, "completed"),
        lambda i: ({"text": ""}, "invalid_input"),
        lambda i: ({"text": "hi", "speed": "fast"}, "invalid_input"),
        lambda i: ({"text": "hi", "mystery": True}, "invalid_input"),
        lambda i: ({"text": "x" * 20_001}, "invalid_input"),
        lambda i: ({"text": "hi", "local_voice": f"ghost-{i}"}, "voice_not_found"),
        lambda i: ({"endpoint": "upload", "voice_name": "../../x", "voice_file_base64": VOICE}, "invalid_input"),
        lambda i: ({**UPLOAD, "voice_name": f"junk-{i}", "voice_file_base64": "AAAA" * 50}, "invalid_audio"),
        lambda i: ({"endpoint": "upload", "voice_name": f"big-{i}", "voice_file_base64": too_big}, "invalid_input"),
        lambda i: ({"endpoint": "delete_voice", "voice_name": f"never-{i}"}, "voice_not_found"),
        lambda i: ({"endpoint": "transcode"}, "invalid_input"),
    ]  # fmt: skip
    kinds += [lambda i, name=name: hostile_jobs(run, i)[name] for name in hostile_jobs(run, 0)]
    jobs = [kinds[i % len(kinds)](i) for i in range(count)]
    rng.shuffle(jobs)
    return jobs


def answer_code(answer: dict) -> str:
    return "completed" if answer["status"] == "COMPLETED" else answer.get("error", "crashed").split(":", 1)[0]


def run_load(worker: Worker, count: int = 200, threads: int = 16, max_voice_bytes: int = 1 << 20) -> LoadReport:
    report = LoadReport()

    def send(pair: tuple[dict, str]) -> tuple[str, str]:
        job, expected = pair
        try:
            return expected, answer_code(worker.runsync(job, timeout=120))
        except requests.RequestException:  # the worker died (as it did on a long ogg answer)
            return expected, "no answer"

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for expected, got in pool.map(send, job_mix(count, max_voice_bytes)):
            report.requests += 1
            report.outcomes[got] += 1
            if got != expected:
                report.mismatches.append(f"expected {expected}, got {got}")
    report.seconds = time.perf_counter() - start
    return report


def peak_added(worker: Worker, case: Callable[[], object]) -> tuple[float, float, object]:
    """(peak MiB added, MiB still held after, the case's answer)."""
    before = worker.reset_peak()
    answer = case()
    after = worker.memory_kib()
    return (after["VmHWM"] - before) / 1024, (after["VmRSS"] - before) / 1024, answer


def speech(base_url: str, text: str, fmt: str = "wav", **extra: object) -> int:
    """Sends one speech request and reads its body to the end; the status code."""
    body = {"model": "f5-tts", "input": text, "voice": "default", "response_format": fmt, **extra}
    with requests.post(f"{base_url}/v1/audio/speech", json=body, stream=True, timeout=600) as response:
        for _ in response.iter_content(chunk_size=1 << 20):
            pass
        return response.status_code


def concurrently(count: int, run: Callable[[], int]) -> Callable[[], list[int]]:
    def case() -> list[int]:
        codes: list[int] = []
        threads = [threading.Thread(target=lambda: codes.append(run())) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return codes

    return case

"""Peak memory the OpenAI-compatible server adds per request: `python -m benchmarks.server_memory`.

The server runs in a subprocess on the fake engine (which costs almost nothing, so what is
measured is what the server holds, not the model). Before each case the kernel's peak mark
(VmHWM) is reset to the current RSS; the figure is how far the peak rose during the case.

- `streams`: `"[pause:10s]" * 239 + "a"`, 2.6 KB of text that makes 2,390 s of audio (under
  MAX_AUDIO_SECONDS), as a whole wav, streamed as wav, streamed as SSE, and four streamed at once;
- `voices`: one request naming 12, then 20, distinct uploaded voices of 60 s at 192 kHz
  (MAX_VOICE_SECONDS, the highest rate the upload takes), each in a fresh server on the
  store the voices were uploaded to, and the RSS still held after it.

`--root DIR` runs the server from another checkout (e.g. `git archive` of main) for a
before/after comparison with the same client.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import numpy as np
import requests
import soundfile as sf

from harness.processes import ROOT, Worker, running_openai_server

LONG_TEXT = "[pause:10s]" * 239 + "a"
MIB = 1024


def speech(base_url: str, text: str, fmt: str = "wav", **extra: object) -> int:
    """Sends one speech request and reads its body to the end; the status code."""
    body = {"model": "f5-tts", "input": text, "voice": "default", "response_format": fmt, **extra}
    with requests.post(f"{base_url}/v1/audio/speech", json=body, stream=True, timeout=600) as response:
        for _ in response.iter_content(chunk_size=1 << 20):
            pass
        return response.status_code


def peak_added(worker: Worker, case: Callable[[], object]) -> tuple[float, float, object]:
    """(peak MiB added, MiB still held after, the case's answer)."""
    before = worker.reset_peak()
    answer = case()
    after = worker.memory_kib()
    return (after["VmHWM"] - before) / MIB, (after["VmRSS"] - before) / MIB, answer


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


def streams(worker: Worker) -> None:
    url = worker.base_url
    speech(url, "Warm up.")
    cases: dict[str, Callable[[], object]] = {
        "whole wav (stream: false)": lambda: speech(url, LONG_TEXT, stream=False),
        "streamed wav": lambda: speech(url, LONG_TEXT),
        "streamed SSE": lambda: speech(url, LONG_TEXT, "pcm", stream_format="sse"),
        "4 streamed wav at once": concurrently(4, lambda: speech(url, LONG_TEXT)),
    }
    for name, case in cases.items():
        peak, held, codes = peak_added(worker, case)
        print(f"{name:<28} peak +{peak:7.0f} MiB   held after +{held:6.0f} MiB   status {codes}", flush=True)


def voice_clip(seconds: float = 60.0, rate: int = 192_000, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    samples = 0.3 * np.sin(2 * np.pi * (120 + 80 * rng.random()) * t) + 0.01 * rng.standard_normal(t.size)
    buffer = io.BytesIO()
    sf.write(buffer, samples.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def upload_voices(base_url: str, count: int) -> None:
    transcript = " ".join(["a few words of speech in this recorded voice"] * 17)  # ~13 bytes a second
    for index in range(count):
        files = {"audio_sample": (f"v{index}.wav", voice_clip(seed=index), "audio/wav")}
        data = {"name": f"v{index}", "ref_text": transcript}
        response = requests.post(f"{base_url}/v1/audio/voices", files=files, data=data, timeout=300)
        response.raise_for_status()


def voices(serve: Callable[[], AbstractContextManager[Worker]], count: int = 20) -> None:
    """Uploads through one server, then each request in a fresh one on the same store, so
    neither the uploads' memory nor the other request's cached voices hide what it adds."""
    with serve() as worker:
        upload_voices(worker.base_url, count)
    for named in (12, 20):
        text = " ".join(f"[voice:v{i}] Hello there." for i in range(named))
        with serve() as worker:
            speech(worker.base_url, "Warm up.")
            peak, held, code = peak_added(worker, lambda text=text, url=worker.base_url: speech(url, text))
        print(f"{named} distinct voices{'':<11} peak +{peak:7.0f} MiB   held after +{held:6.0f} MiB   status {code}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cases", nargs="*", help="streams, voices (default: both)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose server runs (default: this one)")
    args = parser.parse_args(argv)
    if unknown := set(args.cases) - {"streams", "voices"}:
        parser.error(f"unknown case {sorted(unknown)[0]!r}")
    print(f"python {sys.version.split()[0]}; fake engine; figures are VmHWM rises of the server process")
    for name in args.cases or ["streams", "voices"]:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                "TTS_ENGINE": "fake",
                "STORAGE_URL": f"file://{tmp}/store",
                "VOICE_CACHE_DIR": f"{tmp}/cache",
                "LOG_LEVEL": "WARNING",
            }

            @contextmanager
            def serve(env: dict[str, str] = env, log: Path = Path(tmp) / "server.log") -> Iterator[Worker]:
                with running_openai_server(env, log, root=args.root) as server:
                    assert server.pid is not None
                    yield Worker(server.base_url, log, server.pid)

            if name == "streams":
                with serve() as worker:
                    streams(worker)
            else:
                voices(serve)


if __name__ == "__main__":
    main()

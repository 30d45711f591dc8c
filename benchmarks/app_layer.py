"""The serving path's own cost, before and after a change, in one run:
`python -m benchmarks.app_layer --before DIR` (DIR: a checkout of the code before, e.g. from
`git archive main | tar -x -C DIR`).

With TTS_ENGINE=fake (so what is measured is parsing, the use case, encoding and HTTP, not a
model), each side in turn, twice, interleaved so a shared machine's drift hits both alike:
- the RunPod worker through runpod's local API (`/runsync`), `--clients` clients each
  sending one-sentence `tts` jobs: requests/s and audio seconds per wall second;
- the OpenAI-compatible server, the same load on `POST /v1/audio/speech`: requests/s;
- the OpenAI server's peak resident memory (VmHWM, reset first) over one streamed
  `--long-chars`-character request, read to the end; and a streaming RunPod worker's
  (STREAMING=1) over one `stream: true` job of that text through `/runsync`.
Prints one line per side and measure, and the after/before ratio of each median.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from harness.processes import ROOT, running_openai_server, running_worker

SENTENCE = "The quick brown fox jumps over the lazy dog, and then it rests in the shade."


def _load(send: Callable[[int], float], clients: int, per_client: int) -> tuple[float, float]:
    """(requests/s, audio seconds per wall second) of `clients` threads each sending `per_client`."""
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, range(clients)))  # warm: connections, first-call costs
        start = time.perf_counter()
        audio = sum(pool.map(send, range(clients * per_client)))
        wall = time.perf_counter() - start
    return clients * per_client / wall, audio / wall


def _peak_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])


def runpod_side(root: Path, tmp: Path, clients: int, per_client: int) -> tuple[float, float]:
    env = {"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{tmp}/store", "LOG_LEVEL": "WARNING"}
    with running_worker(env, tmp / "worker.log", root=root) as worker:
        session = requests.Session()

        def send(i: int) -> float:
            answer = session.post(
                f"{worker.base_url}/runsync", json={"input": {"text": SENTENCE, "seed": i, "return": "base64"}}
            ).json()
            return float(answer["output"]["duration"])

        return _load(send, clients, per_client)


def runpod_stream_peak_mib(root: Path, tmp: Path, long_chars: int) -> float:
    env = {"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{tmp}/store", "LOG_LEVEL": "WARNING", "STREAMING": "1"}
    with running_worker(env, tmp / "stream.log", root=root) as worker:
        worker.runsync({"text": SENTENCE, "stream": True})
        before = worker.reset_peak()
        worker.runsync({"text": _long(long_chars), "stream": True}, timeout=600)
        return (worker.memory_kib()["VmHWM"] - before) / 1024


def _long(chars: int) -> str:
    return " ".join([SENTENCE] * (chars // (len(SENTENCE) + 1) + 1))[:chars]


def openai_side(root: Path, tmp: Path, clients: int, per_client: int, long_chars: int) -> tuple[float, float]:
    env = {"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{tmp}/store", "LOG_LEVEL": "WARNING"}
    with running_openai_server(env, tmp / "server.log", root=root) as server:
        url = f"{server.base_url}/v1/audio/speech"
        session = requests.Session()

        def send(i: int) -> float:
            response = session.post(url, json={"model": "tts-1", "input": SENTENCE, "voice": "default"})
            response.raise_for_status()
            return 0.0

        rate, _ = _load(send, clients, per_client)
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")
        before = _peak_kib(server.pid)
        body = {"model": "tts-1", "input": _long(long_chars), "voice": "default", "response_format": "pcm"}
        with session.post(url, json={**body, "stream_format": "audio"}, stream=True) as response:
            response.raise_for_status()
            for _ in response.iter_content(1 << 16):
                pass
        return rate, (_peak_kib(server.pid) - before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the code before the change")
    parser.add_argument("--after", type=Path, default=ROOT, help="the code after (default: this checkout)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=25, help="requests per client in each round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--long-chars", type=int, default=20_000)
    args = parser.parse_args()
    sides = {"before": args.before.resolve(), "after": args.after.resolve()}
    results: dict[str, dict[str, list[float]]] = {name: {} for name in sides}
    for _ in range(args.rounds):
        for name, root in sides.items():
            with tempfile.TemporaryDirectory() as tmp:
                rps, audio = runpod_side(root, Path(tmp), args.clients, args.per_client)
                openai_rps, stream_mib = openai_side(root, Path(tmp), args.clients, args.per_client, args.long_chars)
                runpod_stream_mib = runpod_stream_peak_mib(root, Path(tmp), args.long_chars)
            for measure, value in (
                ("runpod_req_s", rps),
                ("runpod_audio_s_s", audio),
                ("openai_req_s", openai_rps),
                ("stream_peak_mib", stream_mib),
                ("runpod_stream_peak_mib", runpod_stream_mib),
            ):
                results[name].setdefault(measure, []).append(value)
    for name, measures in results.items():
        print(name, " ".join(f"{m}={statistics.median(v):.1f} {[round(x, 1) for x in v]}" for m, v in measures.items()))
    for measure in results["after"]:
        before, after = statistics.median(results["before"][measure]), statistics.median(results["after"][measure])
        print(f"{measure}_after_vs_before: {after / before:.2f}" if before else f"{measure}: before 0")


if __name__ == "__main__":
    main()

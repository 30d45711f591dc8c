"""Throughput and latency through runpod's local API: `python -m benchmarks.serve`.

This worker (STREAMING=1) against `benchmarks.upstream_worker` (upstream `F5TTS.infer`, one request at a time),
both up throughout, levels interleaved so a shared host's drift hits both: a ratio is the median of the per-pair
ratios. `--paced`: this worker only, on a modelled GPU (`benchmarks.paced_worker`), against its DiT-only ceiling.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import requests
import soundfile as sf

from benchmarks import common
from benchmarks.common import BATCH_TEXTS, REF_TEXT, TEXTS, SideFailed, describe, ensure_files, pair_stats
from benchmarks.paced_worker import DEVICE_MODELS, ceiling
from harness.processes import ROOT, Worker, running_openai_server, running_worker

PARAGRAPH = TEXTS["paragraph"]
#: `--mix varied`: one to four sentences a job (3-13 s of audio, 700-1700 frames with the voice): many more buckets
VARIED_TEXTS = [" ".join(BATCH_TEXTS[(i + j) % len(BATCH_TEXTS)] for j in range(1 + i * 3 % 4)) for i in range(24)]
MIXES = {"sentences": BATCH_TEXTS, "varied": VARIED_TEXTS}
VOICE = "bench"  # the name the benchmark voice (its REF_WAV) is uploaded under


def post(worker: Worker, job: dict, timeout: float = 1800) -> tuple[float, dict]:
    """Seconds to the answer, and the job's output (the last piece of a stream)."""
    started = time.perf_counter()
    answer = worker.runsync(job, timeout)
    assert answer["status"] == "COMPLETED", str(answer)[:500]
    output = answer["output"][-1] if isinstance(answer["output"], list) else answer["output"]
    assert "error" not in output, output["error"]
    return time.perf_counter() - started, output


def engine_use(worker: Worker, since: int, wall: float) -> dict:
    """This worker's engine calls after log line `since`: chunks per call (how well jobs shared steps), ODE runs
    per call (unlike lengths split a call), shares of the wall time. Busy well under 100%: the device waited on
    the host. Paced, `device_busy` is the modelled device's (`busy` counts host time)."""
    calls, batches = worker.events("engine_batch", since), worker.events("f5_batch", since)
    shares = {key: sum(e.get(f"{key}_seconds", 0.0) for e in batches) / wall for key in ("ode", "assemble", "decode")}
    shares["device_busy"] = sum(e["busy_seconds"] for e in worker.events("paced_device", since)) / wall  # paced only
    return {"calls": len(calls), "items_per_call": sum(e["items"] for e in calls) / len(calls) if calls else math.nan,
            "runs_per_call": len(batches) / len(calls) if calls else math.nan,
            "busy": sum(e.get("seconds", 0.0) for e in calls) / wall, **shares}  # fmt: skip


def run_level(worker: Worker, clients: int, rounds: int, nfe: int, ours: bool, texts: list[str] = BATCH_TEXTS,
              timeout: float = 1800) -> dict:  # fmt: skip
    """One level's figures; on this worker's side (`ours`) with VOICE and the paragraph streamed."""
    voice = {"local_voice": VOICE} if ours else {}
    jobs = [{"text": texts[i % len(texts)], "nfe_step": nfe, "seed": i, "return": "base64", **voice}
            for i in range(clients * rounds)]  # fmt: skip
    jobs[0] |= {"text": PARAGRAPH, **({"stream": True} if ours else {})}  # one client's first request
    since = len(worker.logs().splitlines())
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda job: post(worker, job, timeout), jobs))
    wall = time.perf_counter() - started
    latencies = sorted(seconds for seconds, _ in results[1:]) or [results[0][0]]
    audio = sum(output["duration"] for _, output in results)
    done = [e for e in worker.events("job_done", since) if "first_chunk_seconds" in e] if ours else []
    streamed = done[-1] if done else {}
    return {
        **(engine_use(worker, since, wall) if ours else {}),
        "margin": streamed.get("min_playback_margin"),
        "clients": clients,
        "requests": len(jobs),
        "rps": len(jobs) / wall,
        "audio_per_wall": audio / wall,
        "sentence_audio": statistics.mean(output["duration"] for _, output in results[1:] or results),
        "p50": statistics.median(latencies),
        "p95": latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))],
        "paragraph": results[0][0],
        "ttfc": streamed.get("first_chunk_seconds") if ours else results[0][0],
        "peak_rss_mib": worker.memory_kib()["VmHWM"] / 1024,
    }


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, pairs = text.partition(":")
    if not name or name in ("upstream", "worker"):
        raise SystemExit(f"--variant needs a new name before ':', got {text!r}")
    return name, dict(pair.split("=", 1) for pair in pairs.split(",") if pair)


def worker_env(model_env: dict[str, str], tmp: str, side: str) -> dict[str, str]:
    """One side of this worker: its own store and cache, DEBUG logs (the engine-use events)."""
    return {**model_env, "TTS_ENGINE": "f5", "HF_HUB_OFFLINE": "1", "STORAGE_URL": f"file://{tmp}/store-{side}",
            "VOICE_CACHE_DIR": f"{tmp}/cache-{side}", "STREAMING": "1", "LOG_LEVEL": "DEBUG"}  # fmt: skip


def prepare_worker(worker: Worker, ref_wav: str, nfe: int, levels: list[int], rounds: int, warmup_rounds: int,
                   texts: list[str], timeout: float = 1800) -> None:  # fmt: skip
    """Uploads VOICE, speaks once, waits out a background compile, then runs `warmup_rounds`
    unmeasured rounds of every level (graph captures happen there, not in a measured one)."""
    voice = base64.b64encode(Path(ref_wav).read_bytes()).decode()
    post(worker, {"endpoint": "upload", "voice_name": VOICE, "ref_text": REF_TEXT, "voice_file_base64": voice}, timeout)
    post(worker, {"text": "Warm up.", "local_voice": VOICE, "nfe_step": nfe}, timeout)
    wait_for_background_compile(worker)
    for _ in range(warmup_rounds):
        for clients in levels:
            run_level(worker, clients, rounds, nfe, True, texts, timeout)


def wait_for_background_compile(worker: Worker, timeout: float = 900) -> None:
    """A worker under TTS_COMPILE=background takes jobs before its compile is done: measure
    once it swapped runners (or logged why not); SideFailed if it dies or outlasts `timeout`."""
    deadline = time.monotonic() + timeout
    while worker.events("f5_compile_started") and not background_compile_outcome(worker):
        if not worker.alive():
            raise SideFailed(f"the worker exited during its background compile; see {worker.log_path}")
        if time.monotonic() > deadline:
            raise SideFailed(f"the background compile took over {timeout:.0f} s; see {worker.log_path}")
        time.sleep(0.1)  # coldstart times the swap by this wait


def background_compile_outcome(worker: Worker) -> str:
    """'' without a background compile (or while it runs), else how it ended."""
    if compiled := worker.events("f5_compiled"):
        return f"compiled in the background in {compiled[0]['seconds']:.2f} s"
    if failed := worker.events("f5_compile_failed"):
        return f"background compile failed ({failed[0].get('error')}); served without it"
    return ""


def capture_summary(worker: Worker) -> str:
    seconds = [event.get("seconds", 0.0) for event in worker.events("f5_graph_captured")]
    summary = f"{len(seconds)} graph captures, {sum(seconds):.2f} s in all, longest {max(seconds, default=0.0):.2f} s"
    return "; ".join(filter(None, (summary, background_compile_outcome(worker))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-dir", type=Path, default=None, help="default: /tmp/f5-tts-worker-bench (-tiny)")
    parser.add_argument("--nfe", type=int, default=16)
    parser.add_argument("--levels", default=None, help="clients per level (default: 1,4,8,16; 1,8,16 paced)")
    parser.add_argument("--rounds", type=int, default=None, help="requests per client at each level (1; 4 paced)")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds of every side")
    parser.add_argument("--warmup-rounds", type=int, default=None, help="unmeasured rounds first (0; 1 paced)")
    parser.add_argument("--variant", action="append", default=[], help="NAME:KEY=VALUE,... another worker")
    parser.add_argument("--request-timeout", type=float, default=1800, help="a slower request fails its side")
    parser.add_argument("--openai", default="", help="response formats to stream through the OpenAI server")
    parser.add_argument("--paced", choices=sorted(DEVICE_MODELS), help="paced workers on a modelled GPU, no upstream")
    parser.add_argument("--mix", default="sentences", choices=sorted(MIXES), help="the jobs' texts")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout this worker runs from")
    args = parser.parse_args()
    paced, texts = args.paced, MIXES[args.mix]
    levels = [int(level) for level in (args.levels or ("1,8,16" if paced else "1,4,8,16")).split(",")]
    rounds = args.rounds or (4 if paced else 1)
    warmup = int(bool(paced)) if args.warmup_rounds is None else args.warmup_rounds
    variants = {"upstream": {}, "worker": {}} | dict(parse_variant(text) for text in args.variant)
    print(describe())  # before the workers load this machine
    default_dir = Path("/tmp/f5-tts-worker-tiny") if paced else common.CHECKPOINT_DIR
    settings = ensure_files(args.checkpoint_dir or default_dir, "tiny" if paced else "base")
    model_env = {key: value for key, value in settings.items() if key != "REF_WAV"}  # a tiny model's config too
    sides = Sides(list(variants)[2:], required=("worker",) if paced else ("upstream", "worker"))
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        workers: dict[str, Worker] = {}
        warm_up = (settings["REF_WAV"], args.nfe, levels, rounds, warmup, texts, args.request_timeout)
        for side in list(sides.rows):
            ours = side != "upstream"
            env = {**worker_env(model_env, tmp, side), **({"PACED_DEVICE": paced} if paced else {}), **variants[side]}
            root = Path(env.pop("ROOT", args.root)) if ours else ROOT  # a variant may run another checkout
            module = "benchmarks.paced_worker" if paced else "entrypoints.runpod_handler"
            booting = running_worker(env if ours else settings, Path(tmp) / f"{side}.log", 900,
                                     module if ours else "benchmarks.upstream_worker", root)  # fmt: skip
            if (started := sides.attempt(side, "to start", partial(stack.enter_context, booting))) is not None:
                workers[side] = started
                if ours:
                    sides.attempt(side, "while warming up", partial(prepare_worker, started, *warm_up))

        def level(side: str, clients: int) -> dict:
            row = run_level(workers[side], clients, rounds, args.nfe, side != "upstream", texts, args.request_timeout)
            if paced:  # the share of the modelled DiT-only ceiling (benchmarks.paced_worker.ceiling)
                device = variants[side].get("PACED_DEVICE", paced)
                top = ceiling(device, args.nfe, row["sentence_audio"], sf.info(settings["REF_WAV"]).duration)
                row |= {"device": device, "ceiling_share": row["audio_per_wall"] / top}
            return row

        interleave(sides, levels, args.repeats, level)
        for side in [side for side in sides.rows if side != "upstream"]:
            engine = post(workers[side], {"endpoint": "health"})[1]["engine"]
            health = ", ".join(f"{key} {value}" for key, value in engine.items() if key != "model")
            print(f"{side}: {capture_summary(workers[side])}{' (modelled)' if paced else ''}; health: {health}")
        stack.close()  # the workers stop before the OpenAI server loads the model
        print_table(args.nfe, sides.rows, levels)
        if args.openai:
            first_byte(worker_env(model_env, tmp, "openai"), Path(tmp), args.openai.split(","), args.nfe)


def first_byte(env: dict[str, str], tmp: Path, formats: list[str], nfe: int) -> None:
    """The paragraph through the OpenAI server per format, then /runsync: first byte and end, median of 2."""
    body = {"model": "f5-tts", "input": PARAGRAPH, "voice": "default", "nfe_step": nfe}

    def stream(base_url: str, fmt: str, seed: int) -> tuple[float, float]:
        started, first = time.perf_counter(), None
        with requests.post(f"{base_url}/v1/audio/speech", json={**body, "response_format": fmt, "seed": seed},
                           stream=True, timeout=1800) as response:  # fmt: skip
            response.raise_for_status()
            for piece in response.iter_content(chunk_size=None):
                first = first or (time.perf_counter() - started if piece else None)
        return first or time.perf_counter() - started, time.perf_counter() - started

    env = {**env, "STREAMING": "0", "LOG_LEVEL": "INFO"}
    with running_openai_server(env, tmp / "openai.log", boot_timeout=900) as server:
        rows = {fmt: [stream(server.base_url, fmt, seed) for seed in range(3)][1:] for fmt in formats}
    with running_worker(env, tmp / "runsync.log", boot_timeout=900) as worker:
        job = {"text": PARAGRAPH, "nfe_step": nfe, "return": "base64"}
        runsync = statistics.median([post(worker, {**job, "seed": seed})[0] for seed in range(3)][1:])
    print(f"\n{'way in':<32} {'first byte s':>12} {'total s':>8}")
    for fmt, timings in rows.items():
        first, total = (statistics.median(t[i] for t in timings) for i in (0, 1))
        print(f"{'openai /v1/audio/speech ' + fmt:<32} {first:>12.2f} {total:>8.2f}")
    print(f"{'job /runsync':<32} {runsync:>12.2f} {runsync:>8.2f}")
    print(f"first_byte_vs_runsync: {runsync / statistics.median(t[0] for t in rows[formats[0]]):.2f}x sooner")


class Sides:
    """The sides in run order and their rows. A variant that fails is left out with the reason: a GPU is lent for
    minutes, and an untried setting must not cost the default's figures. Upstream's or the worker's ends the run."""

    def __init__(self, variants: list[str], required: tuple[str, ...] = ("upstream", "worker")) -> None:
        self.required = required
        self.rows: dict[str, list[dict]] = {side: [] for side in (*required, *variants)}

    def attempt(self, side: str, when: str, action: Callable[[], object]) -> object:
        try:
            return action()
        except Exception as exc:
            if side in self.required:
                raise
            print(f"variant {side} failed {when}, left out: {type(exc).__name__}: {str(exc)[-1500:]}")
            del self.rows[side]
            return None


def interleave(sides: Sides, levels: list, repeats: int, level: Callable[[str, Any], dict]) -> None:
    """Every side at each level in turn (serve's clients, engine's cases), `repeats` times:
    `level(side, clients)` gives a row."""
    for repeat in range(repeats):
        for clients in levels:
            at = f"{clients} clients" if isinstance(clients, int) else clients
            for side in list(sides.rows):
                row = sides.attempt(side, f"at {at}", partial(level, side, clients))
                if row is not None:
                    sides.rows[side].append({**row, "repeat": repeat})
            pairs = ", ".join(f"{side} {rows[-1]['audio_per_wall']:.3f}" for side, rows in sides.rows.items())
            print(f"round {repeat} at {at}: {pairs} audio s/s", flush=True)


#: the per-level table's columns (heading, the row's key, format); the legend is the module's docstring
COLUMNS = [("rep", "repeat", "3.0f"), ("clients", "clients", "7.0f"), ("req", "requests", "4.0f"),
           ("req/s", "rps", "7.3f"), ("audio s/s", "audio_per_wall", "9.3f"), ("p50 s", "p50", "7.2f"),
           ("p95 s", "p95", "7.2f"), ("para s", "paragraph", "7.2f"), ("ttfc s", "ttfc", "7.2f"),
           ("margin s", "margin", "8.2f"), ("calls", "calls", "5.0f"), ("items", "items_per_call", "5.1f"),
           ("runs", "runs_per_call", "4.1f"), ("busy", "busy", "5.0%"), ("dev", "device_busy", "5.0%"),
           ("ode", "ode", "5.0%"), ("asm", "assemble", "5.0%"), ("voc", "decode", "5.0%"),
           ("peak RSS MiB", "peak_rss_mib", "12.0f")]  # fmt: skip


def print_table(nfe: int, rows: dict[str, list[dict]], levels: list[int]) -> None:
    """The per-level table, then each side against upstream or, paced, against the modelled ceiling."""
    paced = "upstream" not in rows
    print(f"nfe_step={nfe}; the {len(PARAGRAPH)}-char paragraph streamed, then the mix's jobs, per level")
    shares = [("device", "device", "<13"), ("ceiling", "ceiling_share", "7.0%")] * paced
    ordered = [{**r, "side": side} for side in rows for r in sorted(rows[side], key=lambda r: r["clients"])]
    common.print_rows([("side", "side", "<9"), *shares, *COLUMNS], ordered)
    print(f"\n{'side':<9} {'clients':>7} {'audio s/s':>9} " + ("% of the modelled ceiling" if paced else
          f"{'upstream audio s/s':>18} {'ratio of pairs [min-max]':>25}"))  # fmt: skip
    c8 = []
    for side in [side for side in rows if side != "upstream"]:
        for clients in levels:
            ours, base = ([r for r in rows.get(s, []) if r["clients"] == clients] for s in (side, "upstream"))
            audio = statistics.median(r["audio_per_wall"] for r in ours)
            if paced:
                share = statistics.median(r["ceiling_share"] for r in ours)
                print(f"{side:<9} {clients:>7} {audio:>9.3f} {100 * share:>5.0f}")
                continue
            ratio, low, high = pair_stats([r["audio_per_wall"] for r in ours], [r["audio_per_wall"] for r in base])
            print(f"{side:<9} {clients:>7} {audio:>9.3f} {statistics.median(r['audio_per_wall'] for r in base):>18.3f} "
                  f"{ratio:>13.2f} {low:>5.2f}-{high:<5.2f}")  # fmt: skip
            c8 += [f"throughput_vs_upstream_c8{'' if side == 'worker' else f'[{side}]'}: {ratio:.2f}"] * (clients == 8)
    print("\n".join(c8))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

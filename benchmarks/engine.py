"""This worker's synthesis against upstream `F5TTS.infer`: `python -m benchmarks.engine [--nfe 16]`.

Each side a worker process on the real-size random checkpoint: this worker's jobs go through its own
service (planning, chunking, batching, the cross-fade), so the figure cannot drift from what it serves.
Sides alternate as serve's do; a speedup is the median of the per-pair ratios with their spread.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from argparse import ArgumentParser
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from benchmarks import common
from benchmarks.common import BATCH_TEXTS, SEED, TEXTS
from benchmarks.serve import VOICE, Sides, interleave, post, prepare_worker, worker_env
from harness.processes import Worker, running_worker

UPSTREAM = "benchmarks.upstream_worker"


def run_case(worker: Worker, case: str, nfe: int, ours: bool = True) -> dict:
    """One case's jobs sent at once (batch8: eight), timed to the last answer; on this worker's
    side (`ours`) in the uploaded voice, upstream's speaks its REF_WAV."""
    voice = {"local_voice": VOICE} if ours else {}
    jobs = [{"text": text, "nfe_step": nfe, "seed": SEED + i, "return": "base64", **voice}
            for i, text in enumerate(BATCH_TEXTS if case == "batch8" else [TEXTS[case]])]  # fmt: skip
    started = time.perf_counter()
    with ThreadPoolExecutor(len(jobs)) as pool:
        audio = sum(output["duration"] for _, output in pool.map(lambda job: post(worker, job), jobs))
    wall = time.perf_counter() - started
    return {"case": case, "wall": wall, "audio": audio, "audio_per_wall": audio / wall}


def boot(stack: contextlib.ExitStack, env: dict[str, str], log: Path, module: str, nfe: int) -> dict:
    """A side's worker, started (closed with `stack`) and warmed: the worker, seconds from the
    spawn to its first answer, and its dtype as its health reports it."""
    started = time.perf_counter()
    worker = stack.enter_context(running_worker(env, log, 900, module))
    if module != UPSTREAM:
        prepare_worker(worker, env["REF_WAV"], nfe, [], 1, 0, BATCH_TEXTS)
    ready = time.perf_counter() - started
    health = post(worker, {"endpoint": "health"})[1].get("engine", {})
    if health.get("runner") == "cuda_graph":  # graphs are captured on a bucket's first use: once, unmeasured
        for case in ("batch8", *TEXTS):
            run_case(worker, case, nfe, module != UPSTREAM)
    dtype = health.get("dtype", "") + ("+compile" if health.get("compile", "off") != "off" else "")
    return {"worker": worker, "ready": ready, "dtype": dtype}


def main() -> None:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-dir", type=Path, default=common.CHECKPOINT_DIR)
    parser.add_argument("--nfe", type=int, default=16)
    parser.add_argument("--cases", default="sentence,paragraph", help="sentence, paragraph, batch8 (8 jobs)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of every case on every side")
    parser.add_argument("--extra", default="", help="extra sides: compile, fp32, bf16, fp16, int8 (comma list)")
    args = parser.parse_args()
    settings = common.ensure_files(args.checkpoint_dir)
    cases = [c for c in args.cases.split(",") if c]
    print(common.describe())
    print(f"F5TTS_v1_Base sizes, random weights; nfe_step={args.nfe}; {args.repeats} interleaved rounds per case")
    sides = Sides([e for e in args.extra.split(",") if e])
    booted: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        for side in list(sides.rows):
            setting = {"upstream": {}, "worker": {}, "compile": {"TTS_COMPILE": "on"}}.get(side, {"TTS_DTYPE": side})
            side_env = {**worker_env(settings, tmp, side), "STREAMING": "0", "LOG_LEVEL": "WARNING", **setting}
            module = UPSTREAM if side == "upstream" else "entrypoints.runpod_handler"
            start = partial(boot, stack, side_env, args.checkpoint_dir / f"engine-{side}.log", module, args.nfe)
            if started := sides.attempt(side, "to start", start):
                booted[side] = started  # type: ignore[assignment]
        interleave(sides, cases, args.repeats,
                   lambda side, case: run_case(booted[side]["worker"], case, args.nfe, side != "upstream"))  # fmt: skip
    table, speedups = [], {}
    for side, rows in sides.rows.items():
        for case in cases:
            base, ours = ([r["wall"] for r in sides.rows[s] if r["case"] == case] for s in ("upstream", side))
            ratio, low, high = common.pair_stats(base, ours)
            speedups |= {case: ratio} if side == "worker" else {}
            wall, audio = statistics.median(ours), next(r["audio"] for r in rows if r["case"] == case)
            table.append({**booted[side], "case": case, "side": side, "wall": wall, "audio": audio, "rtf": wall / audio,
                          "speedup": f"{ratio:.2f}x {low:.2f}-{high:.2f}"})  # fmt: skip
    common.print_rows([("case", "case", "<10"), ("side", "side", "<12"), ("dtype", "dtype", "<22"),
                       ("wall s", "wall", "8.2f"), ("audio s", "audio", "8.2f"), ("RTF", "rtf", "7.3f"),
                       ("speedup [min-max]", "speedup", ">19"), ("ready s", "ready", "8.2f")], table)  # fmt: skip
    print(f"speedup_vs_upstream: {speedups.get('paragraph', speedups[cases[-1]]):.2f}")


if __name__ == "__main__":
    main()

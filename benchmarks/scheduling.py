"""How much of a modelled GPU the worker's scheduling uses: `python -m benchmarks.scheduling`.

Runs `benchmarks.paced_worker` (this worker, its DiT replaced by a clock fitted to an H200) with
serve's load and columns, plus each level's audio s per wall s as a share of the modelled
ceiling (every job in a full batch of 16 at its own frames, nothing else on the device). It
measures what the scheduling leaves of a device that fast, on this host, not the GPU.
`--variant NAME:KEY=VALUE,...` adds workers (say `compiled:PACED_DEVICE=h200-compiled`, or
`PACED_BUCKETS=...` for another shape grid); `--root DIR` runs another checkout (copy
paced_worker.py into it), `ROOT=DIR` in a variant only that worker, so before and after share
one run and the host's load.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
from pathlib import Path

import soundfile as sf

from benchmarks.common import BATCH_TEXTS, ensure_files, print_rows
from benchmarks.paced_worker import DEVICE_MODELS
from benchmarks.serve import (
    COLUMNS,
    Sides,
    capture_summary,
    interleave,
    parse_variant,
    prepare_worker,
    run_level,
    worker_env,
)
from domain.synthesis import HOP_LENGTH
from harness.processes import ROOT, Worker, running_worker

SAMPLE_RATE = 24000
CEILING_BATCH = 16
#: `--mix varied`: one to four of serve's sentences per job (3-13 s of audio, 700-1700 frames
#: with the voice), so the jobs spread over many more shape buckets than one-sentence jobs do
VARIED_TEXTS = [" ".join(BATCH_TEXTS[(i + j) % len(BATCH_TEXTS)] for j in range(1 + i * 3 % 4)) for i in range(24)]
MIXES = {"sentences": BATCH_TEXTS, "varied": VARIED_TEXTS}


def ceiling(device: str, nfe: int, mean_audio: float, ref_seconds: float) -> float:
    """Audio seconds per device second with every job in a full CEILING_BATCH batch at its
    own frames (no padding, nothing else on the device), so every grid is read against the
    same ceiling. The DiT runs over the reference's frames too: with the 4 s voice and these
    3.3 s sentences that halves what ceiling-gpu.txt's 5.7 s sentence gives."""
    frames = round((ref_seconds + mean_audio) * SAMPLE_RATE / HOP_LENGTH)
    step = DEVICE_MODELS[device].step_seconds(CEILING_BATCH, frames)
    return CEILING_BATCH * mean_audio / (nfe * step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-dir", type=Path, default=Path("/tmp/f5-tts-worker-tiny"))
    parser.add_argument("--nfe", type=int, default=16)
    parser.add_argument("--levels", default="1,8,16")
    parser.add_argument("--rounds", type=int, default=4, help="requests per client at each level")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--warmup-rounds", type=int, default=1)
    parser.add_argument("--device", default="h200-graphs", choices=sorted(DEVICE_MODELS))
    parser.add_argument("--mix", default="sentences", choices=sorted(MIXES), help="the jobs' texts")
    parser.add_argument("--variant", action="append", default=[], help="NAME:KEY=VALUE,... another worker")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout the workers run")
    args = parser.parse_args()
    levels, texts = [int(level) for level in args.levels.split(",")], MIXES[args.mix]
    settings = ensure_files(args.checkpoint_dir, "tiny")  # its text embeddings and vocoder run on the host
    ref_seconds = sf.info(settings["REF_WAV"]).duration
    variants = {"worker": {}} | dict(map(parse_variant, args.variant))
    sides = Sides(list(variants)[1:], required=("worker",))  # a variant that fails is left out
    model_env = {key: value for key, value in settings.items() if key != "REF_WAV"}  # the tiny model's config too
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        workers: dict[str, Worker] = {}
        for side, extra in variants.items():
            root = Path(extra.pop("ROOT", args.root))  # a variant may run another checkout
            env = {**worker_env(model_env, tmp, side), "PACED_DEVICE": args.device, **extra}
            started = running_worker(env, Path(tmp) / f"{side}.log", 300, "benchmarks.paced_worker", root)
            workers[side] = stack.enter_context(started)
            prepare_worker(workers[side], settings["REF_WAV"], args.nfe, levels, args.rounds, args.warmup_rounds, texts)

        def level(side: str, clients: int) -> dict:
            row = run_level(workers[side], clients, args.rounds, args.nfe, True, texts)
            device = variants[side].get("PACED_DEVICE", args.device)
            top = ceiling(device, args.nfe, row["sentence_audio"], ref_seconds)
            return {**row, "side": side, "device": device, "ceiling_share": row["audio_per_wall"] / top}

        interleave(sides, levels, args.repeats, level)
        for side, worker in workers.items():
            print(f"{side}: {capture_summary(worker)} (modelled)")
    jobs = "one-sentence jobs" if args.mix == "sentences" else "jobs of one to four sentences"
    print(f"nfe_step={args.nfe}; {jobs}, plus one streamed paragraph per level; modelled device per side")
    columns = [("side", "side", "<10", 1), ("device", "device", "<13", 1), ("% ceil", "ceiling_share", "6.0f", 100)]
    print_rows(
        [*columns, *COLUMNS], [r for rows in sides.rows.values() for r in sorted(rows, key=lambda r: r["clients"])]
    )
    for side, rows in sides.rows.items():
        for clients in levels:
            mine = [r for r in rows if r["clients"] == clients]
            audio, share = (statistics.median(r[key] for r in mine) for key in ("audio_per_wall", "ceiling_share"))
            print(f"{side} clients {clients}: {audio:.1f} audio s/s, {100 * share:.0f}% of the modelled ceiling")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

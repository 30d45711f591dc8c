"""How much of a modelled GPU the worker's scheduling uses: `python -m benchmarks.scheduling`.

Runs `benchmarks.paced_worker` (this worker, its DiT replaced by a clock fitted to an H200;
see there) through runpod's local API with the serve benchmark's load: 1, 8 and 16 closed-loop
clients sending one-sentence jobs, one streamed paragraph per level. Per level it prints the
audio seconds per wall second and that figure as a share of the modelled ceiling (every job in
a full batch of 16 at its own frames, nothing else on the device: what ceiling-gpu.txt's
DiT-only figure is to a real run), plus serve's columns (engine calls, chunks per call, ODE runs per call, busy and
ODE shares of the wall time, the stream's first chunk and playback margin) and the modelled
device seconds spent on graph captures. Measures scheduling, not the GPU: the figures only say
what the scheduling leaves of a device that fast, on this machine's host.

`--variant NAME:KEY=VALUE,...` adds workers with other settings (say
`compiled:PACED_DEVICE=h200-compiled`); `--root DIR` runs another checkout's code (copy
benchmarks/paced_worker.py into it) for a before/after, and `ROOT=DIR` in a variant runs
that worker alone from another checkout, so before and after share one run (and the host's
load at the time); `PACED_BUCKETS` in a variant tries another shape grid.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
from pathlib import Path

import soundfile as sf

from benchmarks.common import BATCH_TEXTS, ensure_files
from benchmarks.paced_worker import DEVICE_MODELS
from benchmarks.serve import VOICE, capture_summary, parse_variant, prepare_worker, run_level, worker_env
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
    levels = [int(level) for level in args.levels.split(",")]
    settings = ensure_files(args.checkpoint_dir, "tiny")  # its text embeddings and vocoder run on the host
    ref_seconds = sf.info(settings["REF_WAV"]).duration
    sides = {"worker": {"PACED_DEVICE": args.device}}
    roots = {"worker": args.root}
    for text in args.variant:
        name, env = parse_variant(text)
        roots[name] = Path(env.pop("ROOT", args.root))
        sides[name] = {"PACED_DEVICE": args.device, **env}
    model_env = {key: value for key, value in settings.items() if key != "REF_WAV"}  # the tiny model's config too
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        workers: dict[str, Worker] = {}
        for side, extra in sides.items():
            env = {**worker_env(model_env, tmp, side), **extra}
            log_file = Path(tmp) / f"{side}.log"
            workers[side] = stack.enter_context(
                running_worker(env, log_file, boot_timeout=300, module="benchmarks.paced_worker", root=roots[side])
            )
        for worker in workers.values():
            prepare_worker(
                worker, settings["REF_WAV"], args.nfe, levels, args.rounds, args.warmup_rounds, MIXES[args.mix]
            )
        for repeat in range(args.repeats):
            for clients in levels:
                for side, worker in workers.items():
                    row = run_level(worker, clients, args.rounds, args.nfe, VOICE, streams=True, texts=MIXES[args.mix])
                    rows.append({**row, "side": side, "repeat": repeat, "device": sides[side]["PACED_DEVICE"]})
                    print(f"round {repeat} clients {clients} {side}: {row['audio_per_wall']:.2f} audio s/s", flush=True)
        for side, worker in workers.items():
            print(f"{side}: {capture_summary(worker)} (modelled)")
    print_table(rows, args.nfe, ref_seconds, levels, args.mix)


def print_table(rows: list[dict], nfe: int, ref_seconds: float, levels: list[int], mix: str) -> None:
    jobs = "one-sentence jobs" if mix == "sentences" else "jobs of one to four sentences"
    print(f"nfe_step={nfe}; {jobs}, plus one streamed paragraph per level; modelled device per side")
    header = (
        f"{'side':<10} {'device':<13} {'rep':>3} {'clients':>7} {'audio s/s':>9} {'% ceil':>6} {'p50 s':>6} "
        f"{'ttfc s':>6} {'margin':>6} {'calls':>5} {'items':>5} {'runs':>4} {'busy %':>6} {'ode %':>5} "
        f"{'asm %':>5} {'voc %':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in sorted(rows, key=lambda r: (r["side"], r["clients"], r["repeat"])):
        top = ceiling(r["device"], nfe, r["sentence_audio"], ref_seconds)
        print(
            f"{r['side']:<10} {r['device']:<13} {r['repeat']:>3} {r['clients']:>7} {r['audio_per_wall']:>9.2f} "
            f"{100 * r['audio_per_wall'] / top:>6.0f} {r['p50']:>6.2f} {r['ttfc'] or float('nan'):>6.2f} "
            f"{r['margin'] if r['margin'] is not None else float('nan'):>6.2f} {r['calls']:>5} "
            f"{r['items_per_call']:>5.1f} {r['runs_per_call']:>4.1f} {100 * r['busy']:>6.0f} {100 * r['ode']:>5.0f} "
            f"{100 * r['assemble']:>5.0f} {100 * r['decode']:>5.0f}"
        )
    print()
    for side in dict.fromkeys(r["side"] for r in rows):
        for clients in levels:
            mine = [r for r in rows if r["side"] == side and r["clients"] == clients]
            top = ceiling(mine[0]["device"], nfe, mine[0]["sentence_audio"], ref_seconds)
            audio = statistics.median(r["audio_per_wall"] for r in mine)
            print(f"{side} clients {clients}: {audio:.1f} audio s/s, {100 * audio / top:.0f}% of the modelled ceiling")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

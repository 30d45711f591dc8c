"""What word timestamps cost: `python -m benchmarks.aligner [--weights DIR] [--device cpu]`.

The aligner is MMS_FA's architecture (315 M parameters) with random weights, written by
scripts/make_tiny_aligner.py --size mms in the release's format (or the real file, with
--weights): alignment costs the same whatever the weights say. Two tables:

1. the aligner alone: load time, then seconds of compute per second of audio for single
   clips of F5-TTS chunk lengths and for a batch of four (how concurrent jobs share it);
2. the latency a 400-character job gains from `timestamps: true` (and `captions`), through
   the Synthesize use case with the fake engine, whose audio length follows upstream F5's
   own length rule, so the aligner sees exactly the audio a real job makes. The engine's
   own time is not in this difference; benchmarks/results/engine-cpu.txt has it for a
   408-character paragraph.

There is no upstream counterpart to compare with (F5-TTS has no word timings).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import structlog
import torch

from adapters.audio_arrays import from_numpy
from adapters.chinese_numbers import ChineseNumbers
from adapters.ctc_aligner import CtcAligner
from adapters.english_numbers import EnglishNumbers
from adapters.fake_engine import FakeEngine
from adapters.fake_store import FakeStore
from adapters.micro_batcher import AlignBatcher
from adapters.packaged_voice import default_voice
from adapters.soundfile_codec import SoundfileCodec
from domain.text.normalize import TextNormalizer
from domain.use_cases.synthesize import Synthesize, TtsRequest
from domain.voice import DEFAULT_VOICE
from domain.voice_library import VoiceLibrary
from domain.word_timing import AlignmentItem

TEXT_400 = (
    "Word timestamps let a player highlight each word as it is spoken, and captions let a video "
    "show the words on screen. The worker already knows exactly what it said, so it aligns that "
    "text to the audio it made instead of transcribing it again. On the fourth of July we spent "
    "$4.50 on coffee at 10:30 am, then walked 3 km home along the river, talking about the week "
    "ahead and the trips we have planned."
)
assert len(TEXT_400) == 400


def _clip(seconds: float, rate: int = 24000) -> AlignmentItem:
    rng = np.random.default_rng(int(seconds * 10))
    words = tuple(f"word{n}" for n in range(int(seconds * 2.5)))  # ~150 words a minute
    return AlignmentItem(from_numpy((0.1 * rng.standard_normal(int(seconds * rate))).astype(np.float32), rate), words)


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def aligner_table(aligner: CtcAligner, repeats: int) -> None:
    print(f"{'clips':<14}{'audio s':>9}{'wall s':>9}{'s per audio s':>15}")
    cases = [("1 x 5 s", [5.0]), ("1 x 10 s", [10.0]), ("1 x 20 s", [20.0]), ("4 x 5 s", [5.0] * 4)]
    for name, lengths in cases:
        items = [_clip(s) for s in lengths]
        aligner.align(items[:1])  # warm the shapes
        wall = _best(lambda items=items: aligner.align(items), repeats)
        audio = sum(lengths)
        print(f"{name:<14}{audio:>9.1f}{wall:>9.3f}{wall / audio:>15.4f}")


def job_table(aligner: CtcAligner, repeats: int) -> None:
    store, codec = FakeStore(), SoundfileCodec()
    voices = VoiceLibrary(store, codec, {DEFAULT_VOICE: default_voice()})
    batcher = AlignBatcher(aligner, max_items=16, wait_ms=5).start()
    normalizer = TextNormalizer(EnglishNumbers(), ChineseNumbers())
    synthesize = Synthesize(FakeEngine(), voices, codec, store, normalizer, url_ttl=600, aligner=batcher)
    base = TtsRequest(text=TEXT_400, seed=1, return_base64=True)
    cases = [
        ("plain", base),
        ("timestamps", TtsRequest(text=TEXT_400, seed=1, return_base64=True, timestamps=True)),
        ("timestamps+srt", TtsRequest(text=TEXT_400, seed=1, return_base64=True, timestamps=True, captions="srt")),
    ]
    synthesize(cases[1][1])  # warm everything once
    print(f"\n400-character job ({len(TEXT_400)} chars), fake engine, upstream's length rule:")
    print(f"{'job':<16}{'chunks':>7}{'audio s':>9}{'wall s':>9}{'align s':>9}{'added s':>9}")
    plain = None
    for name, request in cases:
        walls, aligns = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            result = synthesize(request)
            walls.append(time.perf_counter() - start)
            aligns.append(result.timings.get("align", 0.0))
        wall = min(walls)
        plain = wall if plain is None else plain
        align = statistics.median(aligns)
        print(f"{name:<16}{result.chunks:>7}{result.duration:>9.2f}{wall:>9.3f}{align:>9.3f}{wall - plain:>9.3f}")
    batcher.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="an aligner folder (default: write a random MMS_FA-size one)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tables", default="clips,job", help="clips, job, or both (default)")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights
        if weights is None:
            from scripts.make_tiny_aligner import write

            weights = Path(tmp)
            write(weights, "mms", seed=0)
        aligner = CtcAligner(weights, device=args.device)
        start = time.perf_counter()
        aligner.warm_up()
        print(f"load (lazy, on the first job that asks): {time.perf_counter() - start:.2f} s")
        if "clips" in args.tables:
            aligner_table(aligner, args.repeats)
        params = sum(p.numel() for p in aligner._loaded[0].parameters())  # type: ignore[index]
        print(f"parameters: {params / 1e6:.0f} M, device {aligner._loaded[3]}")  # type: ignore[index]
        if "job" in args.tables:
            job_table(aligner, args.repeats)


if __name__ == "__main__":
    main()

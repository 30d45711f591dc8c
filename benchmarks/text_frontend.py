"""What the text front-end costs: `python -m benchmarks.text_frontend`.

Per 1,000 characters of input: tag parsing, normalisation (EN, ZH, mixed, and plain prose
with nothing to rewrite) and chunking, each the median of several runs; the chunker alone
is the front-end this worker had before (upstream F5-TTS has only its chunker too), so the
last column is the added cost as a multiple of it. Then the assembly of a two-voice
dialogue with pauses against the plain cross-fade of the same parts, per minute of audio.
"""

from __future__ import annotations

import statistics
import time
from array import array
from collections.abc import Callable

from adapters.chinese_numbers import ChineseNumbers
from adapters.english_numbers import EnglishNumbers
from domain.assembly import Assembler, SilenceSlot, SpeechSlot
from domain.audio import Audio, cross_fade
from domain.chunking import split_text
from domain.text.normalize import TextNormalizer
from domain.text.script import VoiceText, parse_script

SAMPLES = {
    "english, numbers": (
        "On March 5, 2024 at 10:30 Dr. Smith paid $4.50 for 3 coffees, 12.5% more than in 1998. "
        "The 5 km run took 1 1/2 hours; call 555-123-4567 or mail run@example.com, pages 10-20. "
    ),
    "english, plain": (
        "The quick brown fox jumps over the lazy dog while the careful reader follows every word "
        "of a sentence that holds nothing a normaliser would need to say differently at all. "
    ),
    "chinese, numbers": "今天是2024年3月5日，气温-3.5°C，价格是¥12.5，时间10:30，电话13812345678，占比50%，共3/4。",
    "mixed, tags": "I paid 100元 for 3本书 at 10:30. [pause:500ms] [voice:bob] 他说 hello 123 world，花了$5。 ",
}
TARGET_CHARS = 10_000
BUDGET = 200  # bytes per chunk, about a default voice's


def median_seconds(action: Callable[[], object], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    normalize = TextNormalizer(EnglishNumbers(), ChineseNumbers())
    normalize("warm up 1")
    print(f"{'input':<18} {'chars':>6} {'tags ms':>8} {'normalise ms':>13} {'chunk ms':>9} {'total ms':>9} "
          f"{'x chunker':>10}   (per 1,000 characters)")  # fmt: skip
    for name, sample in SAMPLES.items():
        text = (sample * (TARGET_CHARS // len(sample) + 1))[:TARGET_CHARS]
        per_k = 1000 / len(text)
        tags = median_seconds(lambda text=text: parse_script([VoiceText("default", text)]))
        runs = [part.text for part in parse_script([VoiceText("default", text)]) if hasattr(part, "text")]
        spoken = [normalize(run).text for run in runs]
        norm = median_seconds(lambda runs=runs: [normalize(run) for run in runs])
        chunk = median_seconds(lambda spoken=spoken: [split_text(s, BUDGET) for s in spoken])
        total = tags + norm + chunk
        print(f"{name:<18} {len(text):>6} {tags * per_k * 1e3:>8.2f} {norm * per_k * 1e3:>13.2f} "
              f"{chunk * per_k * 1e3:>9.2f} {total * per_k * 1e3:>9.2f} {total / chunk:>10.1f}")  # fmt: skip

    rate, seconds = 24000, 60.0
    part_samples = int(rate * 6.0)
    parts = [Audio(array("f", [0.1]) * part_samples, rate) for _ in range(int(seconds / 6))]
    plain = median_seconds(lambda: cross_fade(parts, 0.15), repeat=5)
    layout: list[SpeechSlot | SilenceSlot] = []
    for index in range(len(parts)):
        voice = "a" if index < len(parts) // 2 else "b"
        if index == len(parts) // 2:
            layout.append(SilenceSlot(0.25))
        elif index and index % 3 == 0:
            layout.append(SilenceSlot(0.5))
        layout.append(SpeechSlot(voice, "", fade_in=bool(index) and not isinstance(layout[-1], SilenceSlot)))

    def assemble() -> None:
        assembler = Assembler(layout, 0.15, rate)
        for part in parts:
            assembler.push(part)

    dialogue = median_seconds(assemble, repeat=5)
    print()
    print(f"{'assembly':<18} {'ms per minute of audio':>24}")
    print(f"{'cross_fade (plain)':<18} {plain / seconds * 60 * 1e3:>24.2f}")
    print(f"{'dialogue + pauses':<18} {dialogue / seconds * 60 * 1e3:>24.2f}")


if __name__ == "__main__":
    main()

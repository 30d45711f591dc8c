"""The text front-end, word timestamps and captions cost time linear in the text (issue 32, item 1).

Each test times one input at two sizes and checks the ratio, not an absolute time: twice the
text may cost about twice the time, never the four times a quadratic step takes. CPU time of
this process (`process_time`), the best of a few runs with the collector paused, so other
processes on a shared host do not move the figures."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import pytest

from adapters.chinese_numbers import ChineseNumbers
from adapters.english_numbers import EnglishNumbers
from adapters.fake_aligner import FakeAligner
from adapters.fake_engine import FakeEngine
from adapters.fake_store import FakeStore
from adapters.soundfile_codec import SoundfileCodec
from domain.captions import render
from domain.synthesis import SynthesisParams
from domain.text.normalize import TextNormalizer
from domain.use_cases.synthesize import Synthesize, TtsRequest
from domain.voice_library import BuiltinVoice, VoiceLibrary
from domain.word_timing import WordTiming
from tests.helpers import audio_file

SMALL, LARGE = 10_000, 20_000
RUNS = 3  # of each size, taking turns
MAX_RATIO = 2.6  # linear is about 2; the quadratic steps this guards against measured 3 to 11

pytestmark = pytest.mark.slow  # seconds of timed runs by design: large enough sizes for a quadratic step to show


def _seconds(work: Callable[[], object]) -> float:
    gc.collect()
    gc.disable()
    try:
        started = time.process_time()
        work()
        return time.process_time() - started
    finally:
        gc.enable()


def _ratio(make: Callable[[int], Callable[[], object]]) -> float:
    """The best large run over the best small one. The sizes take turns, so a spell of load on
    a shared host (which slows even a process's own CPU time) falls on both sizes' runs rather
    than on all the runs of one."""
    small, large = make(SMALL), make(LARGE)
    small()  # warm caches and lazy imports before timing
    gc.collect()
    gc.freeze()  # what the process held before (under xdist, every test module's objects) leaves the runs' collections
    try:
        best_large = best_small = float("inf")
        for _ in range(RUNS):
            best_large = min(best_large, _seconds(large))
            best_small = min(best_small, _seconds(small))
        return best_large / best_small
    finally:
        gc.unfreeze()


def _repeat(unit: str, size: int) -> str:
    return unit * (size // len(unit))


def _synthesize() -> Synthesize:
    """A fast-talking reference (a long transcript for 2 s of audio) keeps the fake engine's
    audio short, so the text's own work is what the ratio measures."""
    store, codec = FakeStore(), SoundfileCodec()
    transcript = "Some call me nature, others call me mother nature. " * 8
    voices = VoiceLibrary(store, codec, {"default": BuiltinVoice(transcript, lambda: audio_file(2.0, 24000))})
    normalizer = TextNormalizer(EnglishNumbers(), ChineseNumbers())
    return Synthesize(FakeEngine(), voices, normalizer, aligner=FakeAligner())


@pytest.mark.parametrize(
    "text",
    [
        # one written word read as thousands of spoken words: 82 s against 20 s untimed on runsync
        lambda size: "https://" + "1" * (size - 8),
        # a tag flood: thousands of one-word chunks between pauses (7.3 s against 1.2 s)
        lambda size: _repeat("a[pause:0s]", size),
        # prose with rewritten tokens, several chunks of several words each
        lambda size: _repeat("On 2024-07-04 Dr. Lee paid $4.50 for 3/4 of it, about 50% more. ", size),
    ],
    ids=["long-url", "tag-flood", "prose"],
)
def test_timestamps_and_captions_are_linear_in_the_text(text: Callable[[int], str]) -> None:
    synthesize = _synthesize()

    def make(size: int) -> Callable[[], object]:
        request = TtsRequest(
            text=text(size), timestamps=True, captions="vtt", return_base64=True, params=SynthesisParams(speed=3)
        )
        return lambda: synthesize(request)

    result = make(SMALL)()
    assert result.words and result.captions
    assert _ratio(make) < MAX_RATIO


@pytest.mark.parametrize("unit", ["0/0.io", "0/0.com ", "St. No. 5 & 1/2 etc. ", "$1 1st 1/3 555-0142 .5 "])
def test_the_normaliser_is_linear_in_the_text(unit: str) -> None:
    """`"0/0.io" * 3333` took 0.96 s: every later pass looked each rewrite's pieces up from the start."""
    normalize = TextNormalizer(EnglishNumbers(), ChineseNumbers())
    assert _ratio(lambda size: lambda: normalize(_repeat(unit, size))) < MAX_RATIO


def test_captions_are_linear_in_the_words() -> None:
    def make(size: int) -> Callable[[], object]:
        words = [WordTiming(w, i * 0.3, i * 0.3 + 0.2) for i, w in enumerate(_repeat("a--->b <v> & ", size).split())]
        return lambda: (render(words, "srt"), render(words, "vtt"))

    assert _ratio(make) < MAX_RATIO

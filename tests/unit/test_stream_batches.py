"""The stream use case groups later chunks into growing engine calls, timed by its clock."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from adapters.fake_engine import FakeEngine
from domain.audio import Audio
from domain.streaming import URGENT_BUFFER_SECONDS, is_urgent
from domain.synthesis import SynthesisItem
from domain.use_cases.synthesize import StreamChunk, Synthesize, TtsRequest
from tests.helpers import make_test_container

TEXT = " ".join(f"This is sentence number {i} of a long paragraph that streams along." for i in range(24))
SHORT_START = "Hello there. " + TEXT  # a first chunk of about a second


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TimedEngine(FakeEngine):
    """The fake engine, costing `fixed + per_audio_second * audio` seconds of the clock."""

    def __init__(self, clock: Clock, fixed: float, per_audio_second: float) -> None:
        super().__init__()
        self.clock, self.fixed, self.per_audio_second = clock, fixed, per_audio_second

    def synthesize(self, items: Sequence[SynthesisItem], **options: object) -> list[Audio]:
        out = super().synthesize(items, **options)  # type: ignore[arg-type]
        self.clock.now += self.fixed + self.per_audio_second * sum(a.duration for a in out)
        return out


def stream(fixed: float, per_audio_second: float, text: str = TEXT) -> tuple[list[int], list[StreamChunk], list[bool]]:
    """Each engine call's size, the chunks, and each call's `urgent` flag."""
    container = make_test_container()
    clock = Clock()
    engine = TimedEngine(clock, fixed, per_audio_second)
    synthesize = Synthesize(
        engine=engine,
        voices=container.voices(),
        normalizer=container.normalizer(),
        clock=clock,
    )
    events = list(synthesize.stream(TtsRequest(text=text, stream=True, seed=1, return_base64=True)))
    chunks = [e for e in events if isinstance(e, StreamChunk)]
    return [len(call) for call in engine.calls], chunks, engine.urgent_calls


def test_later_chunks_come_in_growing_batches_after_a_lone_first_chunk() -> None:
    sizes, chunks, _ = stream(fixed=0.05, per_audio_second=0.1)
    assert sizes[0] == 1 and sum(sizes) == len(chunks) > 3
    assert 2 < len(sizes) < len(chunks)  # neither one call per chunk nor everything at once
    assert max(sizes[1:]) > sizes[1]


def test_a_slow_engine_gets_one_chunk_per_call() -> None:
    sizes, chunks, _ = stream(fixed=0.5, per_audio_second=2.0)  # slower than real time: nothing fits
    assert sizes == [1] * len(chunks)


def test_an_instant_engine_gets_the_rest_in_one_call() -> None:
    sizes, chunks, _ = stream(fixed=0.0, per_audio_second=0.0)
    assert sizes == [1, len(chunks) - 1]


def test_calls_are_urgent_while_little_audio_is_buffered() -> None:
    """Nothing plays before the first chunk, and behind a batch of other jobs the second call
    would come late with only the first chunk's second in hand: both go ahead of other jobs.
    Once the buffer is deep, calls wait their turn."""
    sizes, chunks, urgent = stream(fixed=0.05, per_audio_second=0.1, text=SHORT_START)
    assert chunks[0].duration < URGENT_BUFFER_SECONDS
    assert len(sizes) > 2 and urgent[:2] == [True, True] and urgent[-1] is False
    assert urgent == sorted(urgent, reverse=True)  # the buffer only grows on a fast engine


def test_a_first_chunk_long_enough_lets_the_rest_wait_their_turn() -> None:
    sizes, chunks, urgent = stream(fixed=0.05, per_audio_second=0.1)
    assert chunks[0].duration >= URGENT_BUFFER_SECONDS
    assert urgent == [True] + [False] * (len(sizes) - 1)


def test_a_stream_slower_than_playback_does_not_make_other_jobs_wait_for_all_of_it() -> None:
    """The listener hears gaps whatever the order; going first would only starve the others."""
    sizes, _, urgent = stream(fixed=0.5, per_audio_second=2.0, text=SHORT_START)
    assert len(sizes) > 2 and urgent == [True] + [False] * (len(sizes) - 1)


@pytest.mark.parametrize(
    ("delivered", "buffered", "cost", "expected"),
    [
        (0, 0.0, None, True),
        (0, 30.0, 3.0, True),
        (1, 0.0, 0.1, True),
        (3, URGENT_BUFFER_SECONDS - 0.01, 0.1, True),
        (3, URGENT_BUFFER_SECONDS, 0.1, False),
        (3, 1.0, 1.0, False),
        (3, 1.0, None, False),
    ],
)
def test_is_urgent(delivered: int, buffered: float, cost: float | None, expected: bool) -> None:
    assert is_urgent(delivered, buffered, cost) is expected

"""The stream use case groups later chunks into growing engine calls, timed by its clock."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.fake_engine import FakeEngine
from domain.audio import Audio
from domain.synthesis import SynthesisItem
from domain.use_cases.synthesize import StreamChunk, Synthesize, TtsRequest
from tests.helpers import make_test_container

TEXT = " ".join(f"This is sentence number {i} of a long paragraph that streams along." for i in range(24))


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


def stream(fixed: float, per_audio_second: float) -> tuple[list[int], list[StreamChunk], list[bool]]:
    """Each engine call's size, the chunks, and each call's `urgent` flag."""
    container = make_test_container()
    clock = Clock()
    engine = TimedEngine(clock, fixed, per_audio_second)
    synthesize = Synthesize(
        engine=engine,
        voices=container.voices(),
        codec=container.codec(),
        store=container.store(),
        normalizer=container.normalizer(),
        url_ttl=container.settings().output_url_ttl,
        clock=clock,
    )
    events = list(synthesize.stream(TtsRequest(text=TEXT, stream=True, seed=1, return_base64=True)))
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


def test_only_the_first_call_is_urgent() -> None:
    """Nothing plays before the first chunk: a batching engine may run it ahead of other
    jobs; later calls are sized to the buffered audio and wait their turn."""
    sizes, _, urgent = stream(fixed=0.05, per_audio_second=0.1)
    assert len(sizes) > 2
    assert urgent == [True] + [False] * (len(sizes) - 1)

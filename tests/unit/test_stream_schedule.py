"""Growing stream batches: each call fits in the audio already buffered, so nothing stalls."""

from __future__ import annotations

import pytest

from domain.streaming import SAFETY, min_playback_margin, next_batch_size

CHUNKS = [2.0] + [6.0] * 11  # a short first sentence, then paragraph-sized chunks


def simulate(schedule, fixed: float, per_audio_second: float) -> tuple[list[int], float | None]:
    """A stream against an engine that costs `fixed + per_audio_second * audio` per call."""
    now, start, delivered, playing_since, cost = 0.0, 0, 0.0, None, None
    sizes, ready, durations = [], [], []
    while start < len(CHUNKS):
        buffered = 0.0 if playing_since is None else delivered - (now - playing_since)
        size = schedule(CHUNKS, start, buffered, cost)
        audio = sum(CHUNKS[start : start + size])
        spent = fixed + per_audio_second * audio
        now += spent
        cost = spent / audio
        for seconds in CHUNKS[start : start + size]:
            playing_since = now if playing_since is None else playing_since
            ready.append(now)
            durations.append(seconds)
            delivered += seconds
        sizes.append(size)
        start += size
    return sizes, min_playback_margin(ready, durations)


def one_big_batch(estimates, start, buffered, cost) -> int:
    return 1 if start == 0 else len(estimates) - start


# engines fast enough that one later chunk (6 s) is ready before the first (2 s) has played
@pytest.mark.parametrize(("fixed", "per_audio_second"), [(0.3, 0.2), (1.0, 0.1), (0.1, 0.25)])
def test_growing_batches_never_stall_where_one_big_batch_does(fixed: float, per_audio_second: float) -> None:
    sizes, margin = simulate(next_batch_size, fixed, per_audio_second)
    assert sizes[0] == 1 and sum(sizes) == len(CHUNKS)
    growing = sizes[1:-1]  # the last call takes what is left
    assert growing == sorted(growing) and max(sizes) > sizes[1]
    assert margin is not None and margin >= 0
    _, big_margin = simulate(one_big_batch, fixed, per_audio_second)
    assert big_margin is not None and big_margin < 0


def test_a_fast_engine_gets_the_rest_in_few_calls() -> None:
    sizes, margin = simulate(next_batch_size, 0.05, 0.01)
    assert sizes[0] == 1 and len(sizes) <= 3 and margin is not None and margin > 0


def test_first_call_and_a_stalled_stream_take_one_chunk() -> None:
    assert next_batch_size(CHUNKS, 0, 0.0, None) == 1
    assert next_batch_size(CHUNKS, 3, -1.0, 0.2) == 1
    assert next_batch_size(CHUNKS, 3, 10.0, 0.0) == len(CHUNKS) - 3
    assert next_batch_size(CHUNKS, len(CHUNKS), 10.0, 0.2) == 0


def test_the_budget_is_the_safe_share_of_the_buffer() -> None:
    # 10 s buffered at 0.5 s per audio second: SAFETY * 20 s of audio fits
    fits = int(SAFETY * 10.0 / 0.5 // 6.0)
    assert next_batch_size(CHUNKS, 1, 10.0, 0.5) == fits
    assert next_batch_size(CHUNKS, 1, 1.0, 5.0) == 1  # always at least one


def test_playback_margin() -> None:
    assert min_playback_margin([1.0], [2.0]) is None
    # playback from t=1: chunk 1 needed at 3 (ready 2.5: +0.5), chunk 2 at 6 (ready 6.5: -0.5)
    assert min_playback_margin([1.0, 2.5, 6.5], [2.0, 3.0, 4.0]) == pytest.approx(-0.5)
    assert min_playback_margin([0.0, 0.1], [2.0, 9.0]) == pytest.approx(1.9)

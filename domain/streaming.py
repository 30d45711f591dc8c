"""How a stream's chunks are grouped into engine calls, and whether the listener waited.

A listener starts playing when the first chunk arrives; every later chunk must be ready
before the audio before it has finished playing. One chunk per call is safe but wasteful
(each call pays the engine's fixed costs, and on a GPU a batch of 8 costs little more than
one); everything in one call after the first stalls whenever that call takes longer than
the first chunk plays. So after the first chunk, each call takes as many chunks as its
estimated compute time fits in the audio already buffered: the batches grow as the buffer
grows, and the estimate is the engine's own measured speed on this stream so far.
"""

from __future__ import annotations

from collections.abc import Sequence

#: the share of the buffered audio a call may use: room for a slower call than measured
SAFETY = 0.7


def next_batch_size(
    estimates: Sequence[float], start: int, buffered: float, seconds_per_audio_second: float | None
) -> int:
    """How many of the chunks from `start` to put in the next engine call.

    `estimates` are the chunks' expected audio seconds; `buffered` the seconds of audio
    delivered but not yet played when the call starts; `seconds_per_audio_second` the
    engine's measured cost on this stream (None before the first call: take one chunk).
    Always at least one chunk, so the stream makes progress even when it already stalls."""
    remaining = len(estimates) - start
    if remaining <= 0:
        return 0
    if seconds_per_audio_second is None or buffered <= 0:
        return 1
    if seconds_per_audio_second <= 0:
        return remaining
    budget = SAFETY * buffered / seconds_per_audio_second
    size, audio = 0, 0.0
    for estimate in estimates[start:]:
        if size and audio + estimate > budget:
            break
        size += 1
        audio += estimate
    return size


def min_playback_margin(ready_at: Sequence[float], durations: Sequence[float]) -> float | None:
    """The smallest lead, in seconds, of a chunk over the moment the listener needs it
    (negative: a gap was heard). Playback starts when chunk 0 is ready, so chunk i is
    needed at `ready_at[0] + sum(durations[:i])`. None with fewer than two chunks."""
    if len(ready_at) < 2:
        return None
    margins = []
    needed = ready_at[0]
    for ready, previous in zip(ready_at[1:], durations, strict=False):
        needed += previous
        margins.append(needed - ready)
    return min(margins)

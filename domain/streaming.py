"""How a stream's chunks are grouped into engine calls, and whether the listener waited.

A listener starts playing when the first chunk arrives; every later chunk must be ready
before the audio before it has finished playing. One chunk per call is safe but wasteful
(each call pays the engine's fixed costs, and on a GPU a batch of 8 costs little more than
one); everything in one call after the first stalls whenever that call takes longer than
the first chunk plays. So after the first chunk, each call takes as many chunks as its
estimated compute time fits in the audio already buffered: the batches grow as the buffer
grows, and the estimate is the engine's own measured speed on this stream so far.

That estimate holds only if the call runs when asked. A call marked urgent does (a batching
engine runs it ahead of other jobs' work, within a step of a running batch); any other call
waits for the batch in progress and then shares the next one. So a call is urgent while the
listener has little audio in hand: the first, and any later one with less than
URGENT_BUFFER_SECONDS buffered, as long as the engine speaks this stream faster than it plays.
Once the buffer is deep, the stream's calls wait their turn like any job's. On an engine
slower than playback (a CPU) the listener hears gaps whatever the order, and going first would
only make every other job wait for the whole stream (at 8 clients on the 2-core EPYC, NFE 4:
the other jobs' median answer went from 22-24 s to 50-52 s): there only the first call is urgent.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate

#: the share of the buffered audio a call may use: room for a slower call than measured
SAFETY = 0.7
#: below this much buffered audio a stream's call goes ahead of other jobs. Behind a batch it
#: would wait that batch out and then its own: on the paced H200 model (benchmarks.serve --paced,
#: 16 clients sending one to four sentences at NFE 16) a call took 2.5 s, and a paragraph
#: whose second call waited its turn with 3 s buffered went silent for 0.2 s.
URGENT_BUFFER_SECONDS = 5.0


def is_urgent(chunks_delivered: int, buffered: float, seconds_per_audio_second: float | None) -> bool:
    """Whether the stream's next engine call should go ahead of other jobs' work;
    `seconds_per_audio_second` is the engine's measured cost on this stream so far."""
    if chunks_delivered == 0:
        return True
    keeps_up = seconds_per_audio_second is not None and seconds_per_audio_second < 1.0
    return keeps_up and buffered < URGENT_BUFFER_SECONDS


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
    needed = accumulate(durations, initial=ready_at[0])
    next(needed)  # chunk 0's own moment: it starts the playback
    return min(need - ready for ready, need in zip(ready_at[1:], needed, strict=False))

"""Audio as the domain sees it: mono float32 samples at a known rate.

Samples live in an `array.array('f')` so the domain stays standard-library only, while
adapters convert to and from numpy without copying (`numpy.frombuffer`).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, eq=False)
class Audio:
    samples: array
    sample_rate: int

    def __post_init__(self) -> None:
        if self.samples.typecode != "f":
            raise TypeError("audio samples must be float32 (array typecode 'f')")
        if self.sample_rate <= 0:
            raise ValueError("sample rate must be positive")

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def num_samples(self) -> int:
        return len(self.samples)


class CrossFader:
    """Joins chunk waveforms as they arrive, the way upstream F5-TTS joins them at the end:
    a linear fade over `seconds` of overlap. Each `push` returns the samples that are final
    (all but the tail the next chunk will fade into); `finish` returns that tail. So audio
    can be streamed chunk by chunk and the pieces concatenate to exactly the joined whole.

    Only the overlap is computed in Python (a few thousand samples per join); the bulk is
    copied once, in C, into the array `push` returns (a part was copied four times on a
    stream's path).
    """

    def __init__(self, seconds: float, sample_rate: int) -> None:
        self._overlap = max(0, int(seconds * sample_rate))
        self._rate = sample_rate
        self._tail: array | None = None

    @property
    def pending(self) -> int:
        """Samples held back for the next part to fade into."""
        return len(self._tail) if self._tail is not None else 0

    def push(self, part: Audio) -> Audio:
        if part.sample_rate != self._rate:
            raise ValueError("cannot join audio of different sample rates")
        nxt = part.samples
        tail = self._tail if self._tail is not None else array("f")
        n = min(self._overlap, len(tail), len(nxt))
        start = len(tail) - n
        segment = tail[:start]
        down, up = _ramps(n)
        weighed = zip(tail[start:], down, nxt[:n], up, strict=True)
        segment.extend(array("f", [a * d + b * u for a, d, b, u in weighed]))
        segment.frombytes(memoryview(nxt).cast("B")[n * nxt.itemsize :])  # the bulk, copied once
        final = len(segment) - min(self._overlap, len(segment))
        self._tail = segment[final:]
        del segment[final:]
        return Audio(segment, self._rate)

    def finish(self) -> Audio:
        tail, self._tail = self._tail or array("f"), None
        return Audio(tail, self._rate)


@lru_cache(maxsize=8)
def _ramps(n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The fade's weights over `n` samples, out and in (a request's joins share them: computing
    them at each join was most of its time)."""
    step = 1.0 / (n - 1) if n > 1 else 0.0
    return tuple(1.0 - i * step for i in range(n)), tuple(i * step for i in range(n))

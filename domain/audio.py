"""Audio as the domain sees it: mono float32 samples at a known rate.

Samples live in an `array.array('f')` so the domain stays standard-library only, while
adapters convert to and from numpy without copying (`numpy.frombuffer`).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass


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


def cross_fade(parts: list[Audio], seconds: float) -> Audio:
    """Join chunk waveforms the way upstream F5-TTS does: a linear fade over the overlap.

    Only the overlap is computed in Python (a few thousand samples per join); the bulk is
    copied by `array` slicing in C, so this stays cheap for long outputs.
    """
    if not parts:
        raise ValueError("nothing to join")
    rate = parts[0].sample_rate
    if any(p.sample_rate != rate for p in parts):
        raise ValueError("cannot join audio of different sample rates")
    out = array("f", parts[0].samples)
    for part in parts[1:]:
        nxt = part.samples
        n = min(int(seconds * rate), len(out), len(nxt))
        if n <= 0:
            out.extend(nxt)
            continue
        head = out[-n:]
        del out[-n:]
        step = 1.0 / (n - 1) if n > 1 else 0.0
        out.extend(array("f", (head[i] * (1.0 - i * step) + nxt[i] * (i * step) for i in range(n))))
        out.extend(nxt[n:])
    return Audio(out, rate)

"""Zero-copy bridges between the domain's `array('f')` audio and numpy."""

from __future__ import annotations

from array import array

import numpy as np

from domain.audio import Audio


def to_numpy(audio: Audio) -> np.ndarray:
    """A read-only float32 view of the samples (no copy)."""
    if not audio.samples:
        return np.zeros(0, dtype=np.float32)
    return np.frombuffer(audio.samples, dtype=np.float32)


def from_numpy(samples: np.ndarray, sample_rate: int) -> Audio:
    """The samples copied once, into the array (through `tobytes` they were copied twice: every
    chunk the engine finishes comes this way)."""
    data = array("f")
    data.frombytes(memoryview(np.ascontiguousarray(samples, dtype=np.float32)).cast("B"))
    return Audio(data, int(sample_rate))

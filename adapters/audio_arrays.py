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
    data = array("f")
    data.frombytes(np.ascontiguousarray(samples, dtype=np.float32).tobytes())
    return Audio(data, int(sample_rate))

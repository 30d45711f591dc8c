"""Audio for requests: a voiced tone in any container format soundfile writes, and a small
FLAC whose header claims hours of audio (a decompression bomb, for the input guards)."""

from __future__ import annotations

import functools
import io

import numpy as np
import soundfile as sf


def tone(seconds: float = 2.0, rate: int = 24000, freq: float = 180.0) -> np.ndarray:
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t) * (0.7 + 0.3 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)


def audio_file(seconds: float = 2.0, rate: int = 24000, fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, tone(seconds, rate), rate, format=fmt)
    return buffer.getvalue()


@functools.cache
def claimed_long_flac(seconds: int = 2048, rate: int = 8000, channels: int = 8) -> bytes:
    """A small FLAC (tens of KB: constant frames compress to almost nothing) whose header
    honestly claims `seconds` of `channels`-channel audio: decoded whole as float32 it
    would take seconds * rate * channels * 4 bytes (524 MB by default)."""
    buffer = io.BytesIO()
    block = np.full((rate * 16, channels), 0.25, np.float32)
    with sf.SoundFile(buffer, "w", rate, channels, format="FLAC", subtype="PCM_16", compression_level=1.0) as out:
        for _ in range(seconds // 16):
            out.write(block)
    return buffer.getvalue()

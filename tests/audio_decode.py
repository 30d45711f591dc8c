"""Decoding any output format in tests, through PyAV (pcm: raw 16-bit little-endian)."""

from __future__ import annotations

import io

import av
import numpy as np


def decode(data: bytes, fmt: str, pcm_rate: int = 24000) -> tuple[np.ndarray, int]:
    """(mono float32 samples, rate) of a file in `fmt`."""
    if fmt == "pcm":
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32767.0, pcm_rate
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        frames = [frame.to_ndarray() for frame in container.decode(stream)]
        rate = stream.codec_context.sample_rate
    planes = np.concatenate([f.reshape(-1) if f.shape[0] == 1 else f.mean(axis=0) for f in frames])
    if planes.dtype.kind == "i":
        planes = planes.astype(np.float32) / np.iinfo(planes.dtype).max
    return planes.astype(np.float32), rate

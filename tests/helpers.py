"""Shared test helpers: audio fixtures and the real container with fakes swapped in."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from dependency_injector import providers

from container import Container, build_container


def tone(seconds: float = 2.0, rate: int = 24000, freq: float = 180.0) -> np.ndarray:
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t) * (0.7 + 0.3 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)


def audio_file(seconds: float = 2.0, rate: int = 24000, fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, tone(seconds, rate), rate, format=fmt)
    return buffer.getvalue()


def make_test_container(storage_url: str = "memory://test-store", **overrides: object) -> Container:
    """The production container, configured for tests, with any provider overridden."""
    container = build_container({"TTS_ENGINE": "fake", "STORAGE_URL": storage_url})
    for name, value in overrides.items():
        getattr(container, name).override(providers.Object(value))
    return container

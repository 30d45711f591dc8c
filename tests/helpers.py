"""Shared test helpers: audio fixtures and the real container with fakes swapped in."""

from __future__ import annotations

import functools
import io
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import soundfile as sf
from dependency_injector import providers

from container import Container, build_container

ROOT = Path(__file__).resolve().parents[1]


def tone(seconds: float = 2.0, rate: int = 24000, freq: float = 180.0) -> np.ndarray:
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t) * (0.7 + 0.3 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)


def audio_file(seconds: float = 2.0, rate: int = 24000, fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, tone(seconds, rate), rate, format=fmt)
    return buffer.getvalue()


_open_containers: list[Container] = []


def make_test_container(
    storage_url: str = "memory://test-store", env: Mapping[str, str] | None = None, **overrides: object
) -> Container:
    """The production container, configured for tests (`env` adds settings), with any provider
    overridden. conftest shuts every one down after its test, so no batcher thread outlives it."""
    container = build_container({"TTS_ENGINE": "fake", "STORAGE_URL": storage_url, **(env or {})})
    for name, value in overrides.items():
        getattr(container, name).override(providers.Object(value))
    _open_containers.append(container)
    return container


def shut_down_test_containers() -> None:
    while _open_containers:
        _open_containers.pop().shutdown_resources()


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


def script_settings(script: str, out: Path, *args: str) -> dict[str, str]:
    """Run one of the project's scripts that write a tiny random model (make_tiny_checkpoint.py,
    make_tiny_aligner.py) into `out`, and return the KEY=VALUE settings it prints to load it."""
    printed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), str(out), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    return dict(line.split("=", 1) for line in printed.splitlines() if re.match(r"^[A-Z][A-Z0-9_]*=", line))


def tiny_f5_env(out: Path) -> dict[str, str]:
    """The settings that run the real F5 engine on the tiny checkpoint written to `out`: offline,
    fp32 (bitwise-reproducible on any CPU), loaded as production loads the real weights."""
    return {
        **script_settings("make_tiny_checkpoint.py", out),
        "TTS_ENGINE": "f5",
        "HF_HUB_OFFLINE": "1",
        "TTS_DTYPE": "fp32",
    }

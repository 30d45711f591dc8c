from __future__ import annotations

from typing import Protocol

from domain.audio import Audio

FORMATS = ("wav", "flac", "mp3", "ogg")


class AudioCodec(Protocol):
    """Turns uploaded bytes into audio and audio into files clients play."""

    def decode(self, data: bytes) -> Audio:
        """Mono float32 audio at the file's own rate.

        Raises InvalidAudio when the bytes are not a supported, sane recording: not audio,
        non-finite samples, an absurd rate, or silence.
        """
        ...

    def encode(self, audio: Audio, fmt: str) -> bytes:
        """A complete file in `fmt` (one of FORMATS)."""
        ...

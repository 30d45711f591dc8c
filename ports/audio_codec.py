from __future__ import annotations

from typing import Protocol

from domain.audio import Audio

FORMATS = ("wav", "flac", "mp3", "ogg")


class AudioCodec(Protocol):
    """Turns uploaded bytes into audio and audio into files clients play."""

    def decode(self, data: bytes, max_seconds: float | None = None) -> Audio:
        """Mono float32 audio at the file's own rate.

        Raises InvalidAudio when the bytes are not a supported, sane recording: not audio,
        non-finite samples, an absurd rate or channel count, silence, or (when `max_seconds`
        is given) longer than that. Length is checked from the header before decoding and
        again while decoding, so a small file claiming hours costs no more than the cap.
        """
        ...

    def encode(self, audio: Audio, fmt: str) -> bytes:
        """A complete file in `fmt` (one of FORMATS)."""
        ...

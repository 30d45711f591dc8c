from __future__ import annotations

from typing import Protocol

from domain.audio import Audio

# Every response format OpenAI's speech API names, plus ogg (Vorbis), which the job API had first.
OUTPUT_FORMATS = ("wav", "flac", "mp3", "ogg", "opus", "aac", "pcm")


class AudioStream(Protocol):
    """One output file written piece by piece: the bytes of each piece leave as soon as it is
    encoded, and the concatenation of everything returned is one playable file."""

    def push(self, audio: Audio) -> bytes:
        """Encode more samples; returns the bytes that are final now (possibly none)."""
        ...

    def finish(self) -> bytes:
        """Flush the encoder; returns the last bytes. Nothing may be pushed afterwards."""
        ...


class AudioEncoder(Protocol):
    """Turns synthesized audio into the file a client asked for, whole or as a stream."""

    def encode(self, audio: Audio, fmt: str) -> bytes:
        """A complete file in `fmt` (one of OUTPUT_FORMATS; `pcm` is raw 16-bit little-endian
        mono at the audio's own rate). Raises InvalidInput for any other format."""
        ...

    def open_stream(self, fmt: str, sample_rate: int) -> AudioStream:
        """A stream encoder for `fmt` (one of OUTPUT_FORMATS). Raises InvalidInput for any other."""
        ...

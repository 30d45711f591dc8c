from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.audio import Audio


@dataclass(frozen=True)
class OutputFormat:
    """What every way in needs to know of a format: the type its answers are sent and stored
    as, and whether a stream encoder sends it as it goes (`streamed`) or only at the end."""

    content_type: str
    streamed: bool = True


# The one list of output formats (every way in, the encoder and the store read it): every
# response format OpenAI's speech API names, plus ogg (Vorbis), which the job API had first.
OUTPUT_FORMATS = {
    "wav": OutputFormat("audio/wav"),
    "flac": OutputFormat("audio/flac"),
    "mp3": OutputFormat("audio/mpeg"),
    "ogg": OutputFormat("audio/ogg", streamed=False),  # Vorbis has only FFmpeg's experimental encoder
    "opus": OutputFormat("audio/ogg; codecs=opus"),
    "aac": OutputFormat("audio/aac"),
    "pcm": OutputFormat("audio/pcm"),
}
FORMAT_NAMES = tuple(OUTPUT_FORMATS)


class AudioStream(Protocol):
    """One output file written piece by piece: the bytes of each piece leave as soon as it is
    encoded, and the concatenation of everything returned is one playable file."""

    def push(self, audio: Audio) -> bytes:
        """Encode more samples; returns the bytes that are final now (possibly none)."""
        ...

    def finish(self) -> bytes:
        """Flush the encoder; returns the last bytes. Nothing may be pushed afterwards."""
        ...


class ChunkedFile(Protocol):
    """An answer sent as complete files of its pieces, then as one file of them all."""

    def add(self, audio: Audio) -> bytes:
        """The piece's own complete file (what `encode` makes of it)."""
        ...

    def whole(self) -> bytes:
        """The file `encode` makes of every piece added, end to end. Nothing may be added afterwards."""
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

    def open_chunked(self, fmt: str, sample_rate: int) -> ChunkedFile:
        """Files of each piece, then of the whole, in `fmt` (one of OUTPUT_FORMATS). Raises
        InvalidInput for any other."""
        ...

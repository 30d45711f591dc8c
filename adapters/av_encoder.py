"""Output files in every OpenAI response format, whole or streamed, through PyAV.

flac, mp3 and ogg files come from the libsndfile codec, as before; a whole wav file is written
here, as libsndfile writes it (`wav_file`). opus (Ogg Opus) and
aac (ADTS) need encoders libsndfile lacks: PyAV bundles FFmpeg's, so no system FFmpeg is
needed. pcm is raw 16-bit little-endian samples. Streams feed an HTTP response piece by
piece: pcm and wav (a header with "unknown length" sizes, as streaming servers send) are
written directly; mp3, opus, aac and flac through a PyAV muxer writing to a non-seekable
sink; ogg (Vorbis has only FFmpeg's experimental encoder) is encoded whole at the end.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from adapters.audio_arrays import from_numpy, to_numpy
from domain.audio import Audio
from domain.errors import InvalidInput
from ports.audio_codec import AudioCodec
from ports.audio_encoder import OUTPUT_FORMATS, AudioStream, ChunkedFile

BLOCK = 1 << 16  # samples converted and handed to the encoder at a time
WAV_HEADER = 44  # bytes before the samples of a 16-bit wav
_FILE_FORMATS = ("flac", "mp3", "ogg")


@dataclass(frozen=True)
class _AvFormat:
    container: str
    codec: str
    bit_rate: int | None = None
    rates: tuple[int, ...] = ()  # rates the codec takes; others are resampled to the first
    options: tuple[tuple[str, str], ...] = ()


_AV = {
    # Ogg pages are cut every 100 ms instead of every second, so streamed audio leaves promptly.
    "opus": _AvFormat("ogg", "libopus", 48_000, (48000, 24000, 16000, 12000, 8000), (("page_duration", "100000"),)),
    "aac": _AvFormat("adts", "aac", 64_000),
    "mp3": _AvFormat("mp3", "libmp3lame", 64_000, (44100, 48000, 32000, 24000, 22050, 16000, 12000, 11025, 8000)),
    "flac": _AvFormat("flac", "flac"),
}


def _clipped(audio: Audio) -> np.ndarray:
    return np.clip(to_numpy(audio), -1.0, 1.0)


class RawStream:
    """pcm, and wav after a header whose RIFF and data sizes are 0xFFFFFFFF ("until the end"):
    the length is unknown when the header leaves. Readers that honour the sizes read to the end."""

    def __init__(self, header: bytes = b"") -> None:
        self._header = header

    def push(self, audio: Audio) -> bytes:
        header, self._header = self._header, b""
        return header + (_clipped(audio) * 32767.0).round().astype("<i2").tobytes()

    def finish(self) -> bytes:
        header, self._header = self._header, b""
        return header


def wav_stream_header(sample_rate: int) -> bytes:
    return _wav_header(sample_rate, 0xFFFFFFFF)


def _wav_header(sample_rate: int, data_bytes: int) -> bytes:
    riff = data_bytes if data_bytes == 0xFFFFFFFF else WAV_HEADER - 8 + data_bytes
    fmt = (16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
    return struct.pack("<4sI8sIHHIIHH4sI", b"RIFF", riff, b"WAVEfmt ", *fmt, b"data", data_bytes)


def wav_file(audio: Audio) -> bytes:
    """A 16-bit mono wav file, byte for byte as libsndfile (1.2) writes it: its 44-byte header,
    and each sample clipped to [-1, 1], times 32768, rounded down, at most 32767. Converted a
    block at a time into the file's own array: libsndfile's writes go through soundfile's Python
    callbacks, and whole-array numpy steps each take fresh memory, paid in page faults in the
    worker; this takes one fresh array and its bytes (scheduling-steps-cpu.txt, section 7)."""
    samples = to_numpy(audio)
    size = samples.size
    out = np.empty(WAV_HEADER // 2 + size, "<i2")
    out.view(np.uint8)[:WAV_HEADER] = np.frombuffer(_wav_header(audio.sample_rate, 2 * size), np.uint8)
    scratch = np.empty(min(BLOCK, size), np.float32)
    for start in range(0, size, BLOCK):
        block = np.clip(samples[start : start + BLOCK], -1.0, 1.0, out=scratch[: min(BLOCK, size - start)])
        block *= 32768.0
        np.floor(block, out=block)
        np.minimum(block, 32767.0, out=block)
        out[WAV_HEADER // 2 + start : WAV_HEADER // 2 + start + block.size] = block
    return out.tobytes()


class _Sink:
    """A write-only file for PyAV: non-seekable, so the muxer writes strictly in order."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class AvStream:
    """PyAV is imported by the first stream that needs it (opus, aac, mp3 and flac streams):
    its import is a tenth of a second of every worker's cold start otherwise."""

    def __init__(self, spec: _AvFormat, sample_rate: int) -> None:
        import av

        self._av = av
        self._sink = _Sink()
        self._rate = sample_rate
        self._container = av.open(self._sink, mode="w", format=spec.container, options=dict(spec.options))
        rate = sample_rate if not spec.rates or sample_rate in spec.rates else spec.rates[0]
        self._stream = self._container.add_stream(spec.codec, rate=rate, layout="mono")
        if spec.bit_rate:
            self._stream.bit_rate = spec.bit_rate
        self._closed = False

    def push(self, audio: Audio) -> bytes:
        samples = _clipped(audio).astype(np.float32)
        for start in range(0, samples.size, BLOCK):
            frame = self._av.AudioFrame.from_ndarray(samples[None, start : start + BLOCK], format="flt", layout="mono")
            frame.sample_rate = self._rate
            self._container.mux(self._stream.encode(frame))
        return self._sink.take()

    def finish(self) -> bytes:
        if not self._closed:
            self._closed = True
            self._container.mux(self._stream.encode(None))
            self._container.close()
        return self._sink.take()


class WholeFileStream:
    """For a format with no streaming encoder here: collects the audio, encodes it at the end."""

    def __init__(self, encoder: AvEncoder, fmt: str, sample_rate: int) -> None:
        self._encoder, self._fmt, self._rate = encoder, fmt, sample_rate
        self._pieces: list[np.ndarray] = []

    def push(self, audio: Audio) -> bytes:
        self._pieces.append(to_numpy(audio).copy())
        return b""

    def finish(self) -> bytes:
        samples = np.concatenate(self._pieces) if self._pieces else np.zeros(0, np.float32)
        self._pieces = []
        return self._encoder.encode(from_numpy(samples, self._rate), self._fmt)


class JoinedFile:
    """Each piece's file, then the whole's. wav and pcm files join: each piece is encoded once
    and its file kept, and the whole's file is its pieces' samples, under a header with the
    whole's sizes for a wav (`_wav_header`, which wrote each piece's), joined in one copy at the
    end. A compressed file cannot be joined from complete files of its pieces: there the samples
    are kept, and the whole's file is encoded once more, at the end."""

    def __init__(self, encoder: AvEncoder, fmt: str, sample_rate: int) -> None:
        self._encoder, self._fmt, self._rate = encoder, fmt, sample_rate
        self._files: list[bytes] = []
        self._at_end = None if fmt in ("wav", "pcm") else WholeFileStream(encoder, fmt, sample_rate)

    def add(self, audio: Audio) -> bytes:
        data = self._encoder.encode(audio, self._fmt)
        if self._at_end is not None:
            self._at_end.push(audio)
        else:
            self._files.append(data)
        return data

    def whole(self) -> bytes:
        if self._at_end is not None:
            return self._at_end.finish()
        files, self._files = self._files, []
        if self._fmt != "wav" or not files:
            return b"".join(files)
        samples = [memoryview(file)[WAV_HEADER:] for file in files]
        return b"".join([_wav_header(self._rate, sum(map(len, samples))), *samples])


class AvEncoder:
    def __init__(self, files: AudioCodec) -> None:
        self._files = files

    def encode(self, audio: Audio, fmt: str) -> bytes:
        _check(fmt)
        if fmt == "wav":
            return wav_file(audio)
        if fmt in _FILE_FORMATS:
            return self._files.encode(audio, fmt)
        stream = self.open_stream(fmt, audio.sample_rate)
        return stream.push(audio) + stream.finish()

    def open_chunked(self, fmt: str, sample_rate: int) -> ChunkedFile:
        _check(fmt)
        return JoinedFile(self, fmt, sample_rate)

    def open_stream(self, fmt: str, sample_rate: int) -> AudioStream:
        _check(fmt)
        if fmt in ("pcm", "wav"):
            return RawStream(wav_stream_header(sample_rate) if fmt == "wav" else b"")
        if not OUTPUT_FORMATS[fmt].streamed:
            return WholeFileStream(self, fmt, sample_rate)
        return AvStream(_AV[fmt], sample_rate)


def _check(fmt: str) -> None:
    if fmt not in OUTPUT_FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(OUTPUT_FORMATS)}")

"""Audio codec on libsndfile (through soundfile): no FFmpeg needed for any format we serve.

Both directions work in blocks. libsndfile's Vorbis encoder puts a buffer the size of
what it is handed on the stack, so one call with ~90 s of audio overflows it and kills
the process (SIGSEGV); writing BLOCK_FRAMES at a time keeps every call small, for every
format. Decoding reads the header first and refuses what is too long before decoding a
sample, then decodes in blocks, downmixing each one, so memory follows the mono length
the caller allows, not what a small compressed file claims.
"""

from __future__ import annotations

import io
from array import array

import numpy as np
import soundfile as sf

from adapters.audio_arrays import to_numpy
from domain.audio import Audio
from domain.errors import InvalidAudio, InvalidInput

MIN_RATE = 8000
MAX_RATE = 192000
MAX_CHANNELS = 8  # 7.1 surround: the most any recording of a voice has
SILENCE_PEAK = 1e-4
BLOCK_FRAMES = 32768  # per libsndfile call when writing; ~1.4 s at 24 kHz
BLOCK_SAMPLES = 1 << 18  # per block when reading, all channels together (1 MiB of float32)
_WRITE = {
    "wav": {"format": "WAV", "subtype": "PCM_16"},
    "flac": {"format": "FLAC", "subtype": "PCM_16"},
    "mp3": {"format": "MP3", "subtype": "MPEG_LAYER_III"},
    "ogg": {"format": "OGG", "subtype": "VORBIS"},
}
_NOT_AUDIO = "the file is not audio in a supported format (wav, flac, ogg, mp3)"
_READ_ERRORS = (sf.LibsndfileError, RuntimeError, TypeError, ValueError)


class SoundfileCodec:
    def decode(self, data: bytes, max_seconds: float | None = None) -> Audio:
        try:
            with sf.SoundFile(io.BytesIO(data)) as source:
                _check_header(source, max_seconds)
                return _read_mono(source, max_seconds)
        except _READ_ERRORS as exc:
            raise InvalidAudio(_NOT_AUDIO) from exc

    def encode(self, audio: Audio, fmt: str) -> bytes:
        if fmt not in _WRITE:
            raise InvalidInput(f"format must be one of {', '.join(_WRITE)}")
        samples = to_numpy(audio)
        buffer = io.BytesIO()
        with sf.SoundFile(buffer, "w", audio.sample_rate, 1, **_WRITE[fmt]) as out:
            for start in range(0, samples.size, BLOCK_FRAMES):
                out.write(np.clip(samples[start : start + BLOCK_FRAMES], -1.0, 1.0))
        return buffer.getvalue()


def _check_header(source: sf.SoundFile, max_seconds: float | None) -> None:
    """What the header claims, refused before any sample is decoded."""
    rate = source.samplerate
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InvalidAudio(f"sample rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
    if not 1 <= source.channels <= MAX_CHANNELS:
        raise InvalidAudio(f"the file has {source.channels} channels; at most {MAX_CHANNELS} are accepted")
    if max_seconds is not None and source.frames > max_seconds * rate:
        raise InvalidAudio(f"the audio lasts {source.frames / rate:.1f} s; the limit is {max_seconds:g} s")


def _read_mono(source: sf.SoundFile, max_seconds: float | None) -> Audio:
    """Block by block, downmixed as it goes; a body longer than its header said is cut
    off at the cap, never decoded whole."""
    rate, channels = source.samplerate, source.channels
    cap = int(max_seconds * rate) if max_seconds is not None else None
    block = np.empty((max(1, BLOCK_SAMPLES // channels), channels), dtype=np.float32)
    mono = array("f")
    peak = 0.0
    while True:
        got = source.read(block.shape[0], dtype="float32", always_2d=True, out=block)
        if got.shape[0] == 0:
            break
        part = got[:, 0] if channels == 1 else got.mean(axis=1, dtype=np.float32)
        if not np.isfinite(part).all():
            raise InvalidAudio("the audio holds non-finite samples")
        np.clip(part, -1.0, 1.0, out=part)
        peak = max(peak, float(np.abs(part).max()))
        mono.frombytes(np.ascontiguousarray(part).tobytes())
        if cap is not None and len(mono) > cap:
            raise InvalidAudio(f"the audio lasts more than {max_seconds:g} s, the limit")
    if not mono:
        raise InvalidAudio("the file holds no samples")
    if peak < SILENCE_PEAK:
        raise InvalidAudio("the audio is silent")
    return Audio(mono, rate)

"""Audio codec on libsndfile (through soundfile): no FFmpeg needed for any format we serve."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from adapters.audio_arrays import from_numpy, to_numpy
from domain.audio import Audio
from domain.errors import InvalidAudio, InvalidInput

MIN_RATE = 8000
MAX_RATE = 192000
SILENCE_PEAK = 1e-4
_WRITE = {
    "wav": {"format": "WAV", "subtype": "PCM_16"},
    "flac": {"format": "FLAC", "subtype": "PCM_16"},
    "mp3": {"format": "MP3", "subtype": "MPEG_LAYER_III"},
    "ogg": {"format": "OGG", "subtype": "VORBIS"},
}


class SoundfileCodec:
    def decode(self, data: bytes) -> Audio:
        try:
            samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
            raise InvalidAudio("the file is not audio in a supported format (wav, flac, ogg, mp3)") from exc
        if not MIN_RATE <= rate <= MAX_RATE:
            raise InvalidAudio(f"sample rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
        mono = samples.mean(axis=1, dtype=np.float32)
        if mono.size == 0:
            raise InvalidAudio("the file holds no samples")
        if not np.isfinite(mono).all():
            raise InvalidAudio("the audio holds non-finite samples")
        if float(np.abs(mono).max()) < SILENCE_PEAK:
            raise InvalidAudio("the audio is silent")
        return from_numpy(np.clip(mono, -1.0, 1.0), rate)

    def encode(self, audio: Audio, fmt: str) -> bytes:
        if fmt not in _WRITE:
            raise InvalidInput(f"format must be one of {', '.join(_WRITE)}")
        samples = np.clip(to_numpy(audio), -1.0, 1.0)
        buffer = io.BytesIO()
        sf.write(buffer, samples, audio.sample_rate, **_WRITE[fmt])
        return buffer.getvalue()

"""An uploaded voice stored as the model reads it: at the model's rate, mono, and only as long
as the model's reference clipping needs.

F5-TTS reads at most about 12 s of a reference (`clip_reference`, upstream's rule: a cut at a
silence, found over the whole clip), at 24 kHz. A voice kept at its own rate and length (up
to 192 kHz and MAX_VOICE_SECONDS) costs up to 16 times the memory the model needs every time
it is decoded. So an upload is resampled once (soxr, the resampler librosa uses) and cut to
the shortest of a few prefixes from which `clip_reference` makes exactly what it makes from
the whole clip, as the stored 16-bit wav reads back: for a 24 kHz upload the model's input is
bit for bit what it was when the whole clip was kept.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from adapters.audio_arrays import from_numpy, to_numpy
from adapters.reference_prep import clip_reference
from domain.audio import Audio

MODEL_RATE = 24_000  # F5-TTS's mel rate
PREFIX_SECONDS = (14.0, 16.0, 20.0, 28.0, 40.0)  # tried in order; the whole clip when none is enough


class ModelVoice:
    def __init__(self, rate: int = MODEL_RATE, prefixes: tuple[float, ...] = PREFIX_SECONDS) -> None:
        self._rate, self._prefixes = rate, prefixes

    def __call__(self, audio: Audio) -> Audio:
        samples, rate = to_numpy(audio), audio.sample_rate
        if rate != self._rate:
            import soxr  # librosa's resampler; imported by the first upload that needs it

            samples = np.clip(soxr.resample(samples, rate, self._rate, quality="HQ"), -1.0, 1.0).astype(np.float32)
            rate = self._rate
        stored = _as_stored(samples, rate)
        whole = clip_reference(stored, rate)
        for seconds in self._prefixes:
            end = int(seconds * rate)
            if end >= stored.size:
                break
            if np.array_equal(clip_reference(stored[:end], rate), whole):
                return from_numpy(samples[:end], rate)
        return from_numpy(samples, rate)


def _as_stored(samples: np.ndarray, rate: int) -> np.ndarray:
    """The samples as the voice's 16-bit wav will decode (the codec's encoding, per sample)."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(samples, -1.0, 1.0), rate, format="WAV", subtype="PCM_16")
    buffer.seek(0)
    return sf.read(buffer, dtype="float32")[0]

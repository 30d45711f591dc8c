"""Uploads are stored as the model reads them: 24 kHz mono, cut to a prefix from which the
engine's reference clipping makes exactly what it made from the whole clip."""

from __future__ import annotations

import base64
import hashlib

import numpy as np
import pytest

from adapters.audio_arrays import from_numpy, to_numpy
from adapters.reference_prep import clip_reference
from adapters.soundfile_codec import SoundfileCodec
from adapters.voice_prep import ModelVoice
from domain.voice import VoiceInfo
from entrypoints.service import WorkerService
from tests.helpers import make_test_container, tone

CODEC = SoundfileCodec()


def bursts(seconds: float, rate: int, on: float, off: float, lead: float = 0.0) -> np.ndarray:
    """Speech-like: `on` seconds of sound, `off` of silence, after `lead` seconds of silence."""
    t = np.arange(int(seconds * rate)) / rate
    sound = tone(seconds, rate)
    period = on + off
    return np.where((t >= lead) & (((t - lead) % period) < on), sound, 0.0).astype(np.float32)


def model_input(samples: np.ndarray, rate: int) -> np.ndarray:
    """What the engine's reference preparation makes of a voice stored as a 16-bit wav."""
    stored = CODEC.decode(CODEC.encode(from_numpy(samples, rate), "wav"))
    return clip_reference(to_numpy(stored), stored.sample_rate)


@pytest.mark.parametrize(
    "clip",
    [
        bursts(60.0, 24000, on=2.5, off=1.2),  # cut at a long silence
        bursts(60.0, 24000, on=2.5, off=0.3),  # only short silences
        bursts(60.0, 24000, on=60.0, off=0.0),  # none: a hard cut at 12 s
        bursts(45.0, 24000, on=2.0, off=1.5, lead=9.0),  # a long silence first
    ],
    ids=["long silences", "short silences", "no silence", "leading silence"],
)
def test_a_24khz_voice_is_cut_to_what_the_model_reads_and_reads_the_same(clip):
    kept = ModelVoice()(from_numpy(clip, 24000))
    assert kept.sample_rate == 24000 and kept.duration <= 28.0
    assert np.array_equal(model_input(to_numpy(kept), 24000), model_input(clip, 24000))


def test_a_short_voice_is_kept_whole():
    clip = bursts(9.0, 24000, on=2.0, off=1.0)
    assert np.array_equal(to_numpy(ModelVoice()(from_numpy(clip, 24000))), clip)


def test_a_192khz_voice_is_stored_at_the_model_rate():
    kept = ModelVoice()(from_numpy(bursts(60.0, 192000, on=2.5, off=1.2), 192000))
    assert kept.sample_rate == 24000 and 12.0 <= kept.duration <= 20.0
    assert np.abs(to_numpy(kept)).max() <= 1.0


def test_an_upload_is_stored_at_24khz_and_at_most_the_seconds_the_model_reads():
    container = make_test_container()
    upload = WorkerService(container.app()).handle(
        {
            "endpoint": "upload",
            "voice_name": "long",
            "voice_file_base64": _b64_wav(bursts(60.0, 96000, on=2.5, off=1.2), 96000),
            "ref_text": " ".join(["some words spoken in the recorded voice here"] * 18),
        }
    )
    assert "error" not in upload, upload
    info = container.voices().info("long")
    assert info.sample_rate == 24000 and info.duration <= 20.0


def _b64_wav(samples: np.ndarray, rate: int) -> str:
    return base64.b64encode(CODEC.encode(from_numpy(samples, rate), "wav")).decode("ascii")


@pytest.mark.parametrize("rate", [24000, 192000])
def test_a_voice_stored_whole_before_is_held_as_the_model_reads_it(rate):
    """Voices uploaded before this change are stored at their own rate and length; decoded,
    they cost no more than a new upload, and a 24 kHz one reads exactly as before."""
    clip = bursts(60.0, rate, on=2.5, off=1.2)
    wav = CODEC.encode(from_numpy(clip, rate), "wav")
    info = VoiceInfo("old", said_for(60.0), 60.0, rate, hashlib.sha256(wav).hexdigest(), "2026-01-01T00:00:00+00:00")
    voices = make_test_container().voices()
    voices.save(info, wav)
    _, reference = voices.reference("old")
    assert reference.audio.sample_rate == 24000 and reference.audio.duration <= 20.0
    if rate == 24000:
        assert np.array_equal(clip_reference(to_numpy(reference.audio), rate), model_input(clip, rate))


def said_for(seconds: float) -> str:
    return " ".join(["some words spoken"] * int(seconds * 13 / 18))

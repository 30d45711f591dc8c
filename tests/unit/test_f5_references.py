"""The F5 engine's reference cache and preparation, without a checkpoint: a stand-in mel
spectrogram (the samples folded into frames) in place of the model's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adapters.audio_arrays import from_numpy, to_numpy
from adapters.f5.references import TARGET_RMS, PreparedReference, ReferenceCache, prepare_reference
from domain.errors import InvalidInput
from domain.synthesis import Reference
from tests.contracts.tts_engine import voiced_reference

HOP = 256


def folded_mel(audio: torch.Tensor) -> torch.Tensor:
    """(1, samples) -> (1, 4 channels, frames): each frame's samples summed, a shape like the model's."""
    frames = audio.shape[-1] // HOP
    return audio[:, : frames * HOP].reshape(1, frames, HOP).sum(-1, keepdim=True).expand(1, frames, 4).transpose(1, 2)


def prepared(reference: Reference, rate: int = 24000) -> PreparedReference:
    return prepare_reference(reference, folded_mel, rate, HOP, torch.device("cpu"), torch.bfloat16)


def counting_cache(size: int) -> tuple[ReferenceCache, list[str]]:
    prepared_keys: list[str] = []

    def prepare(reference: Reference) -> PreparedReference:
        prepared_keys.append(reference.key)
        return PreparedReference(mel=torch.zeros(1, 4), audio_frames=1, rms=0.2)

    return ReferenceCache(prepare, size), prepared_keys


def test_each_voice_is_prepared_once_while_it_is_cached() -> None:
    cache, prepared_keys = counting_cache(2)
    a, b = voiced_reference(key="a"), voiced_reference(key="b")
    assert cache.get(a) is cache.get(a) and cache.get(b) is cache.get(b)
    assert prepared_keys == ["a", "b"]


def test_the_voice_used_longest_ago_goes_first() -> None:
    cache, prepared_keys = counting_cache(2)
    a, b, c = (voiced_reference(key=key) for key in "abc")
    cache.get(a), cache.get(b), cache.get(a)  # b is now the oldest
    cache.get(c)
    cache.get(a)
    cache.get(b)
    assert prepared_keys == ["a", "b", "c", "b"]


def test_a_dropped_voice_is_prepared_again() -> None:
    cache, prepared_keys = counting_cache(4)
    cache.get(voiced_reference(key="warm-up"))
    cache.drop("warm-up")
    cache.drop("never-there")
    cache.get(voiced_reference(key="warm-up"))
    assert prepared_keys == ["warm-up", "warm-up"]


def test_the_mel_is_in_the_model_dtype_frames_first_and_counts_the_model_rate_samples() -> None:
    reference = voiced_reference(seconds=2.0, rate=48000)
    ref = prepared(reference)
    assert ref.mel.dtype == torch.bfloat16 and ref.mel.shape[1] == 4
    # resampled to 24 kHz, with 50 ms of silence added: about 2.05 s
    assert abs(ref.audio_frames - 2.05 * 24000 / HOP) <= 2 and ref.mel.shape[0] == ref.audio_frames


def test_a_quiet_voice_is_raised_to_the_target_loudness_and_remembers_its_own() -> None:
    loud = voiced_reference(seconds=1.0)
    quiet = Reference(key="quiet", audio=from_numpy(0.1 * to_numpy(loud.audio), 24000), text=loud.text)
    ref_loud, ref_quiet = prepared(loud), prepared(quiet)
    assert ref_quiet.rms < TARGET_RMS <= ref_loud.rms
    np.testing.assert_allclose(ref_quiet.rms, 0.1 * ref_loud.rms, rtol=0.05)
    # raised to TARGET_RMS before the mel: the quiet voice's mel is the loud one's, scaled
    scale = TARGET_RMS / ref_quiet.rms * 0.1
    np.testing.assert_allclose(ref_quiet.mel.float(), ref_loud.mel.float() * scale, rtol=0.05, atol=0.05)


def test_a_silent_voice_is_invalid_input() -> None:
    silent = Reference(key="silent", audio=from_numpy(np.zeros(24000, dtype=np.float32), 24000), text="Nothing.")
    with pytest.raises(InvalidInput, match="silent"):
        prepared(silent)

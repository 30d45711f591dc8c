"""Upstream's pydub silence rules, reimplemented over numpy: same clip points as pydub."""

from __future__ import annotations

import numpy as np
import pytest

from adapters import reference_prep as rp


def speech_like(rate: int, seconds: float, quiet: list[tuple[float, float]], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 150 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t))
    for start, end in quiet:
        x[int(start * rate) : int(end * rate)] = 0.0
    x += 0.0005 * rng.standard_normal(x.shape)
    return (np.round(x * 32767) / 32768).astype(np.float32)  # exactly representable as 16-bit


CASES = [
    (24000, 3.0, []),
    (24000, 20.0, [(0, 0.5), (5, 6.5), (9, 9.3), (13, 15)]),
    (44100, 15.0, [(3, 3.2), (7, 8.5), (14.5, 15)]),
    (16000, 30.0, [(2, 2.05)]),
]


@pytest.mark.parametrize(("rate", "seconds", "quiet"), CASES)
def test_reference_is_at_most_about_12_seconds(rate: int, seconds: float, quiet: list) -> None:
    out = rp.clip_reference(speech_like(rate, seconds, quiet), rate)
    assert out.shape[0] / rate <= 12.1
    assert np.all(out[-rp._tail_samples(rate) :] == 0)


@pytest.mark.parametrize(("rate", "seconds", "quiet"), CASES)
def test_matches_pydub_exactly(rate: int, seconds: float, quiet: list) -> None:
    pydub = pytest.importorskip("pydub")
    silence = pytest.importorskip("pydub.silence")
    x = speech_like(rate, seconds, quiet)
    seg = pydub.AudioSegment(
        np.round(x * 32768).astype(np.int16).tobytes(), frame_rate=rate, sample_width=2, channels=1
    )

    def upstream_join(segments):  # upstream's preprocess_ref_audio_text loop
        wave = pydub.AudioSegment.silent(duration=0)
        for s in segments:
            if len(wave) > 6000 and len(wave + s) > 12000:
                break
            wave += s
        return wave

    wave = upstream_join(
        silence.split_on_silence(seg, min_silence_len=1000, silence_thresh=-50, keep_silence=1000, seek_step=10)
    )
    if len(wave) > 12000:
        wave = upstream_join(
            silence.split_on_silence(seg, min_silence_len=100, silence_thresh=-40, keep_silence=1000, seek_step=10)
        )
    if len(wave) > 12000:
        wave = wave[:12000]
    start = silence.detect_leading_silence(wave, silence_threshold=-42)
    wave = wave[start:]
    end = silence.detect_leading_silence(wave.reverse(), silence_threshold=-42)
    if end > 0:
        wave = wave[: len(wave) - end]
    wave = wave + pydub.AudioSegment.silent(duration=50)
    expected = np.array(wave.get_array_of_samples(), dtype=np.float32) / 32768
    np.testing.assert_array_equal(rp.clip_reference(x, rate), expected)

    kept = silence.split_on_silence(seg, min_silence_len=1000, silence_thresh=-50, keep_silence=500, seek_step=10)
    joined = sum(kept, pydub.AudioSegment.silent(duration=0, frame_rate=rate))
    assert rp.remove_long_silences(x, rate).shape[0] == len(joined.get_array_of_samples())


def test_remove_long_silences_drops_a_long_gap_only() -> None:
    rate = 24000
    x = speech_like(rate, 6.0, [(2.0, 4.5)])
    out = rp.remove_long_silences(x, rate)
    assert x.shape[0] - out.shape[0] == pytest.approx(1.5 * rate, abs=0.02 * rate)
    short_gap = speech_like(rate, 3.0, [(1.0, 1.5)])
    assert rp.remove_long_silences(short_gap, rate).shape[0] == short_gap.shape[0]


def test_all_silence_gives_nothing() -> None:
    assert rp.remove_long_silences(np.zeros(48000, np.float32), 24000).size == 0

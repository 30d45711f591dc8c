import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.audio_arrays import from_numpy, to_numpy
from domain.audio import Audio, CrossFader


def cross_fade(parts: list[Audio], seconds: float) -> np.ndarray:
    """The whole waveform CrossFader makes of `parts`: every push, then the held tail."""
    fader = CrossFader(seconds, parts[0].sample_rate)
    return np.concatenate([to_numpy(fader.push(part)) for part in parts] + [to_numpy(fader.finish())])


def upstream_cross_fade(waves, seconds, rate):
    """The loop from f5_tts.infer.utils_infer.infer_batch_process, verbatim in numpy."""
    final = waves[0]
    for nxt in waves[1:]:
        n = min(int(seconds * rate), len(final), len(nxt))
        if n <= 0:
            final = np.concatenate([final, nxt])
            continue
        overlap = final[-n:] * np.linspace(1, 0, n) + nxt[:n] * np.linspace(0, 1, n)
        final = np.concatenate([final[:-n], overlap, nxt[n:]])
    return final


@pytest.mark.parametrize("seconds", [0.0, 0.15, 0.5])
def test_cross_fade_matches_upstream(seconds):
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(n).astype(np.float32) for n in (4000, 9000, 100, 7000)]
    ours = cross_fade([from_numpy(w, 24000) for w in waves], seconds)
    np.testing.assert_allclose(ours, upstream_cross_fade(waves, seconds, 24000), atol=1e-5)


def test_cross_fade_refuses_mixed_rates():
    with pytest.raises(ValueError):
        cross_fade([from_numpy(np.zeros(10, np.float32), 24000), from_numpy(np.zeros(10, np.float32), 16000)], 0.1)


@given(
    st.lists(st.integers(0, 3000), min_size=1, max_size=6),
    st.sampled_from([0.0, 0.01, 0.05, 0.15]),
)
def test_streamed_pieces_concatenate_to_the_joined_audio(lengths, seconds):
    rng = np.random.default_rng(len(lengths))
    parts = [from_numpy(rng.standard_normal(n).astype(np.float32), 16000) for n in lengths]
    fader = CrossFader(seconds, 16000)
    pieces = [to_numpy(fader.push(p)) for p in parts] + [to_numpy(fader.finish())]
    whole = np.concatenate(pieces)
    np.testing.assert_allclose(whole, upstream_cross_fade([to_numpy(p) for p in parts], seconds, 16000), atol=1e-5)


def test_samples_from_numpy_are_copied_once_and_kept_exactly():
    """A finished chunk's samples come from numpy this way: one copy (tobytes made two)."""
    import tracemalloc

    samples = np.random.default_rng(0).standard_normal(240_000).astype(np.float32)
    tracemalloc.start()
    try:
        audio = from_numpy(samples, 24000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * samples.nbytes  # before: twice
    assert to_numpy(audio).tobytes() == samples.tobytes()
    assert list(from_numpy(np.arange(5, dtype=np.float64)[::2], 8000).samples) == [0.0, 2.0, 4.0]

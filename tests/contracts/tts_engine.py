"""The one contract every TTS engine passes; subclass it with an `engine` fixture."""

from __future__ import annotations

import math

import numpy as np
import pytest

from adapters.audio_arrays import from_numpy, to_numpy
from domain.synthesis import HOP_LENGTH, Reference, SynthesisItem, SynthesisParams, generated_frames

REF_TEXT = "Some call me nature, others call me mother nature."


def voiced_reference(seconds: float = 3.0, rate: int = 24000, key: str = "ref-a") -> Reference:
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    wave = 0.3 * np.sin(2 * np.pi * 140 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return Reference(key=key, audio=from_numpy(wave.astype(np.float32), rate), text=REF_TEXT)


def item(text: str, seed: int = 7, reference: Reference | None = None, **params: object) -> SynthesisItem:
    return SynthesisItem(
        reference=reference or voiced_reference(),
        text=text,
        params=SynthesisParams(**params),  # type: ignore[arg-type]
        seed=seed,
    )


class TtsEngineContract:
    """Shape, rate, length rule, finiteness, determinism and batch independence."""

    #: how far a batched item may drift from the same item run alone (padding, kernels)
    batch_atol: float = 1e-4
    #: how far the length may drift from upstream's rule, as a fraction (reference prep)
    length_tolerance: float = 0.1

    @pytest.fixture
    def engine(self):  # pragma: no cover - subclasses provide it
        raise NotImplementedError

    def test_identity(self, engine) -> None:
        assert isinstance(engine.sample_rate, int) and engine.sample_rate > 0
        assert isinstance(engine.model_id, str) and engine.model_id

    def test_status_names_the_model_and_how_it_runs(self, engine) -> None:
        status = engine.status()
        assert status.model == engine.model_id
        assert all(isinstance(v, str) and v for v in (status.device, status.dtype, status.runner, status.compile))
        assert isinstance(status.graphs, int) and status.graphs >= 0
        assert status.compile in {"off", "on", "waiting", "compiling", "compiled", "failed"}

    def test_capacity_asks_for_at_least_one_item_and_one_job(self, engine) -> None:
        capacity = engine.capacity()
        assert capacity.batch_items >= 1 and capacity.jobs >= 1

    def test_warm_up_changes_no_audio(self, engine) -> None:
        spoken = item("Before and after the warm-up.", seed=5)
        before = to_numpy(engine.synthesize([spoken])[0])
        engine.warm_up(voiced_reference(key="ref-warm"))
        np.testing.assert_array_equal(to_numpy(engine.synthesize([spoken])[0]), before)

    def test_one_audio_per_item_at_engine_rate(self, engine) -> None:
        out = engine.synthesize([item("Hello there."), item("A second, longer chunk of text to speak.")])
        assert len(out) == 2
        for audio in out:
            assert audio.sample_rate == engine.sample_rate
            samples = to_numpy(audio)
            assert samples.size > 0
            assert np.isfinite(samples).all()
            assert float(np.abs(samples).max()) > 0.0

    def test_length_follows_upstream_rule(self, engine) -> None:
        ref = voiced_reference()
        for text, speed in [("The quick brown fox jumps over the lazy dog.", 1.0), ("Faster, please.", 2.0)]:
            audio = engine.synthesize([item(text, reference=ref, speed=speed)])[0]
            ref_frames = ref.audio.num_samples * engine.sample_rate // ref.audio.sample_rate // HOP_LENGTH
            expected = generated_frames(ref_frames, ref.text, text, speed) * HOP_LENGTH
            assert math.isclose(audio.num_samples, expected, rel_tol=self.length_tolerance, abs_tol=4 * HOP_LENGTH)

    def test_same_seed_same_audio_other_seed_other_audio(self, engine) -> None:
        first = to_numpy(engine.synthesize([item("Determinism matters.", seed=11)])[0])
        again = to_numpy(engine.synthesize([item("Determinism matters.", seed=11)])[0])
        other = to_numpy(engine.synthesize([item("Determinism matters.", seed=12)])[0])
        np.testing.assert_allclose(first, again, atol=1e-6)
        assert first.shape != other.shape or not np.allclose(first, other, atol=1e-4)

    def test_batched_items_equal_items_alone(self, engine) -> None:
        other_ref = voiced_reference(seconds=2.0, key="ref-b")
        items = [
            item("Short one.", seed=1),
            item("A noticeably longer sentence, so the batch needs padding.", seed=2),
            item("Another voice entirely.", seed=3, reference=other_ref, speed=1.3),
        ]
        batched = engine.synthesize(items)
        for single_item, together in zip(items, batched, strict=True):
            alone = to_numpy(engine.synthesize([single_item])[0])
            np.testing.assert_allclose(to_numpy(together), alone, atol=self.batch_atol)

    def test_urgent_items_sound_the_same(self, engine) -> None:
        chunk = item("Nobody hears anything until this arrives.", seed=5)
        urgent = to_numpy(engine.synthesize([chunk], urgent=True)[0])
        np.testing.assert_allclose(urgent, to_numpy(engine.synthesize([chunk])[0]), atol=1e-6)

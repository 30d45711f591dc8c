"""A deterministic stand-in for F5-TTS, for tests and offline trials (`TTS_ENGINE=fake`).

It follows upstream's length rule exactly, so durations, chunking and cross-fading are
exercised as with the real model, and it produces a voiced, non-silent signal that depends
only on the item (its text, reference and seed), as the real engine's must.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from adapters.audio_arrays import from_numpy
from domain.audio import Audio
from domain.errors import InvalidInput
from domain.synthesis import HOP_LENGTH, Reference, SynthesisItem, generated_frames
from ports.tts_engine import EngineCapacity, EngineStatus

KEPT_CALLS = 64  # `calls` keeps the latest this many (tests look at a few)
DEFAULT_BATCH_ITEMS = 16  # a batch for an engine that states no preference of its device


@dataclass
class FakeEngine:
    sample_rate: int = 24000
    model_id: str = "fake-engine-v1"
    calls: list[list[SynthesisItem]] = field(default_factory=list)  # the latest KEPT_CALLS
    urgent_calls: list[bool] = field(default_factory=list)  # each call's `urgent`, in order

    def status(self) -> EngineStatus:
        return EngineStatus(model=self.model_id, device="cpu", dtype="fp32", runner="fake", graphs=0, compile="off")

    def warm_up(self, reference: Reference | None = None) -> None:
        """Nothing to warm: it computes no model."""

    def capacity(self) -> EngineCapacity:
        """It states no preference of its device: the general default, one batch's worth of jobs."""
        return EngineCapacity(batch_items=DEFAULT_BATCH_ITEMS, jobs=DEFAULT_BATCH_ITEMS)

    def synthesize(self, items: Sequence[SynthesisItem], *, urgent: bool = False) -> list[Audio]:
        """Speaks the items one by one."""
        self.calls.append(list(items))
        self.urgent_calls.append(urgent)
        if len(self.calls) > KEPT_CALLS:  # a fake server runs for days: keep the recent ones only
            del self.calls[0], self.urgent_calls[0]
        return [self._one(item) for item in items]

    def _one(self, item: SynthesisItem) -> Audio:
        if not item.text.strip():
            raise InvalidInput("nothing to speak in an empty chunk")
        ref = item.reference.audio
        ref_frames = int(ref.num_samples * self.sample_rate / ref.sample_rate) // HOP_LENGTH
        frames = generated_frames(ref_frames, item.reference.text, item.text, item.params.speed)
        digest = hashlib.sha256(f"{item.seed}|{item.reference.key}|{item.text}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        t = np.arange(frames * HOP_LENGTH, dtype=np.float32) / self.sample_rate
        pitch = 110.0 + 110.0 * rng.random()
        tone = 0.3 * np.sin(2 * np.pi * pitch * t) + 0.1 * np.sin(2 * np.pi * 2 * pitch * t)
        noise = 0.02 * rng.standard_normal(t.shape[0]).astype(np.float32)
        return from_numpy((tone + noise).astype(np.float32), self.sample_rate)

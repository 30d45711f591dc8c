from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.audio import Audio
from domain.synthesis import SynthesisItem


class TtsEngine(Protocol):
    """A voice-cloning model that speaks text in the voice of a reference clip.

    Batch-first: one job's chunks, or chunks of several jobs, arrive as one call so the
    engine can run them together. Each item's audio depends only on that item (its seed
    included), never on what else shares the batch.
    """

    @property
    def sample_rate(self) -> int: ...

    @property
    def model_id(self) -> str:
        """Identity of the loaded checkpoint, for cache keys and logs."""
        ...

    def synthesize(self, items: Sequence[SynthesisItem]) -> list[Audio]:
        """One waveform per item, in order, at `sample_rate`.

        Raises EngineError when the model fails; InvalidInput when an item cannot be spoken
        (for example text with no speakable characters).
        """
        ...

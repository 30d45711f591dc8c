from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from domain.audio import Audio
from domain.synthesis import Reference, SynthesisItem


@dataclass(frozen=True)
class EngineStatus:
    """How the engine runs right now, for `health`: an operator's answer to "is this worker on
    the GPU, and at full speed yet?" without reading its log.

    `runner`: how the denoising loop runs (eager, cuda_graph; fake for the stand-in).
    `graphs`: CUDA graphs captured and held. `compile` (TTS_COMPILE): off, on, or a background
    compile's state: waiting (for the warm-up), compiling, compiled (the worker switched to the
    compiled blocks) or failed (it serves on as it was)."""

    model: str
    device: str
    dtype: str
    runner: str
    graphs: int
    compile: str


@dataclass(frozen=True)
class EngineCapacity:
    """What the engine runs best on its device: `batch_items` chunks in one call, `jobs`
    jobs held at once (application/concurrency.py turns it and the settings into the worker's
    BATCH_MAX_ITEMS and MAX_CONCURRENCY)."""

    batch_items: int
    jobs: int


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

    def status(self) -> EngineStatus:
        """How it runs now (see EngineStatus); cheap, and safe from any thread."""
        ...

    def warm_up(self, reference: Reference | None = None) -> None:
        """Run once before the first job, so it pays no first-call costs; `reference` is
        the default voice, whose features it may prepare on the way."""
        ...

    def capacity(self) -> EngineCapacity:
        """The batch it runs best and the jobs to hold (see EngineCapacity)."""
        ...

    def synthesize(self, items: Sequence[SynthesisItem], *, urgent: bool = False) -> list[Audio]:
        """One waveform per item, in order, at `sample_rate`.

        `urgent` says a listener is waiting on these items now (a stream's first chunk, or a
        later one while little audio is buffered): an engine that queues work runs them ahead
        of other work, joining work already running at its next step where it can, and
        their audio does not change for it.

        Raises EngineError when the model fails; InvalidInput when an item cannot be spoken
        (for example text with no speakable characters).
        """
        ...

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.word_timing import AlignmentItem, WordSpan


class Aligner(Protocol):
    """Forced alignment: where each known word is spoken in a clip.

    Batch-first, like the engine: the chunks of one job, or of several jobs, arrive as one
    call so a GPU model runs them together. Optional: a worker built without the aligner's
    weights says so through `available` and refuses `align`.
    """

    @property
    def available(self) -> bool:
        """Whether the weights are present; answering this never loads the model."""
        ...

    @property
    def detail(self) -> str:
        """What is (or is not) loaded, for health and doctor answers."""
        ...

    def warm_up(self) -> None:
        """Load the model now (the doctor command, benchmarks); jobs load it on first use.
        Raises InvalidInput when the worker was built without the weights."""
        ...

    def align(self, items: Sequence[AlignmentItem]) -> list[list[WordSpan]]:
        """For each item, one span per word in order: non-overlapping, each inside
        [0, item duration], in seconds from the item's start.

        Raises InvalidInput when the worker was built without the aligner's weights,
        EngineError when alignment itself fails.
        """
        ...

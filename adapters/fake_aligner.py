"""Aligner stand-in: spreads each clip's words over it in proportion to their length.

Deterministic and instant, for unit tests and `TTS_ENGINE=fake` workers; `available=False`
plays a worker built without aligner weights. It records every batch it was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.errors import InvalidInput
from domain.word_timing import AlignmentItem, WordSpan

GAP = 0.1  # of each word's share: the silence a speaker leaves between words


@dataclass
class FakeAligner:
    available: bool = True
    calls: list[list[AlignmentItem]] = field(default_factory=list)

    @property
    def detail(self) -> str:
        return "fake aligner" if self.available else "no aligner weights (fake)"

    def warm_up(self) -> None:
        """Nothing to load."""

    def align(self, items: Sequence[AlignmentItem]) -> list[list[WordSpan]]:
        if not self.available:
            raise InvalidInput("timestamps: this worker was built without the aligner's weights")
        self.calls.append(list(items))
        return [self._one(item) for item in items]

    @staticmethod
    def _one(item: AlignmentItem) -> list[WordSpan]:
        weights = [max(1, len(word)) for word in item.words]
        total = sum(weights)
        duration = item.audio.duration
        spans, start = [], 0.0
        for weight in weights:
            share = duration * weight / total
            spans.append(WordSpan(start + share * GAP / 2, start + share * (1 - GAP / 2)))
            start += share
        return spans

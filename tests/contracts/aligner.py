"""The one contract every aligner passes; subclass it with `aligner` and `missing` fixtures
(`missing`: the same kind of aligner on a worker built without its weights)."""

from __future__ import annotations

import pytest

from adapters.audio_arrays import from_numpy
from domain.errors import InvalidInput
from domain.word_timing import AlignmentItem
from tests.helpers import tone

WORDS = ("Hello,", "world!", "This", "is", "café", "你", "好", "$4.50")


def item(seconds: float, words: tuple[str, ...] = WORDS, rate: int = 24000) -> AlignmentItem:
    return AlignmentItem(from_numpy(tone(seconds, rate), rate), words)


class AlignerContract:
    @pytest.fixture
    def aligner(self):  # pragma: no cover - subclasses provide it
        raise NotImplementedError

    @pytest.fixture
    def missing(self):  # pragma: no cover - subclasses provide it
        raise NotImplementedError

    def test_one_span_per_word_in_order_inside_the_clip(self, aligner) -> None:
        items = [item(3.0), item(1.2, ("one", "two", "three")), item(2.0, ("好",), rate=16000)]
        answers = aligner.align(items)
        assert len(answers) == len(items)
        for clip, spans in zip(items, answers, strict=True):
            assert len(spans) == len(clip.words)
            previous = 0.0
            for span in spans:
                assert previous <= span.start <= span.end <= clip.audio.duration + 1e-9
                previous = span.end

    def test_a_batch_answers_what_each_item_answers_alone(self, aligner) -> None:
        items = [item(2.5), item(1.0, ("short", "one"))]
        together = aligner.align(items)
        alone = [aligner.align([clip])[0] for clip in items]
        for a, b in zip(together, alone, strict=True):
            assert [s.start for s in a] == pytest.approx([s.start for s in b], abs=0.021)
            assert [s.end for s in a] == pytest.approx([s.end for s in b], abs=0.021)

    def test_an_empty_batch_is_an_empty_answer(self, aligner) -> None:
        assert aligner.align([]) == []

    def test_a_clip_too_short_for_its_words_still_gets_one_span_each(self, aligner) -> None:
        words = tuple(f"word{n}" for n in range(40))
        spans = aligner.align([item(0.3, words)])[0]
        assert len(spans) == 40 and all(0 <= s.start <= s.end <= 0.3 + 1e-9 for s in spans)

    def test_warm_up_changes_no_answer(self, aligner) -> None:
        before = aligner.align([item(1.0)])
        aligner.warm_up()
        assert aligner.align([item(1.0)]) == before

    def test_available_reports_and_nothing_loads(self, aligner) -> None:
        assert aligner.available is True and isinstance(aligner.detail, str)

    def test_without_weights_timestamps_are_refused_as_invalid_input(self, missing) -> None:
        assert missing.available is False
        with pytest.raises(InvalidInput, match="built without"):
            missing.align([item(1.0)])

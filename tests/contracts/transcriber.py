"""The one contract every transcriber passes; subclass it with three fixtures: `transcriber`
(its recogniser hears `said` in any voiced clip), `said`, and `unavailable` (one whose
recogniser cannot be loaded)."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.audio_arrays import from_numpy, to_numpy
from domain.errors import InvalidInput
from tests.helpers import tone


class TranscriberContract:
    @pytest.fixture
    def transcriber(self):  # pragma: no cover - subclasses provide it
        raise NotImplementedError

    @pytest.fixture
    def said(self) -> str:  # pragma: no cover - subclasses provide it
        raise NotImplementedError

    @pytest.fixture
    def unavailable(self):  # pragma: no cover - subclasses provide it
        raise NotImplementedError

    def test_answers_the_words_it_heard_without_padding(self, transcriber, said) -> None:
        text = transcriber.transcribe(from_numpy(tone(1.5, 16000), 16000))
        assert text == said.strip() and text  # the stored ref_text is exactly this
        assert transcriber.transcribe(from_numpy(tone(1.5, 16000), 16000)) == text  # and again the same

    @pytest.mark.parametrize("rate", [8000, 22050, 24000, 44100])
    def test_any_rate_is_heard_and_the_audio_is_left_alone(self, transcriber, said, rate) -> None:
        audio = from_numpy(tone(1.5, rate), rate)
        before = np.array(to_numpy(audio), copy=True)
        assert transcriber.transcribe(audio) == said.strip()
        np.testing.assert_array_equal(to_numpy(audio), before)
        assert audio.sample_rate == rate

    def test_without_a_recogniser_it_asks_for_ref_text_every_time(self, unavailable) -> None:
        for _ in range(2):
            with pytest.raises(InvalidInput, match="send ref_text"):
                unavailable.transcribe(from_numpy(tone(1.5, 16000), 16000))

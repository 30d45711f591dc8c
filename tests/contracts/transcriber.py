"""The one contract every transcriber passes; subclass it with a `transcriber` fixture."""

from __future__ import annotations

import pytest

from adapters.audio_arrays import from_numpy
from domain.errors import InvalidInput
from tests.helpers import tone


class TranscriberContract:
    @pytest.fixture
    def transcriber(self):  # pragma: no cover - subclasses provide it
        raise NotImplementedError

    def test_text_or_a_request_for_ref_text(self, transcriber) -> None:
        """A recogniser answers text; one that cannot load says the client must send ref_text."""
        audio = from_numpy(tone(1.5, 16000), 16000)
        try:
            text = transcriber.transcribe(audio)
        except InvalidInput as exc:
            assert "ref_text" in str(exc)
        else:
            assert isinstance(text, str)

import pytest

from adapters.fake_transcriber import FakeTranscriber
from tests.contracts.transcriber import TranscriberContract


class TestFakeTranscriberContract(TranscriberContract):
    @pytest.fixture
    def said(self):
        return "Words the fake heard."

    @pytest.fixture
    def transcriber(self, said):
        return FakeTranscriber(text=said)

    @pytest.fixture
    def unavailable(self):
        return FakeTranscriber(unavailable="no recogniser in this test")

import pytest

from adapters.fake_transcriber import FakeTranscriber
from tests.contracts.transcriber import TranscriberContract


class TestFakeTranscriberContract(TranscriberContract):
    @pytest.fixture
    def transcriber(self):
        return FakeTranscriber()

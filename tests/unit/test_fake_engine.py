import pytest

from adapters.fake_engine import FakeEngine
from tests.contracts.tts_engine import TtsEngineContract, item


class TestFakeEngineContract(TtsEngineContract):
    batch_atol = 0.0
    length_tolerance = 0.0

    @pytest.fixture
    def engine(self):
        return FakeEngine()


def test_fake_engine_records_each_batch():
    engine = FakeEngine()
    engine.synthesize([item("one."), item("two.")])
    assert [len(batch) for batch in engine.calls] == [2]

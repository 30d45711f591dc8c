import pytest

from adapters.fake_engine import KEPT_CALLS, FakeEngine
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


def test_a_long_running_fake_keeps_only_its_latest_calls():
    """A `TTS_ENGINE=fake` server must not keep every request's items (and their references)."""
    engine = FakeEngine()
    for number in range(KEPT_CALLS + 30):
        engine.synthesize([item(f"call {number}.")], urgent=number % 2 == 1)
    assert len(engine.calls) == len(engine.urgent_calls) == KEPT_CALLS
    assert engine.calls[-1][0].text == f"call {KEPT_CALLS + 29}." and engine.urgent_calls[-1] is True

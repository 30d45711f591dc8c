import pytest

from adapters.fake_aligner import FakeAligner
from tests.contracts.aligner import AlignerContract


class TestFakeAlignerContract(AlignerContract):
    @pytest.fixture
    def aligner(self):
        return FakeAligner()

    @pytest.fixture
    def missing(self):
        return FakeAligner(available=False)

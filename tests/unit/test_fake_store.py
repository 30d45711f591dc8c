import pytest

from adapters.fake_store import FakeStore
from tests.contracts.blob_store import BlobStoreContract


class TestFakeStoreContract(BlobStoreContract):
    @pytest.fixture
    def store(self):
        return FakeStore()

import pytest

from adapters.fake_store import FakeStore
from tests.contracts.blob_store import BlobStoreContract


class TestFakeStoreContract(BlobStoreContract):
    @pytest.fixture
    def store(self):
        return FakeStore()


@pytest.mark.parametrize(
    ("failing", "expected"),
    [
        ("list", [("root", False)]),
        ("put", [("root", True), ("write", False)]),
        ("get", [("root", True), ("write", True), ("read", False)]),
        ("delete", [("root", True), ("write", True), ("read", True), ("delete", False)]),
    ],
)
def test_check_probes_through_the_operations_that_can_fail(failing, expected):
    store = FakeStore(failing={failing})
    results = store.check()
    assert [(r.name, r.ok) for r in results] == expected
    assert f"{failing} " in results[-1].detail and "(injected)" in results[-1].detail


def test_check_sees_a_store_that_returns_other_bytes():
    class Corrupting(FakeStore):
        def get(self, key: str) -> bytes:
            return super().get(key)[::-1]

    results = Corrupting().check()
    assert [(r.name, r.ok) for r in results][-1] == ("read", False)

import pytest
import structlog
from fsspec.implementations.memory import MemoryFileSystem

from tests.helpers import shut_down_test_containers


@pytest.fixture(autouse=True)
def _clean_memory_store():
    """memory:// is one process-wide dict; every test starts with it empty."""
    MemoryFileSystem.store.clear()
    MemoryFileSystem.pseudo_dirs.clear()
    MemoryFileSystem.pseudo_dirs.append("")
    yield


@pytest.fixture(autouse=True)
def _shut_down_containers():
    """Containers made by make_test_container release their resources (the batcher's thread)."""
    yield
    shut_down_test_containers()


@pytest.fixture(autouse=True)
def _default_logging():
    """A test that configures structlog binds it to its captured stream; undo that after."""
    yield
    structlog.reset_defaults()

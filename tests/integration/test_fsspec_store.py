import os

import pytest

from adapters.fsspec_store import FsspecStore
from domain.errors import StorageError
from tests.contracts.blob_store import BlobStoreContract


class TestMemoryStoreContract(BlobStoreContract):
    @pytest.fixture
    def store(self):
        return FsspecStore("memory://contract")


class TestFileStoreContract(BlobStoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        return FsspecStore(f"file://{tmp_path}/root")

    def test_its_local_root_is_its_folder(self, store, tmp_path) -> None:
        assert store.local_root == f"{tmp_path}/root"


def test_file_store_leaves_no_temp_file_when_a_write_fails(tmp_path, monkeypatch):
    store = FsspecStore(f"file://{tmp_path}")
    store.put("voices/a.wav", b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(StorageError, match=r"writing 'voices/a\.wav'"):
        store.put("voices/a.wav", b"new")
    assert sorted(p.name for p in (tmp_path / "voices").iterdir()) == ["a.wav"]
    assert store.get("voices/a.wav") == b"old"


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "voices/../../x", "voices//x", ""])
def test_unsafe_keys_are_refused(tmp_path, key):
    store = FsspecStore(f"file://{tmp_path}")
    with pytest.raises(StorageError, match="unsafe key"):
        store.put(key, b"x")


def test_relative_file_url_is_under_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = FsspecStore("file://./data")
    store.put("outputs/o.wav", b"x")
    assert (tmp_path / "data" / "outputs" / "o.wav").read_bytes() == b"x"
    assert store.url("outputs/o.wav", 60) == f"file://{tmp_path}/data/outputs/o.wav"


def test_credentials_in_the_url_never_reach_a_message():
    with pytest.raises(StorageError) as info:
        FsspecStore("nosuchscheme://user:secret@host/bucket")
    assert "secret" not in str(info.value)

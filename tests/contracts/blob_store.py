"""The one contract every blob store passes; subclass it with a `store` fixture."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

OLD, NEW = b"o" * (3 << 20), b"n" * (1 << 20)  # different sizes: a torn write shows as either mix or length


class BlobStoreContract:
    @pytest.fixture
    def store(self):  # pragma: no cover - subclasses provide it
        raise NotImplementedError

    def test_put_get_round_trip(self, store) -> None:
        store.put("voices/a.wav", b"\x00\x01binary")
        assert store.get("voices/a.wav") == b"\x00\x01binary"
        assert store.exists("voices/a.wav")

    def test_get_many_leaves_out_missing_keys(self, store) -> None:
        store.put("voices/a.json", b"a")
        store.put("voices/b.json", b"b")
        found = store.get_many(["voices/a.json", "voices/missing.json", "voices/b.json"])
        assert found == {"voices/a.json": b"a", "voices/b.json": b"b"}
        assert store.get_many([]) == {}

    def test_put_replaces_whole_object(self, store) -> None:
        store.put("outputs/x.wav", b"long old content")
        store.put("outputs/x.wav", b"new")
        assert store.get("outputs/x.wav") == b"new"

    def test_put_is_atomic_for_a_concurrent_reader(self, store) -> None:
        """While one thread overwrites an object again and again, another reading it sees the
        old bytes or the new ones, never a partial object, and lists no temporary key."""
        store.put("outputs/big.bin", OLD)
        writing = threading.Event()
        done = threading.Event()
        seen: list[object] = []

        def writer() -> None:
            try:
                writing.set()
                for i in range(12):
                    store.put("outputs/big.bin", NEW if i % 2 == 0 else OLD)
            finally:
                done.set()

        thread = threading.Thread(target=writer)
        thread.start()
        writing.wait()
        reads = 0
        while not done.is_set() or reads == 0:
            data = store.get("outputs/big.bin")
            seen.append(data in (OLD, NEW) or f"{len(data)} bytes")
            listed = list(store.list("outputs/"))
            seen.append(listed == ["outputs/big.bin"] or listed)
            reads += 1
        thread.join()
        assert all(result is True for result in seen), [r for r in seen if r is not True][:3]
        assert store.get("outputs/big.bin") == OLD

    def test_get_missing_is_key_error(self, store) -> None:
        with pytest.raises(KeyError):
            store.get("voices/missing.json")
        assert not store.exists("voices/missing.json")

    def test_list_by_prefix_sorted(self, store) -> None:
        for key in ("voices/b.json", "voices/a.json", "outputs/o.wav"):
            store.put(key, b"x")
        assert list(store.list("voices/")) == ["voices/a.json", "voices/b.json"]
        assert store.list("nothing/") == {}

    def test_list_versions_change_with_the_object(self, store) -> None:
        store.put("voices/a.json", b"first")
        before = store.list("voices/")["voices/a.json"]
        assert store.list("voices/")["voices/a.json"] == before
        store.put("voices/a.json", b"second, longer")
        assert store.list("voices/")["voices/a.json"] != before

    def test_delete_is_idempotent(self, store) -> None:
        store.put("voices/a.json", b"x")
        store.delete("voices/a.json")
        store.delete("voices/a.json")
        assert not store.exists("voices/a.json")
        assert store.list("voices/") == {}

    def test_url_names_the_object(self, store) -> None:
        store.put("outputs/o.wav", b"x")
        assert "outputs/o.wav" in store.url("outputs/o.wav", 60)

    def test_a_local_root_holds_the_objects_as_files(self, store) -> None:
        store.put("outputs/o.wav", b"x")
        root = store.local_root
        assert root is None or (Path(root) / "outputs" / "o.wav").read_bytes() == b"x"

    def test_check_reports_each_probe(self, store) -> None:
        store.put("voices/a.json", b"kept")
        results = store.check()
        assert [r.name for r in results][1:] == ["write", "read", "delete"]
        assert all(r.ok and r.seconds >= 0 for r in results)
        assert store.list("") == {"voices/a.json": store.list("voices/")["voices/a.json"]}  # the probe is gone
        assert store.get("voices/a.json") == b"kept"

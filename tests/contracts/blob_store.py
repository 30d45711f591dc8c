"""The one contract every blob store passes; subclass it with a `store` fixture."""

from __future__ import annotations

import pytest


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

    def test_check_reports_each_probe(self, store) -> None:
        results = store.check()
        assert [r.name for r in results][1:] == ["write", "read", "delete"]
        assert all(r.ok and r.seconds >= 0 for r in results)
        assert not [key for key in store.list("") if key.startswith(".probe/")]

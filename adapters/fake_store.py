"""In-memory blob store that records its objects and can be told to fail, for domain tests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from domain.errors import StorageError
from ports.blob_store import CheckResult, probe_store


@dataclass
class FakeStore:
    objects: dict[str, bytes] = field(default_factory=dict)
    #: operations ("put", "get", ...) that raise StorageError, to inject faults
    failing: set[str] = field(default_factory=set)

    @property
    def local_root(self) -> None:
        """In memory: no folder to sweep."""
        return None

    def _maybe_fail(self, operation: str, key: str) -> None:
        if operation in self.failing:
            raise StorageError(f"{operation} {key!r} failed (injected)")

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._maybe_fail("put", key)
        self.objects[key] = bytes(data)

    def get(self, key: str) -> bytes:
        self._maybe_fail("get", key)
        return self.objects[key]

    def get_many(self, keys: list[str]) -> dict[str, bytes]:
        self._maybe_fail("get", ",".join(keys))
        return {key: self.objects[key] for key in keys if key in self.objects}

    def exists(self, key: str) -> bool:
        self._maybe_fail("exists", key)
        return key in self.objects

    def list(self, prefix: str) -> dict[str, str]:
        self._maybe_fail("list", prefix)
        return {
            key: hashlib.md5(self.objects[key]).hexdigest() for key in sorted(self.objects) if key.startswith(prefix)
        }

    def delete(self, key: str) -> None:
        self._maybe_fail("delete", key)
        self.objects.pop(key, None)

    def url(self, key: str, expires: int) -> str:
        self._maybe_fail("url", key)
        return f"fake://{key}"

    def expiry_rule(self, prefix: str) -> str | None:
        raise StorageError("the in-memory store has no lifecycle rules")

    def check(self) -> list[CheckResult]:
        """The real store's probes, through this store's own operations (so injected faults
        show in the step they break), untimed."""
        return probe_store(self, ("root", lambda: self.list(".probe/")), clock=lambda: 0.0)

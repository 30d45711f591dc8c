from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CheckResult:
    """One line of a store health report."""

    name: str
    ok: bool
    seconds: float
    detail: str = ""


class BlobStore(Protocol):
    """Flat key/value object storage (a filesystem folder, memory, S3 or B2).

    Keys are `/`-separated relative paths chosen by the domain, never by a client. Every
    method raises StorageError on failure, with a message that names the operation and
    never a credential.
    """

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Write atomically: a reader sees the old object, or the whole new one."""
        ...

    def get(self, key: str) -> bytes:
        """Raises KeyError when there is no such object."""
        ...

    def get_many(self, keys: list[str]) -> dict[str, bytes]:
        """Several objects at once (concurrently where the backend can); missing keys are
        left out of the answer."""
        ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> dict[str, str]:
        """Every key under `prefix`, sorted, mapped to a version tag that changes whenever
        the object does (an ETag, or size and time), so callers can cache what they read."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; removing a missing object is not an error."""
        ...

    def url(self, key: str, expires: int) -> str:
        """Where a client can fetch the object (a file:// URL for local stores)."""
        ...

    @property
    def local_root(self) -> str | None:
        """The folder on this machine that holds the objects (a folder store, whose old
        outputs the worker sweeps itself); None where the store expires them by its own rule."""
        ...

    def check(self) -> list[CheckResult]:
        """Reachability and permissions, one result per probe."""
        ...

    def expiry_rule(self, prefix: str) -> str | None:
        """The lifecycle rule that expires every object under `prefix`, described; None when
        none does. Raises StorageError for a store that has no lifecycle rules (only S3 has)."""
        ...

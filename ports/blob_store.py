from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from domain.errors import StorageError


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
        """Reachability and permissions, one result per probe (see `probe_store`)."""
        ...

    def expiry_rule(self, prefix: str) -> str | None:
        """The lifecycle rule that expires every object under `prefix`, described; None when
        none does. Raises StorageError for a store that has no lifecycle rules (only S3 has)."""
        ...


def probe_store(
    store: BlobStore, root: tuple[str, Callable[[], object]], clock: Callable[[], float] = time.perf_counter
) -> list[CheckResult]:
    """The check every store runs: `root` (that the store is there), then a probe object
    written, read back and deleted through the store's own operations, each step timed,
    stopping at the first failure (later ones cannot pass)."""
    probe, data = f".probe/{uuid.uuid4().hex}", b"probe"

    def read_back() -> None:
        if store.get(probe) != data:
            raise StorageError("read back different bytes")

    steps = [
        root,
        ("write", lambda: store.put(probe, data)),
        ("read", read_back),
        ("delete", lambda: store.delete(probe)),
    ]
    results: list[CheckResult] = []
    for name, step in steps:
        start = clock()
        try:
            step()
        except (StorageError, KeyError) as exc:
            results.append(CheckResult(name, False, clock() - start, str(exc)))
            break
        results.append(CheckResult(name, True, clock() - start))
    return results

from __future__ import annotations

from typing import Protocol


class ContentCache(Protocol):
    """Bytes addressed by their sha256 on the worker's own disk.

    Content addressing means an entry is never stale: a replaced voice has a new digest.
    Implementations bound their size and may forget anything at any time.
    """

    def get(self, digest: str) -> bytes | None:
        """The bytes whose sha256 is `digest`, or None when not (or no longer) cached."""
        ...

    def put(self, digest: str, data: bytes) -> None:
        """Remember `data`; failures to cache are swallowed, caching is best effort."""
        ...

from __future__ import annotations

from typing import Protocol


class AudioFetcher(Protocol):
    """Downloads a voice a client points at, safely."""

    def fetch(self, url: str) -> bytes:
        """The body at `url`.

        Raises DownloadFailed for a refused URL (scheme, private address, too large) or a
        failed transfer; the message says which.
        """
        ...

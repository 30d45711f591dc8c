"""Fetcher stand-in: serves bytes from a dict and records every URL asked for."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.errors import DownloadFailed


@dataclass
class FakeFetcher:
    files: dict[str, bytes] = field(default_factory=dict)
    max_bytes: int = 50 * 1024 * 1024
    calls: list[str] = field(default_factory=list)

    def fetch(self, url: str) -> bytes:
        self.calls.append(url)
        if not url.startswith(("http://", "https://")):
            raise DownloadFailed("refused to fetch the voice URL: only http and https are allowed")
        if url not in self.files:
            raise DownloadFailed("the voice URL answered HTTP 404")
        if len(self.files[url]) > self.max_bytes:
            raise DownloadFailed(f"the voice file is larger than {self.max_bytes} bytes")
        return self.files[url]

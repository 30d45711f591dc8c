"""A size-bounded, content-addressed cache of voice audio on local disk.

A warm worker then fetches each reference from S3/B2 once, even after the in-memory LRU
has forgotten it. Least recently used files are evicted first (a read refreshes mtime).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from pathlib import Path

_DIGEST = re.compile(r"[0-9a-f]{64}")


class DiskCache:
    def __init__(self, directory: str | os.PathLike[str], max_bytes: int) -> None:
        self._dir = Path(directory)
        self._max_bytes = max_bytes
        self._lock = threading.Lock()

    def _path(self, digest: str) -> Path | None:
        return self._dir / digest if _DIGEST.fullmatch(digest) else None

    def get(self, digest: str) -> bytes | None:
        path = self._path(digest)
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != digest:
            path.unlink(missing_ok=True)
            return None
        os.utime(path)
        return data

    def put(self, digest: str, data: bytes) -> None:
        path = self._path(digest)
        if path is None or len(data) > self._max_bytes or hashlib.sha256(data).hexdigest() != digest:
            return
        tmp: str | None = None
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
            tmp = None
            self._evict()
        except OSError:
            return
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)

    def _evict(self) -> None:
        with self._lock:
            entries = []
            for entry in self._dir.iterdir():
                if _DIGEST.fullmatch(entry.name):
                    stat = entry.stat()
                    entries.append((stat.st_mtime, stat.st_size, entry))
            total = sum(size for _, size, _ in entries)
            for _, size, entry in sorted(entries):
                if total <= self._max_bytes:
                    break
                entry.unlink(missing_ok=True)
                total -= size

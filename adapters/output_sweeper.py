"""Removes old answers from a folder store: `outputs/` files older than OUTPUT_RETENTION.

A folder store has no lifecycle rules (S3 and B2 do: see the README), so without this
`outputs/` grows by every `return: url` job (2 GB after about 15 long local jobs). The
sweep runs at most once per `every` seconds (the first `every` seconds after start), on
its own thread, started after a job publishes an output: never on the request path,
never a scheduler to keep alive. It looks
only at regular files directly inside `<root>/outputs`, so it cannot touch `voices/` or
anything a symlink points at.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable

OUTPUTS = "outputs"


class FolderOutputSweeper:
    def __init__(
        self,
        root: str,
        retention: float,
        every: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._outputs = os.path.join(root, OUTPUTS)
        self._retention = retention
        self._every = every if every is not None else min(max(retention / 10, 60.0), 3600.0)
        self._clock = clock
        self._lock = threading.Lock()
        self._last = clock()
        self._running = False

    def __call__(self) -> threading.Thread | None:
        """Start a sweep in the background unless one ran within `every` seconds or is running."""
        with self._lock:
            now = self._clock()
            if self._running or now - self._last < self._every:
                return None
            self._last, self._running = now, True
        thread = threading.Thread(target=self._sweep_and_release, name="output-sweep", daemon=True)
        thread.start()
        return thread

    def _sweep_and_release(self) -> None:
        try:
            self.sweep()
        finally:
            with self._lock:
                self._running = False

    def sweep(self) -> int:
        """Remove outputs older than the retention; the number removed."""
        cutoff = self._clock() - self._retention
        removed = 0
        try:
            entries = list(os.scandir(self._outputs))
        except FileNotFoundError:
            return 0
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):
                if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
        return removed

"""Per-stage wall time: of a job, for the one log event each job emits, and of the worker's
start-up, for its `worker_ready` event."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class StageTimer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def record(self, name: str, seconds: float) -> None:
        """A stage timed elsewhere, e.g. before this timer existed (a process's imports)."""
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def rounded(self, ndigits: int = 3) -> dict[str, float]:
        return {name: round(value, ndigits) for name, value in self.seconds.items()}

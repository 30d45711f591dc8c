"""How much the worker runs at once: the one place that turns the settings and the engine's
capacity into MAX_CONCURRENCY (jobs taken at once) and BATCH_MAX_ITEMS (chunks per batch)."""

from __future__ import annotations

from dataclasses import dataclass

from ports.tts_engine import EngineCapacity
from settings import Settings


@dataclass(frozen=True)
class Concurrency:
    jobs: int
    batch_items: int


def concurrency(settings: Settings, capacity: EngineCapacity | None) -> Concurrency:
    """A batch holds BATCH_MAX_ITEMS chunks, else what the engine runs best at once on its
    device. The worker takes MAX_CONCURRENCY jobs; else BATCH_MAX_ITEMS (jobs that fill one
    batch); else what the engine prefers (one full batch on a GPU; on a CPU, which runs them
    one by one, a few, so a stream can go ahead). A worker that failed to start (no
    capacity) takes one job at a time: it only answers with the reason."""
    if capacity is None:
        return Concurrency(jobs=settings.max_concurrency or settings.batch_max_items or 1, batch_items=1)
    batch_items = settings.batch_max_items or capacity.batch_items
    jobs = settings.max_concurrency or settings.batch_max_items or capacity.jobs
    return Concurrency(jobs=jobs, batch_items=batch_items)

"""Stage times of one engine batch, on the clock of the device that does the work.

A GPU runs behind the host: the host's clock between two stages measures how long it took
to queue the work, not to do it. Synchronising at each boundary would fix that and cost the
overlap (the host could queue the vocoder while the device still integrates). CUDA events
are timestamped by the device as it reaches them, so the marks cost nothing, and they are
read once the batch's results are on the host anyway. On a CPU the host clock is the device's.
"""

from __future__ import annotations

import itertools
import time

import torch


class StageMarks:
    """`mark()` at each boundary; `seconds()` afterwards: the time between consecutive marks."""

    def __init__(self, device: torch.device) -> None:
        self._cuda = device.type == "cuda"
        self._events: list[torch.cuda.Event] = []
        self._times: list[float] = []

    def mark(self) -> None:
        if self._cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self._events.append(event)
        else:
            self._times.append(time.perf_counter())

    def seconds(self) -> list[float]:
        """Waits for the last mark on a GPU (the batch is on the host by then: no wait)."""
        if not self._cuda:
            return [b - a for a, b in itertools.pairwise(self._times)]
        if self._events:
            self._events[-1].synchronize()
        return [a.elapsed_time(b) / 1000 for a, b in itertools.pairwise(self._events)]

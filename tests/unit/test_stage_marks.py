"""Stage times between marks (the CPU clock here; CUDA events on a GPU, checked on the device
through the engine's f5_batch events)."""

from __future__ import annotations

import pytest
import torch

from adapters.f5 import stage_marks
from adapters.f5.stage_marks import StageMarks


def test_seconds_between_consecutive_marks(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([10.0, 10.5, 12.0, 12.25])
    monkeypatch.setattr(stage_marks.time, "perf_counter", lambda: next(clock))
    marks = StageMarks(torch.device("cpu"))
    for _ in range(4):
        marks.mark()
    assert marks.seconds() == [0.5, 1.5, 0.25]


def test_no_marks_no_stages() -> None:
    assert StageMarks(torch.device("cpu")).seconds() == []

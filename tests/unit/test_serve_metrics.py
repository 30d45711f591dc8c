"""The serve benchmark's engine-use figures from the worker's log events (the columns the next
GPU run is read by: calls, chunks per call, ODE runs per call, busy, ODE, assembly and vocoder shares),
and the wait for a background compile before the measured levels."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks.serve import background_compile_outcome, capture_summary, engine_use, wait_for_background_compile

EVENTS = {
    "engine_batch": [
        {"items": 6, "seconds": 1.5, "urgent": False},
        {"items": 1, "seconds": 0.25, "urgent": True},  # run inside the first: its own seconds
        {"items": 3, "seconds": 1.0, "urgent": False},
    ],
    "f5_batch": [
        {"ode_seconds": 1.0, "assemble_seconds": 0.125, "decode_seconds": 0.25},
        {"ode_seconds": 0.25, "assemble_seconds": 0.0, "decode_seconds": 0.0},
        {"ode_seconds": 0.2, "assemble_seconds": 0.05, "decode_seconds": 0.05},
        {"ode_seconds": 0.55, "assemble_seconds": 0.1, "decode_seconds": 0.25},
    ],
}


class LoggedWorker:
    def __init__(self, events: dict[str, list[dict]]) -> None:
        self._events = events
        self.log_path = Path("worker.log")
        self.asked: list[tuple[str, int]] = []

    def events(self, name: str, since: int = 0) -> list[dict]:
        self.asked.append((name, since))
        return self._events.get(name, [])


def test_engine_use_sums_the_calls_against_the_wall_time() -> None:
    worker = LoggedWorker(EVENTS)
    use = engine_use(worker, since=42, wall=5.5)  # type: ignore[arg-type]
    assert use["calls"] == 3
    assert math.isclose(use["items_per_call"], 10 / 3)
    assert math.isclose(use["runs_per_call"], 4 / 3)
    assert math.isclose(use["busy"], 2.75 / 5.5)
    assert math.isclose(use["ode"], 2.0 / 5.5)
    assert math.isclose(use["assemble"], 0.275 / 5.5) and math.isclose(use["decode"], 0.55 / 5.5)
    assert {since for _, since in worker.asked} == {42}  # only this level's events


def test_a_level_without_engine_calls_has_no_shares_to_speak_of() -> None:
    use = engine_use(LoggedWorker({}), since=0, wall=1.0)  # type: ignore[arg-type]
    assert use["calls"] == 0 and math.isnan(use["items_per_call"]) and math.isnan(use["runs_per_call"])
    assert use["busy"] == use["ode"] == use["assemble"] == use["decode"] == 0.0


def test_a_worker_without_a_background_compile_is_not_waited_for() -> None:
    worker = LoggedWorker(EVENTS)
    wait_for_background_compile(worker, timeout=0.01)  # type: ignore[arg-type]
    assert background_compile_outcome(worker) == ""  # type: ignore[arg-type]
    assert capture_summary(worker).startswith("0 graph captures")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("end", "said"),
    [
        ({"f5_compiled": [{"seconds": 12.345}]}, "compiled in the background in 12.35 s"),
        ({"f5_compile_failed": [{"error": "RuntimeError"}]}, "background compile failed (RuntimeError)"),
    ],
)
def test_the_levels_wait_for_the_background_compile_to_end(end: dict, said: str) -> None:
    worker = LoggedWorker({"f5_compile_started": [{}], "f5_graph_captured": [{"seconds": 0.5}]})
    with pytest.raises(SystemExit, match="background compile took over"):
        wait_for_background_compile(worker, timeout=0.01)  # type: ignore[arg-type]
    worker._events.update(end)
    wait_for_background_compile(worker, timeout=0.01)  # type: ignore[arg-type]
    assert said in capture_summary(worker)  # type: ignore[arg-type]

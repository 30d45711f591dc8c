"""The serve benchmark's engine-use figures from the worker's log events (the columns the next
GPU run is read by: calls, chunks per call, ODE runs per call, busy, ODE, assembly and vocoder shares),
the wait for a background compile before the measured levels, and a failing variant left out
without costing the other sides' figures."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.common import SideFailed
from benchmarks.serve import (
    Sides,
    background_compile_outcome,
    capture_summary,
    engine_use,
    interleave,
    print_table,
    wait_for_background_compile,
)
from tests.e2e.worker import Worker

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
    def __init__(self, events: dict[str, list[dict]], alive: bool = True) -> None:
        self._events = events
        self._alive = alive
        self.log_path = Path("worker.log")
        self.asked: list[tuple[str, int]] = []

    def alive(self) -> bool:
        return self._alive

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
    with pytest.raises(SideFailed, match="background compile took over"):
        wait_for_background_compile(worker, timeout=0.01)  # type: ignore[arg-type]
    worker._events.update(end)
    wait_for_background_compile(worker, timeout=0.01)  # type: ignore[arg-type]
    assert said in capture_summary(worker)  # type: ignore[arg-type]


def test_a_worker_that_dies_during_its_background_compile_is_not_waited_for() -> None:
    worker = LoggedWorker({"f5_compile_started": [{}]}, alive=False)
    with pytest.raises(SideFailed, match="exited during its background compile"):
        wait_for_background_compile(worker, timeout=60)  # type: ignore[arg-type]


def test_worker_alive_follows_the_process_until_it_exits() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    worker = Worker("http://127.0.0.1:1", Path("unused.log"), process.pid)
    try:
        assert worker.alive()
        process.kill()
        for _ in range(200):  # killed, not yet reaped: a zombie is not alive
            if not worker.alive():
                break
            time.sleep(0.01)
        assert not worker.alive()
    finally:
        process.kill()
        process.wait()
    assert not worker.alive()


def row(audio_per_wall: float, clients: int) -> dict:
    nan = float("nan")
    return {
        "audio_per_wall": audio_per_wall,
        "clients": clients,
        "requests": clients,
        "rps": 1.0,
        "p50": 1.0,
        "p95": 1.0,
        "paragraph": 1.0,
        "ttfc": 0.1,
        "margin": 1.0,
        "calls": 1,
        "items_per_call": 1.0,
        "runs_per_call": 1.0,
        "busy": nan,
        "ode": nan,
        "assemble": nan,
        "decode": nan,
        "peak_rss_mib": 100.0,
    }


def test_a_variant_that_fails_is_left_out_and_the_others_keep_every_level(capsys: pytest.CaptureFixture) -> None:
    speed = {"upstream": 1.0, "worker": 3.0, "compiled": 6.0, "background": 5.0}
    asked: list[tuple[str, int]] = []

    def level(side: str, clients: int) -> dict:
        asked.append((side, clients))
        if side == "compiled" and clients == 8:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return row(speed[side], clients)

    sides = Sides(["compiled", "background"])
    interleave(sides, [1, 8, 16], repeats=2, level=level)
    out = capsys.readouterr().out
    assert "variant compiled failed at 8 clients, left out: RuntimeError: CUDA error" in out
    assert list(sides.rows) == ["upstream", "worker", "background"]
    for side in sides.rows:
        assert sorted((r["repeat"], r["clients"]) for r in sides.rows[side]) == [
            (repeat, clients) for repeat in (0, 1) for clients in (1, 8, 16)
        ]
    assert ("compiled", 16) not in asked  # not asked again once left out
    print_table(16, sides.rows, [1, 8, 16])
    table = capsys.readouterr().out
    assert "throughput_vs_upstream_c8: 3.00" in table and "throughput_vs_upstream_c8[background]: 5.00" in table
    assert "compiled" not in table


@pytest.mark.parametrize("side", ["upstream", "worker"])
def test_upstream_or_the_default_worker_failing_ends_the_run(side: str) -> None:
    def level(failing: str, clients: int) -> dict:
        if failing == side:
            raise ConnectionError("worker gone")
        return row(1.0, clients)

    with pytest.raises(ConnectionError, match="worker gone"):
        interleave(Sides(["compiled"]), [1], repeats=1, level=level)

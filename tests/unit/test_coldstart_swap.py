"""benchmarks/coldstart.py under `--compile background` (it runs on a GPU machine only): after
the two jobs, it waits for the log to say how the compile ended, then times two more jobs."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from benchmarks.coldstart import _after_the_swap
from tests.e2e.worker import Worker
from tests.runpod_queue import Event


class InstantQueue:
    """Takes and answers every job at once, as a worker that is never busy would."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.submitted: list[str] = []

    def submit(self, job_input: dict) -> str:
        job = f"job-{len(self.submitted)}"
        self.submitted.append(job)
        self.events += [Event("take", job), Event("done", job, {"output": {}})]
        return job

    def wait_for(self, predicate, timeout: float = 120) -> list[Event]:
        assert predicate(self.events)
        return self.events

    def wait_done(self, *job_ids: str, timeout: float = 120) -> dict:
        return {job_id: {"output": {}} for job_id in job_ids}


#: the stand-in worker's process: this one, alive throughout (the wait gives up on a dead worker)
LIVE_PID = os.getpid()


def log_line(event: str, **fields: object) -> str:
    return json.dumps({"event": event, **fields}) + "\n"


def test_the_jobs_after_the_swap_are_sent_once_the_compile_has_ended(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_text(log_line("f5_compile_started"))
    queue = InstantQueue()
    started = time.perf_counter()
    sent_while_compiling: list[list[str]] = []

    def finish() -> None:
        time.sleep(0.3)
        sent_while_compiling.append(list(queue.submitted))
        with log.open("a") as out:
            out.write("INFO   | job-x | Finished running generator." + log_line("f5_compiled", seconds=9.5))

    writer = threading.Thread(target=finish)
    writer.start()
    got = _after_the_swap(queue, Worker("", log, LIVE_PID), started)
    writer.join()
    assert sent_while_compiling == [[]]
    assert got.pop("compile") == "compiled in the background in 9.50 s"
    assert got.pop("process start -> compiled runner (s)") >= 0.3
    assert queue.submitted == ["job-0", "job-1"]
    assert set(got) == {"first job after the swap (s)", "the next one (s)"} and min(got.values()) >= 0


def test_a_failed_compile_ends_the_wait_too(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_text(log_line("f5_compile_started") + log_line("f5_compile_failed", error="RuntimeError"))
    got = _after_the_swap(InstantQueue(), Worker("", log, LIVE_PID), time.perf_counter())
    assert got["compile"] == "background compile failed (RuntimeError); served without it"

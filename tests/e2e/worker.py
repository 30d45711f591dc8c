"""The worker launcher the e2e tests import; it lives in `harness.processes`, shared with the benchmarks."""

from harness.processes import (
    ROOT,
    Process,
    Worker,
    free_port,
    launched,
    log_events,
    running_worker,
    serving_process,
    stop,
)

__all__ = [
    "ROOT",
    "Process",
    "Worker",
    "free_port",
    "launched",
    "log_events",
    "running_worker",
    "serving_process",
    "stop",
]

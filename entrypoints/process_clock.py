"""When this process started, on the `time.perf_counter()` clock.

The worker's `ready_seconds` is meant to count what a user waiting on a cold start waits
for: from the moment the container runs the image's command, Python's own start-up and
every import included. Code can only start a clock once it runs, so the process's start
is read back from the kernel (`/proc/self/stat`, field 22: start time in clock ticks since
boot, 10 ms resolution) and placed on the perf_counter clock. Where /proc is absent (not
Linux) the clock starts when the project's code first ran, and says so.
"""

from __future__ import annotations

import os
import time

from entrypoints import CODE_STARTED


def _age_from_proc() -> float | None:
    """Seconds since this process was created, or None where the kernel does not say."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            stat = fh.read()
        # the command name (field 2) is in parentheses and may hold spaces: split after it
        start_ticks = int(stat.rpartition(")")[2].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def process_started() -> tuple[float, str]:
    """The process's start on the perf_counter clock, and where that figure comes from."""
    now = time.perf_counter()
    age = _age_from_proc()
    if age is None or age < 0:
        return CODE_STARTED, "first project code (no /proc)"
    return now - age, "process start (/proc/self/stat)"

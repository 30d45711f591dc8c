"""Importing runpod without its processor probe.

runpod's `rp_debugger` calls py-cpuinfo's `get_cpu_info()` at import time for one debug
string (the processor's name). That call starts a second Python interpreter to probe the
CPU: 1.1 s of a 2-core worker's start, measured, for a name /proc/cpuinfo states directly.
While runpod is imported the probe is replaced by that read; the real function is put back
afterwards, so anyone else who calls py-cpuinfo gets the real one.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path


def processor_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    with contextlib.suppress(OSError):
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return "unknown"


def import_runpod() -> None:
    """Import runpod with py-cpuinfo's probe stood in for (see the module's docstring)."""
    import cpuinfo

    probe = cpuinfo.get_cpu_info
    cpuinfo.get_cpu_info = lambda: {"brand_raw": processor_name()}
    try:
        import runpod  # noqa: F401
    finally:
        cpuinfo.get_cpu_info = probe


def import_runpod_in_background() -> threading.Thread:
    """Start `import_runpod` in a daemon thread; `join()` it before using runpod. An import
    that fails there fails again, with its traceback, where runpod is used."""

    def run() -> None:
        with contextlib.suppress(Exception):  # re-raised by the main thread's own import
            import_runpod()

    thread = threading.Thread(target=run, name="import-runpod", daemon=True)
    thread.start()
    return thread

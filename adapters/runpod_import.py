"""Importing runpod without its processor probe.

runpod's `rp_debugger` calls py-cpuinfo's `get_cpu_info()` at import time for one debug
string (the processor's name). That call starts a second Python interpreter to probe the
CPU: 1.1 s of a 2-core worker's start, measured, for a name /proc/cpuinfo states directly.
While runpod is imported the probe is replaced by that read; the real function is put back
afterwards, so anyone else who calls py-cpuinfo gets the real one.

Every process of the worker imports runpod through here: the voice fetcher's SSRF guard
(adapters/http_fetcher.py, at a process's first URL download) and the RunPod entrypoint
(through the container, which alone names adapters). Whichever imports runpod first decides,
so a plain `import runpod` before these brings the probe back (tests/unit/test_runpod_import.py;
tests/conftest.py fails a test process that does).
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from types import ModuleType

from adapters.f5.precision import processor_name

# The stand-in is swapped in and out around one import at a time: two threads importing
# at once (the worker's background import, the fetcher's) would otherwise put back each
# other's stand-in instead of the probe.
_SWAP = threading.Lock()


def import_runpod(module: str = "runpod") -> ModuleType:
    """`module` (runpod or one of its modules), imported with py-cpuinfo's probe stood in for."""
    import cpuinfo

    with _SWAP:
        probe = cpuinfo.get_cpu_info
        cpuinfo.get_cpu_info = lambda: {"brand_raw": processor_name()}
        try:
            return importlib.import_module(module)
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

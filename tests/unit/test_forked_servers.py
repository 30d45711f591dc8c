"""A server forked from the tests' zygote runs as `python -m module` would in a fresh process:
its own environment, directory, sys.path, argv and output, its exit status, its threads and
atexit handlers finished; what only a fresh process can honour is exec'd instead."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import forked
from harness.processes import launched

PROBE = textwrap.dedent(
    """
    import atexit, json, os, sys, threading, time

    def report():
        print(json.dumps({"cwd": os.getcwd(), "path": sys.path[:3], "argv": sys.argv, "name": __name__,
                          "env": os.environ.get("PROBE"), "zygote_only": os.environ.get("ZYGOTE_ONLY"),
                          "project": sorted(m for m in sys.modules if m.split(".")[0] in ("entrypoints", "runpod"))}))

    mode = sys.argv[1]
    if mode == "report":
        report()
    elif mode == "exit":
        sys.exit(int(sys.argv[2]))
    elif mode == "message":
        sys.exit("gone for a reason")
    elif mode == "raise":
        raise ValueError("the probe failed")
    elif mode == "finish":
        atexit.register(lambda: print("atexit ran", flush=True))
        threading.Thread(target=lambda: (time.sleep(0.3), print("thread finished", file=sys.stderr))).start()
        print("buffered until exit")
    elif mode == "wait":
        print("waiting", flush=True)
        time.sleep(60)
    """
)


@pytest.fixture(scope="module")
def zygote() -> Iterator[forked.Zygote]:
    """A zygote of this module's own, started from the environment its tests fork with."""
    started = forked.Zygote("light")
    yield started
    started.close()


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    (tmp_path / "probe_module.py").write_text(PROBE)
    return tmp_path


def start(zygote: forked.Zygote, cwd: Path, *args: str, env: dict[str, str] | None = None) -> forked.ForkedProcess:
    log = cwd / "probe.log"
    log.write_bytes(b"")
    return zygote.fork([sys.executable, "-m", "probe_module", *args], {**os.environ, **(env or {})}, cwd, log)


def run(zygote: forked.Zygote, cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = start(zygote, cwd, *args, env=env)
    status = process.wait(timeout=30)
    assert process.poll() == process.returncode == status
    return status, (cwd / "probe.log").read_text()


def test_the_child_has_its_own_environment_directory_path_and_argv(zygote, probe, monkeypatch):
    monkeypatch.setenv("ZYGOTE_ONLY", "1")  # in this process's environment, not the child's
    env = {key: value for key, value in os.environ.items() if key != "ZYGOTE_ONLY"}
    extra = str(probe / "extra")
    log = probe / "probe.log"
    log.write_bytes(b"")
    process = zygote.fork(
        [sys.executable, "-m", "probe_module", "report"], env | {"PROBE": "mine", "PYTHONPATH": extra}, probe, log
    )
    assert process.wait(timeout=30) == 0
    seen = json.loads(log.read_text())
    assert seen["cwd"] == str(probe) and seen["path"][:2] == [str(probe), extra]
    assert seen["argv"] == [str(probe / "probe_module.py"), "report"] and seen["name"] == "__main__"
    assert seen["env"] == "mine" and seen["zygote_only"] is None
    assert seen["project"] == []  # nothing of the worker (nor runpod) imported before the fork


@pytest.mark.parametrize(("args", "status", "logged"), [
    (("exit", "3"), 3, ""),
    (("message",), 1, "gone for a reason\n"),
    (("raise",), 1, "ValueError: the probe failed"),
])  # fmt: skip
def test_the_exit_status_is_the_modules(zygote, probe, args, status, logged):
    got, log = run(zygote, probe, *args)
    assert got == status and logged in log


def test_threads_and_atexit_finish_and_buffered_output_is_flushed(zygote, probe):
    """stderr is written through, stdout (to a file) held until atexit's print flushes it."""
    status, log = run(zygote, probe, "finish", env={"PYTHONUNBUFFERED": ""})
    assert status == 0
    assert log.splitlines() == ["thread finished", "buffered until exit", "atexit ran"]


def test_a_signal_stops_it_as_it_would_a_popen(zygote, probe):
    process = start(zygote, probe, "wait")
    assert process.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.2)
    process.terminate()
    assert process.wait(timeout=30) == -signal.SIGTERM


def test_what_only_a_fresh_process_honours_is_exec_d(probe):
    command = [sys.executable, "-m", "probe_module", "report"]
    log = probe / "probe.log"
    assert forked.launch(command, {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}, probe, log) is None
    assert forked.launch(command, {**os.environ, "PYTHONHASHSEED": "1234"}, probe, log) is None
    assert forked.launch(["bash", "-c", "true"], dict(os.environ), probe, log) is None
    with launched(command, {"MALLOC_MMAP_THRESHOLD_": "131072"}, log, probe) as process:
        assert isinstance(process, subprocess.Popen) and process.wait(timeout=30) == 0

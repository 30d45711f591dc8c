"""Test servers forked from a process that has already imported the heavy third-party libraries.

The e2e tests start the worker and the OpenAI server as processes of their own, dozens of
times a run, and on a 2-core CI machine their imports were a large share of the suite's CPU:
torch's CUDA build maps gigabytes of libraries at import, on a CPU too, and the web stack adds
its own. A zygote imports those once per test process; `launch` forks it, and
the child runs `python -m module args` as a fresh interpreter would: its own environment,
working directory, `sys.path` (the directory, then PYTHONPATH), argv and stdio (buffered as for
a file, unless PYTHONUNBUFFERED), the module run as `__main__`, non-daemon threads joined and
atexit run before it exits with the module's status.

Nothing of this project is imported before the fork, nor runpod (it reads RunPod's variables
when imported): only libraries that read no setting of ours at import, so what the child
imports, reads and logs is what a fresh process does. What a fork cannot redo is what the C
runtime reads when a process starts (glibc's MALLOC_ tunables, OpenMP's and BLAS's thread
variables, LD_ paths, Python's own start-up flags): a launch whose environment sets any of those
unlike the zygote's is not forked (`launch`). The start-up tests (`test_cold_start`,
`test_runpod_import`) start their own interpreters, and the benchmarks never fork: their cold
starts and memory are a fresh process's.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import runpy
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path

#: what a zygote imports, by kind: the real engine's servers need torch, the fake engine's not
PRELOADS = {
    "torch": ("torch", "torchaudio", "numpy", "fastapi", "uvicorn", "pydantic", "structlog", "aiohttp", "requests"),
    "light": ("numpy", "fastapi", "uvicorn", "pydantic", "structlog", "aiohttp", "requests"),
}
#: variables read by the C runtime or the interpreter at process start, not later
STARTUP_PREFIXES = ("MALLOC_", "GLIBC_", "LD_", "OMP_", "GOMP_", "KMP_", "MKL_", "OPENBLAS_", "PYTHON")
#: start-up variables the child applies itself, as the interpreter would have
CHILD_APPLIES = ("PYTHONPATH", "PYTHONUNBUFFERED")


def startup_variables(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(STARTUP_PREFIXES) and k not in CHILD_APPLIES}


class ForkedProcess:
    """A forked server, driven as a `subprocess.Popen` is (`poll`, `wait`, `terminate`, `kill`,
    `send_signal`, `returncode`). It is the zygote's child, not ours: a pidfd says when it has
    exited, and the zygote, which reaps it, writes its status to `status_path`."""

    def __init__(self, args: list[str], pid: int, status_path: Path) -> None:
        self.args, self.pid, self._status_path = args, pid, status_path
        self.returncode: int | None = None
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # gone already
            self._pidfd = None

    def poll(self) -> int | None:
        if self.returncode is None and (self._pidfd is None or self._exited(0)):
            self._collect()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and self._pidfd is not None and not self._exited(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        if self.returncode is None:
            self._collect()
        return self.returncode  # type: ignore[return-value]

    def _exited(self, timeout: float | None) -> bool:
        """Whether the pidfd became readable (the process ended) within `timeout` seconds
        (poll, not select: a test process may hold more than select's 1,024 descriptors)."""
        waiter = select.poll()
        waiter.register(self._pidfd, select.POLLIN)  # type: ignore[arg-type]
        return bool(waiter.poll(None if timeout is None else timeout * 1000))

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _collect(self) -> None:
        deadline = time.monotonic() + 10  # the zygote reaps at once; this bounds a dead zygote
        while not self._status_path.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"no exit status for forked process {self.pid}")
            time.sleep(0.01)
        self.returncode = int(self._status_path.read_text())
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


class Zygote:
    """One zygote process of a kind, started on first use, stopped when this process exits."""

    def __init__(self, kind: str) -> None:
        ours, theirs = socket.socketpair()
        self._socket, self._lock = ours, threading.Lock()
        command = [sys.executable, "-m", "harness.forked", kind, str(theirs.fileno())]
        self.startup = startup_variables(os.environ)  # what its C runtime read, and every child's
        root = Path(__file__).resolve().parents[1]
        self._process = subprocess.Popen(
            command, cwd=root, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        theirs.close()
        self._replies = ours.makefile("r")
        self._statuses = Path(json.loads(self._replies.readline())["statuses"])  # ready: its imports are done
        atexit.register(self.close)

    def fork(self, args: list[str], env: Mapping[str, str], cwd: Path, log_path: Path) -> ForkedProcess:
        request = {"argv": args[2:], "env": dict(env), "cwd": str(cwd), "log": str(log_path)}
        with self._lock:
            self._socket.sendall(json.dumps(request).encode() + b"\n")
            pid = json.loads(self._replies.readline())["pid"]
        return ForkedProcess(args, pid, self._statuses / str(pid))

    def close(self) -> None:
        """Its end of the socket closed, the zygote's loop ends; it is killed if it does not."""
        self._replies.close()
        self._socket.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


_zygotes: dict[str, Zygote] = {}
_zygotes_lock = threading.Lock()


def launch(command: list[str], env: Mapping[str, str], cwd: Path, log_path: Path) -> ForkedProcess | None:
    """`command` forked from a zygote, or None where only exec can run it: not `python -m
    module`, or a start-up variable set unlike the zygote's."""
    if len(command) < 3 or command[:2] != [sys.executable, "-m"]:
        return None
    kind = "torch" if env.get("TTS_ENGINE") == "f5" else "light"
    with _zygotes_lock:
        zygote = _zygotes.get(kind)
        # a zygote not started yet would read this process's environment
        if startup_variables(env) != (zygote.startup if zygote else startup_variables(os.environ)):
            return None  # and none is started for a launch it could not fork
        if zygote is None:
            zygote = _zygotes[kind] = Zygote(kind)
    return zygote.fork(command, env, cwd, log_path)


# --- the zygote itself: `python -m harness.forked KIND FD` ------------------------------------


def _serve(kind: str, fd: int) -> None:
    for module in PRELOADS[kind]:
        __import__(module)
    base_path = sys.path[1:]  # without this process's own directory
    statuses = Path(tempfile.mkdtemp(prefix="zygote-"))  # each child's exit status, named by its pid

    def reap(*_: object) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            with contextlib.suppress(OSError):  # gone after the zygote's own end
                (statuses / f"{pid}.tmp").write_text(str(os.waitstatus_to_exitcode(status)))
                os.replace(statuses / f"{pid}.tmp", statuses / str(pid))

    signal.signal(signal.SIGCHLD, reap)
    sock = socket.socket(fileno=fd)
    sock.sendall(json.dumps({"statuses": str(statuses)}).encode() + b"\n")
    try:
        for line in sock.makefile("r"):  # EOF: the test process is gone
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])  # no reaping until the pid's slot is clear
            pid = os.fork()
            if pid == 0:
                sock.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGCHLD])
                _run(json.loads(line), base_path)
            (statuses / str(pid)).unlink(missing_ok=True)  # an earlier child's, whose pid this one reuses
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGCHLD])
            sock.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    finally:
        shutil.rmtree(statuses, ignore_errors=True)


def _run(request: dict, base_path: list[str]) -> None:
    """In the child: become `python -m argv...` run from `cwd` with `env`, then exit."""
    code: int = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        # as the interpreter sets them up for a file: stdout buffered unless PYTHONUNBUFFERED,
        # stderr written through
        unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
        out, err = io.FileIO(1, "w", closefd=False), io.FileIO(2, "w", closefd=False)
        sys.stdout = sys.__stdout__ = io.TextIOWrapper(
            out if unbuffered else io.BufferedWriter(out), write_through=unbuffered
        )
        sys.stderr = sys.__stderr__ = io.TextIOWrapper(err, errors="backslashreplace", write_through=True)
        extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.path[:] = [os.getcwd(), *extra, *base_path]
        module, *args = request["argv"]
        sys.argv = [module, *args]
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
        threading._shutdown()  # type: ignore[attr-defined]  # as the interpreter's exit joins them
        atexit._run_exitfuncs()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))

"""The worker's processes, started for a test or a benchmark: the RunPod worker with runpod's
local API (`running_worker`), the OpenAI-compatible server (`running_openai_server`), each on a
free loopback port, or any command with its output in a log (`launched`, for the worker as the
image starts it, which has no port to wait on)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

from harness import forked

ROOT = Path(__file__).resolve().parents[1]
_FORK = False
Process = subprocess.Popen | forked.ForkedProcess  # a started server, driven as a Popen is


def fork_servers() -> None:
    """From now on this process forks the servers it starts from a zygote (harness/forked.py)
    where it can: the tests' choice; a benchmark starts fresh processes."""
    global _FORK
    _FORK = True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Worker:
    def __init__(self, base_url: str, log_path: Path, pid: int) -> None:
        self.base_url = base_url
        self.log_path = log_path
        self.pid = pid

    def memory_kib(self) -> dict[str, int]:
        """Current (VmRSS) and peak (VmHWM) resident memory of the worker process."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}

    def alive(self) -> bool:
        """Whether the process still runs: not exited, nor a zombie waiting to be reaped."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return False
        return stat.rpartition(")")[2].split()[0] not in ("Z", "X")  # the state follows the name

    def reset_peak(self) -> int:
        """Reset the kernel's peak-memory mark (VmHWM) to the current RSS; the new mark in KiB."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        return self.memory_kib()["VmHWM"]

    def runsync(self, job_input: object, timeout: float = 120) -> dict:
        response = requests.post(f"{self.base_url}/runsync", json={"input": job_input}, timeout=timeout)
        response.raise_for_status()
        return response.json()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self, name: str, since: int = 0) -> list[dict]:
        return log_events(self.logs(), name, since)


def log_events(text: str, name: str | None = None, since: int = 0) -> list[dict]:
    """The events in a worker's JSON log (`name`'s only, when given), from line `since` on.
    Its stdout and stderr share the file, so runpod's plain-text lines and the JSON objects
    can share a line, either way round (runpod's text before its newline, or after an
    object before the object's): an object at the start of a line or right after runpod's
    text still counts."""
    decoder = json.JSONDecoder()
    found = []
    for line in text.splitlines()[since:]:
        start = 0 if line.startswith("{") else line.find('{"')
        if start >= 0 and (name is None or f'"{name}"' in line):
            with contextlib.suppress(ValueError):
                event, _ = decoder.raw_decode(line, start)
                if name is None or event.get("event") == name:
                    found.append(event)
    return found


def stop(process: Process, timeout: float = 15) -> None:
    """SIGTERM (the worker's graceful stop), then SIGKILL if it is not gone in `timeout`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def launched(
    command: list[str],
    env: Mapping[str, str],
    log_path: Path,
    cwd: Path = ROOT,
    stop_timeout: float = 15,
    drop: tuple[str, ...] = (),
) -> Iterator[Process]:
    """`command` with this environment (less the variables whose names start with one of
    `drop`) plus `env` (JSON logs unless `env` says otherwise), its stdout and stderr in one
    file, `log_path`; stopped after (`stop`)."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(drop)}
    full_env = {**inherited, "LOG_FORMAT": "json", **env}
    with open(log_path, "wb") as log:
        process = (_FORK and forked.launch(command, full_env, cwd, log_path)) or subprocess.Popen(
            command, cwd=cwd, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        stop(process, stop_timeout)


@contextmanager
def serving_process(
    command: list[str], env: Mapping[str, str], log_path: Path, ready_url: str, boot_timeout: float, cwd: Path = ROOT
) -> Iterator[Process]:
    """`command` launched, once `ready_url` answers. A process that exits or does not answer in
    time fails with its log."""
    with launched(command, env, log_path, cwd) as process:
        deadline = time.monotonic() + boot_timeout
        while True:
            if process.poll() is not None:
                logs = log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{command[2]} exited with {process.returncode}:\n{logs}")
            try:
                requests.get(ready_url, timeout=1)
                break
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy starting
                if time.monotonic() > deadline:
                    logs = log_path.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"{command[2]} did not start:\n{logs}") from None
                time.sleep(0.05)  # a refused connection costs little; a start-up is ready sooner
        yield process


@contextmanager
def running_worker(
    env: Mapping[str, str],
    log_path: Path,
    boot_timeout: float = 180,
    module: str = "entrypoints.runpod_handler",
    root: Path = ROOT,
) -> Iterator[Worker]:
    """The worker from `root` (this checkout unless told otherwise) on a free loopback port."""
    port = free_port()
    command = [
        sys.executable, "-m", module,
        "--rp_serve_api", "--rp_api_host", "127.0.0.1", "--rp_api_port", str(port),
    ]  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    with serving_process(command, env, log_path, f"{base_url}/docs", boot_timeout, cwd=root) as process:
        yield Worker(base_url, log_path, process.pid)


class Server:
    """An OpenAI-compatible server under test, at `base_url`; `logs()` is its output, if any."""

    def __init__(self, base_url: str, log_path: Path | None = None, pid: int | None = None) -> None:
        self.base_url = base_url
        self.log_path = log_path
        self.pid = pid  # the subprocess's, for its memory (Worker.memory_kib)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


@contextmanager
def running_openai_server(
    env: Mapping[str, str], log_path: Path, boot_timeout: float = 180, root: Path = ROOT
) -> Iterator[Server]:
    """`python -m entrypoints.openai_api` from `root` (this checkout unless told otherwise) on a
    free loopback port, as it runs for users."""
    port = free_port()
    command = [sys.executable, "-m", "entrypoints.openai_api", "--host", "127.0.0.1", "--port", str(port)]
    base_url = f"http://127.0.0.1:{port}"
    with serving_process(command, env, log_path, f"{base_url}/health", boot_timeout, cwd=root) as process:
        yield Server(base_url, log_path, process.pid)

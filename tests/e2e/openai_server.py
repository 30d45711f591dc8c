"""The OpenAI-compatible server for tests: in a subprocess on a free loopback port, as it
runs for users, or in this process (uvicorn in a thread) around a container whose engine a
test controls."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from application.app import App
from entrypoints.openai_api import ServerSettings, create_app
from tests.e2e.worker import ROOT, free_port, serving_process


class Server:
    def __init__(self, base_url: str, log_path: Path | None = None, pid: int | None = None) -> None:
        self.base_url = base_url
        self.log_path = log_path
        self.pid = pid  # the subprocess's, for its memory (tests.e2e.worker.Worker.memory_kib)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


@contextmanager
def running_openai_server(
    env: Mapping[str, str], log_path: Path, boot_timeout: float = 180, root: Path = ROOT
) -> Iterator[Server]:
    """The server from `root` (this checkout unless told otherwise) on a free loopback port."""
    port = free_port()
    command = [sys.executable, "-m", "entrypoints.openai_api", "--host", "127.0.0.1", "--port", str(port)]
    base_url = f"http://127.0.0.1:{port}"
    with serving_process(command, env, log_path, f"{base_url}/health", boot_timeout, cwd=root) as process:
        yield Server(base_url, log_path, process.pid)


@contextmanager
def serving_in_process(api: App, settings: ServerSettings | None = None) -> Iterator[Server]:
    config = uvicorn.Config(
        create_app(api, settings or ServerSettings()), host="127.0.0.1", port=free_port(), log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the in-process server stopped before it started")
            time.sleep(0.05)
        yield Server(f"http://127.0.0.1:{config.port}")
    finally:
        server.should_exit = True
        thread.join(timeout=15)

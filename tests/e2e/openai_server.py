"""The OpenAI-compatible server for tests: in a subprocess on a free loopback port, as it
runs for users, or in this process (uvicorn in a thread) around a container whose engine a
test controls."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests
import uvicorn

from entrypoints.openai_api import ServerSettings, SpeechApi, create_app
from tests.e2e.worker import ROOT, free_port


class Server:
    def __init__(self, base_url: str, log_path: Path | None = None) -> None:
        self.base_url = base_url
        self.log_path = log_path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


@contextmanager
def running_openai_server(env: Mapping[str, str], log_path: Path, boot_timeout: float = 180) -> Iterator[Server]:
    port = free_port()
    full_env = {**os.environ, "LOG_FORMAT": "json", **env}
    command = [sys.executable, "-m", "entrypoints.openai_api", "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + boot_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{server.logs()[-3000:]}")
            try:
                requests.get(f"{server.base_url}/health", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start:\n{server.logs()[-3000:]}") from None
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def serving_in_process(api: SpeechApi, settings: ServerSettings | None = None) -> Iterator[Server]:
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

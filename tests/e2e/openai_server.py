"""The OpenAI-compatible server for tests: in a subprocess on a free loopback port, as it
runs for users (`harness.processes.running_openai_server`), or in this process (uvicorn in a
thread) around a container whose engine a test controls."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from application.app import App
from entrypoints.openai_api import ServerSettings, create_app
from harness.processes import Server, free_port, running_openai_server


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


__all__ = ["Server", "running_openai_server", "serving_in_process"]

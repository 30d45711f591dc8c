"""An HTTP handler served from a thread on a free 127.0.0.1 port, for tests and benchmarks
(file servers, RunPod's job queue stand-in)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], name: str | None = None) -> Iterator[str]:
    """`handler` served until the block ends; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    # shutdown() waits for serve_forever's next poll: 0.5 s by default, after every test
    thread = threading.Thread(target=server.serve_forever, name=name, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

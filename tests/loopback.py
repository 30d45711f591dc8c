"""A tiny HTTP file server on 127.0.0.1 for download tests: files, redirects, endless bodies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from harness.loopback import serving


class LoopbackFiles:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.endless: set[str] = set()

    def serve(self, path: str, data: bytes) -> str:
        self.files[path] = data
        return self.base_url + path


@contextmanager
def loopback_files() -> Iterator[LoopbackFiles]:
    state: LoopbackFiles

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path in state.redirects:
                self.send_response(302)
                self.send_header("Location", state.redirects[self.path])
                self.end_headers()
            elif self.path in state.endless:
                self.send_response(200)
                self.end_headers()
                try:
                    for _ in range(100_000):  # bounded: ~6 GiB at most, the client stops far earlier
                        self.wfile.write(b"\0" * 65536)
                except OSError:
                    return
            elif self.path in state.files:
                body = state.files[self.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as base_url:
        state = LoopbackFiles(base_url)
        yield state

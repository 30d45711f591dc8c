"""A loopback HTTP proxy in front of a store that can "die" for chosen requests.

It forwards each request to the real server unless `cut(method, path)` says to drop it,
in which case the connection closes without an answer, as when a server goes away
mid-job. This puts a failure exactly between two steps of a job, deterministically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import requests

from harness.loopback import serving

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class FaultProxy:
    def __init__(self, upstream: str, base_url: str) -> None:
        self.upstream = upstream
        self.base_url = base_url
        self.cut: Callable[[str, str], bool] = lambda method, path: False
        self.cut_requests: list[str] = []


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy: FaultProxy
    session = requests.Session()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if proxy.cut(self.command, self.path):
                proxy.cut_requests.append(f"{self.command} {self.path}")
                self.close_connection = True
                self.connection.close()
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            answer = session.request(self.command, proxy.upstream + self.path, data=body, headers=headers, timeout=30)
            self.send_response(answer.status_code)
            for key, value in answer.headers.items():
                if key.lower() not in _HOP_HEADERS:
                    self.send_header(key, value)
            payload = b"" if self.command == "HEAD" else answer.content
            self.send_header("Content-Length", answer.headers.get("Content-Length", str(len(payload))))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as base_url:
        proxy = FaultProxy(upstream, base_url)
        yield proxy

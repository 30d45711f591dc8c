"""Voice downloads through runpod's SSRF guard (`rp_ssrf`), with a size cap and a deadline.

`rp_ssrf` refuses non-public destinations (unless RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS is
set), pins the connection to the validated address and re-checks every redirect; this
adapter adds the worker's own size cap, enforced while streaming, and an overall deadline
that holds whatever the server does. A read timeout bounds each wait for a byte, not the
download: a body trickling one byte just under it would hold a job for hours. So the
download runs on a helper thread that the job waits for only until the deadline; then the
connection is shut down under it (which wakes a blocked read) and the job answers at once.

Messages never repeat the URL, a proxy setting or a resolved address: a URL may carry a
signed query, a proxy URL credentials, and an address says what sits inside the network.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import requests

from adapters.runpod_import import import_runpod
from domain.errors import DownloadFailed


@functools.cache
def ssrf_guard() -> ModuleType:
    """runpod's SSRF guard (`rp_ssrf`), imported at the first download and without
    py-cpuinfo's probe (adapters/runpod_import.py). Importing runpod is the largest part of
    the OpenAI server's and the CLI's start, and most of them never fetch a URL."""
    return import_runpod("runpod.serverless.utils.rp_ssrf")


CHUNK_BYTES = 64 * 1024
# rp_ssrf's refusals, by a phrase of each, as messages that name nothing from the request.
_REASONS = (
    ("non-public address", "its host resolves to a non-public address"),
    ("through proxy", "a proxy is configured, and a proxied download cannot be pinned to a checked address"),
    ("blocked URL scheme", "only http and https URLs are fetched"),
    ("has no host", "the URL has no host"),
    ("could not resolve", "its host does not resolve"),
    ("no addresses resolved", "its host does not resolve"),
    ("redirect", "it redirects too often or without a Location"),
)


@dataclass(frozen=True)
class HttpFetcher:
    max_bytes: int = 50 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0

    def fetch(self, url: str) -> bytes:
        download = _Download()
        threading.Thread(target=download.run, args=(self._download, url), daemon=True, name="voice-download").start()
        if not download.done.wait(self.total_timeout):
            download.abort()
            raise DownloadFailed(f"the download took longer than {self.total_timeout:g} s")
        return download.result()

    def _download(self, url: str, download: _Download) -> bytes:
        rp_ssrf = ssrf_guard()
        try:
            response = rp_ssrf.safe_get(
                url, timeout=(self.connect_timeout, self.read_timeout), max_bytes=self.max_bytes
            )
        except rp_ssrf.SSRFError as exc:
            raise self._refused(exc) from None
        except requests.RequestException as exc:
            raise DownloadFailed(f"could not fetch the voice URL: {type(exc).__name__}") from None
        with response:
            download.started(response)
            if response.status_code != 200:
                raise DownloadFailed(f"the voice URL answered HTTP {response.status_code}")
            body = bytearray()
            try:
                for chunk in rp_ssrf.iter_content_capped(response, CHUNK_BYTES, self.max_bytes):
                    body += chunk
            except rp_ssrf.SSRFError as exc:
                raise self._refused(exc) from None
            except (requests.RequestException, OSError) as exc:
                raise DownloadFailed(f"the download broke off: {type(exc).__name__}") from None
            if download.aborted:
                raise DownloadFailed("the download was stopped at its deadline")
        return bytes(body)

    def _refused(self, exc: Exception) -> DownloadFailed:
        reason = str(exc)
        if "size cap" in reason:
            return DownloadFailed(f"the voice file is larger than {self.max_bytes} bytes")
        why = next((text for phrase, text in _REASONS if phrase in reason), "it is not a public http(s) URL")
        return DownloadFailed(f"refused to fetch the voice URL: {why}")


class _Download:
    """The one response a download reads, so the deadline can cut it from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._response: requests.Response | None = None
        self._body = b""
        self._error: BaseException | None = None
        self.aborted = False
        self.done = threading.Event()

    def run(self, download: Callable[[str, _Download], bytes], url: str) -> None:
        try:
            self._body = download(url, self)
        except BaseException as exc:  # handed to the waiting job, which raises it
            self._error = exc
        finally:
            self.done.set()

    def result(self) -> bytes:
        error, self._error = self._error, None
        if error is None:
            return self._body
        try:
            raise error
        finally:
            error = None  # no frame -> exception -> traceback -> frame cycle

    def started(self, response: requests.Response) -> None:
        with self._lock:
            self._response = response
            if self.aborted:
                _shut(response)

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            if self._response is not None:
                _shut(self._response)


def _shut(response: requests.Response) -> None:
    """Shut the socket down, which wakes a read blocked on it. Closing the response instead
    would wait for that read (the buffered reader's lock) and so for the server."""
    sock = _socket_of(response)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _socket_of(response: requests.Response) -> socket.socket | None:
    """urllib3 keeps the socket on its connection, or (once http.client has detached it
    from a closing connection) only under the response's file object; neither is public."""
    connection = getattr(response.raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:
        file = getattr(getattr(response.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(file, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None

"""Voice downloads through runpod's SSRF guard (`rp_ssrf`), with a size cap and deadlines.

`rp_ssrf` refuses non-public destinations (unless RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS is
set), pins the connection to the validated address and re-checks every redirect; this
adapter adds the worker's own size cap, enforced while streaming, and an overall deadline
so a slow or endless body cannot hold a job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from runpod.serverless.utils.rp_ssrf import SSRFError, iter_content_capped, safe_get

from domain.errors import DownloadFailed

CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class HttpFetcher:
    max_bytes: int = 50 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0

    def fetch(self, url: str) -> bytes:
        deadline = time.monotonic() + self.total_timeout
        try:
            response = safe_get(url, timeout=(self.connect_timeout, self.read_timeout), max_bytes=self.max_bytes)
        except SSRFError as exc:
            raise self._refused(exc) from exc
        except requests.RequestException as exc:
            raise DownloadFailed(f"could not fetch the voice URL: {type(exc).__name__}") from exc
        with response:
            if response.status_code != 200:
                raise DownloadFailed(f"the voice URL answered HTTP {response.status_code}")
            body = bytearray()
            try:
                for chunk in iter_content_capped(response, CHUNK_BYTES, self.max_bytes):
                    body += chunk
                    if time.monotonic() > deadline:
                        raise DownloadFailed(f"the download took longer than {self.total_timeout:g} s")
            except SSRFError as exc:
                raise self._refused(exc) from exc
            except requests.RequestException as exc:
                raise DownloadFailed(f"the download broke off: {type(exc).__name__}") from exc
        return bytes(body)

    def _refused(self, exc: SSRFError) -> DownloadFailed:
        """rp_ssrf's reason, minus the URL it repeats (which may carry a signed query)."""
        reason = str(exc)
        if "size cap" in reason:
            return DownloadFailed(f"the voice file is larger than {self.max_bytes} bytes")
        return DownloadFailed(f"refused to fetch the voice URL: {reason.split(': ', 1)[0]}")

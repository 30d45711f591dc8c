"""The real fetcher against a loopback server; no packet leaves 127.0.0.1."""

import time
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest

from adapters.http_fetcher import HttpFetcher, ssrf_guard
from domain.errors import DownloadFailed
from harness.loopback import serving
from tests.contracts.audio_fetcher import CAP, AudioFetcherContract
from tests.loopback import loopback_files


@pytest.fixture
def files():
    with loopback_files() as served:
        yield served


@pytest.fixture
def allow_private(monkeypatch):
    monkeypatch.setenv("RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS", "1")


class TestHttpFetcherContract(AudioFetcherContract):
    @pytest.fixture
    def fetcher(self, allow_private):
        return HttpFetcher(max_bytes=CAP, total_timeout=10)

    @pytest.fixture
    def serve(self, files):
        return files.serve


def test_loopback_is_refused_without_the_switch(files, monkeypatch):
    monkeypatch.delenv("RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS", raising=False)
    url = files.serve("/v.wav", b"data")
    with pytest.raises(DownloadFailed, match="refused"):
        HttpFetcher().fetch(url)


def test_redirect_to_loopback_is_rechecked(files, monkeypatch, allow_private):
    files.serve("/final.wav", b"after redirect")
    files.redirects["/start.wav"] = "/final.wav"
    assert HttpFetcher().fetch(files.base_url + "/start.wav") == b"after redirect"
    monkeypatch.delenv("RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS")
    with pytest.raises(DownloadFailed, match="refused"):
        HttpFetcher().fetch(files.base_url + "/start.wav")


def test_endless_body_is_cut_at_the_cap_quickly(files, allow_private):
    files.endless.add("/endless.wav")
    start = time.monotonic()
    with pytest.raises(DownloadFailed, match="larger than"):
        HttpFetcher(max_bytes=CAP).fetch(files.base_url + "/endless.wav")
    assert time.monotonic() - start < 10


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "0.0.0.0",
        "not-an-ip",
    ],
)
def test_the_guard_refuses_non_public_addresses(address):
    assert not ssrf_guard().is_safe_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "8.8.8.8"])
def test_the_guard_accepts_public_addresses_as_a_pure_check(address):
    assert ssrf_guard().is_safe_address(address)


class Trickle(BaseHTTPRequestHandler):
    """Promises 100 bytes, then sends one every 0.1 s: each wait is far under the read
    timeout, and the whole body takes 10 s. `sent` counts what got out before the client hung up."""

    sent: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        count = 0
        try:
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                count += 1
                time.sleep(0.1)
        except OSError:
            pass
        finally:
            Trickle.sent.append(count)

    def log_message(self, *args: object) -> None:
        pass


class KeepAliveTrickle(Trickle):
    """HTTP/1.1: urllib3 keeps the socket on the connection rather than the response."""

    protocol_version = "HTTP/1.1"


@pytest.mark.parametrize("handler", [Trickle, KeepAliveTrickle])
def test_a_trickling_body_stops_at_the_overall_deadline(allow_private, handler):
    """The deadline holds against a body that never lets a read time out: the job answers
    at the deadline, and the connection is cut under the helper thread (the server sees it
    hang up long before its 100 bytes are out)."""
    Trickle.sent = []
    with serving(handler) as base:
        with pytest.raises(DownloadFailed, match=r"longer than 0\.5 s"):
            HttpFetcher(read_timeout=5, total_timeout=0.5).fetch(base + "/slow.wav")
        for _ in range(100):  # the server's handler ends once its next write fails
            if Trickle.sent:
                break
            time.sleep(0.05)
    assert Trickle.sent and Trickle.sent[0] < 100


def test_refusals_carry_no_proxy_credentials_signed_query_or_address(monkeypatch):
    monkeypatch.delenv("RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS", raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxyuser:hunter2@127.0.0.1:9")
    with pytest.raises(DownloadFailed) as proxied:
        HttpFetcher().fetch("http://203.0.113.7/voice.wav?X-Amz-Signature=s3cr3t")
    monkeypatch.delenv("HTTP_PROXY")
    with pytest.raises(DownloadFailed) as private:
        HttpFetcher().fetch("http://localhost:9/voice.wav?token=s3cr3t")
    for exc in (proxied.value, private.value):
        message = str(exc)
        assert message.startswith("download_failed: refused to fetch the voice URL: ")
        for secret in ("hunter2", "proxyuser", "s3cr3t", "203.0.113.7", "127.0.0.1", "::1", "localhost", "?"):
            assert secret not in message
    assert "proxy" in str(proxied.value) and "non-public" in str(private.value)

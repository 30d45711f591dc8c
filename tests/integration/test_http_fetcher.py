"""The real fetcher against a loopback server; no packet leaves 127.0.0.1."""

import time

import pytest
from runpod.serverless.utils.rp_ssrf import is_safe_address

from adapters.http_fetcher import HttpFetcher
from domain.errors import DownloadFailed
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
    assert not is_safe_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "8.8.8.8"])
def test_the_guard_accepts_public_addresses_as_a_pure_check(address):
    assert is_safe_address(address)

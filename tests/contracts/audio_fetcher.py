"""The one contract every audio fetcher passes.

Subclasses provide `fetcher` (allowing loopback, with a 1 MiB cap) and `serve(path, data)
-> url`, which makes bytes reachable at a URL the fetcher may fetch.
"""

from __future__ import annotations

import pytest

from domain.errors import DownloadFailed

CAP = 1024 * 1024


class AudioFetcherContract:
    @pytest.fixture
    def fetcher(self):  # pragma: no cover - subclasses provide it
        raise NotImplementedError

    @pytest.fixture
    def serve(self):  # pragma: no cover - subclasses provide it
        raise NotImplementedError

    def test_fetches_the_body(self, fetcher, serve) -> None:
        url = serve("/voice.wav", b"RIFF-and-more")
        assert fetcher.fetch(url) == b"RIFF-and-more"

    def test_missing_file_is_download_failed(self, fetcher, serve) -> None:
        url = serve("/present.wav", b"x")
        with pytest.raises(DownloadFailed, match="404"):
            fetcher.fetch(url.replace("present", "absent"))

    @pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x.wav", "gopher://127.0.0.1/"])
    def test_only_http_and_https(self, fetcher, url) -> None:
        with pytest.raises(DownloadFailed):
            fetcher.fetch(url)

    def test_body_over_the_cap_is_refused(self, fetcher, serve) -> None:
        url = serve("/huge.wav", b"\0" * (CAP + 1))
        with pytest.raises(DownloadFailed, match="larger than"):
            fetcher.fetch(url)

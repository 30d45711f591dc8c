import pytest

from adapters.fake_fetcher import FakeFetcher
from tests.contracts.audio_fetcher import CAP, AudioFetcherContract


class TestFakeFetcherContract(AudioFetcherContract):
    @pytest.fixture
    def fetcher(self):
        return FakeFetcher(max_bytes=CAP)

    @pytest.fixture
    def serve(self, fetcher):
        def serve(path: str, data: bytes) -> str:
            fetcher.files["http://voices.test" + path] = data
            return "http://voices.test" + path

        return serve

"""Peak memory of the OpenAI-compatible server (a subprocess, fake engine) for answers that
are long in audio but cheap to ask for: a stream holds about one piece, not the answer; a
request naming many voices holds each as the model uses it. Figures are rises of the
process's VmHWM (`python -m benchmarks.load --openai` prints them)."""

from __future__ import annotations

import pytest

from harness.load import LONG_TEXT, concurrently, peak_added, speech
from tests.e2e.openai_server import running_openai_server
from tests.e2e.worker import Worker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("memory")
    env = {
        "TTS_ENGINE": "fake",
        "STORAGE_URL": f"file://{tmp}/store",
        "VOICE_CACHE_DIR": str(tmp / "cache"),
        "MAX_CONCURRENCY": "4",
        "LOG_LEVEL": "WARNING",
    }
    with running_openai_server(env, tmp / "server.log") as server:
        assert server.pid is not None
        running = Worker(server.base_url, tmp / "server.log", server.pid)
        assert speech(running.base_url, "Warm up.") == 200
        yield running


def test_a_streamed_40_minute_answer_holds_a_piece_not_the_answer(worker):
    """2,390 s of audio is 229 MB of float32 samples; before, a stream held it several times
    over (+1,203 MiB peak for one, +3,726 MiB for four at once)."""
    one, _, code = peak_added(worker, lambda: speech(worker.base_url, LONG_TEXT))
    sse, _, sse_code = peak_added(worker, lambda: speech(worker.base_url, LONG_TEXT, "pcm", stream_format="sse"))
    four, _, codes = peak_added(worker, concurrently(4, lambda: speech(worker.base_url, LONG_TEXT)))
    assert code == sse_code == 200 and codes == [200] * 4
    assert one < 600 and sse < 600 and four < 1536, (one, sse, four)

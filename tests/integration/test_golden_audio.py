"""The same job and seed give byte-identical audio across refactors: the digests below were
taken on main (94f49c2) before the application layer (issue 33), for the fake engine and the
real F5 engine on the tiny checkpoint (fp32 on a CPU, bitwise-reproducible). A change here is
a change of what users hear, never a side effect of moving code."""

from __future__ import annotations

import base64
import hashlib

import pytest

from entrypoints.service import WorkerService
from tests.helpers import make_test_container, tiny_f5_env

JOBS = {
    "wav": {"text": "Hello there. This is the same audio, chunk after chunk.", "seed": 7, "return": "base64"},
    "flac": {"text": "Hello there.", "seed": 11, "format": "flac", "return": "base64", "speed": 1.2},
    "pcm": {"text": "Two words [pause:0.5s] and more.", "seed": 3, "format": "pcm", "return": "base64"},
}
GOLDEN = {
    "fake": {
        "wav": "daf6126131fb9f9e12a0d9d85f5055fc96b4fc4f8beef3301538e65a95d7c300",
        "flac": "cb0ff55f43f1c17ab652eda56c12a65eeae88d6dbbddb5b03ca94bd3060ca107",
        "pcm": "6e00dbfc338e08fb3cc6529739604aeb8a86d649392fa96da39ff5d3cb9a4d95",
        "stream_pcm": "09f4f1c521901b48f3d543ada5b7b5c6989d6862b996ab22413e3e834192ed5e",
    },
    "tiny": {
        "wav": "a38b386f7c94fc0d39bc5f265908bc16b1edf7bce58f6c41ce38e865fa2b0587",
        "flac": "0992c9bbdc610aec8a6a15de6cafc1d75dc2e0a0c3c9d4e3cd952b4b6ddf5654",
        "pcm": "dcfde3ed55c1ae38547cc0dfa5a08ddcc45757ae0e4c05327f5ff9551858b772",
        "stream_pcm": "371370f47d3a8ed7c2259f8e6863098e8695cbb2cfb4a00b8aa743f10f6ba90c",
    },
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("engine", ["fake", pytest.param("tiny", marks=pytest.mark.slow)])  # slow: the tiny checkpoint
def test_the_same_seed_gives_the_same_bytes_as_before(engine, tmp_path):
    env = {"TTS_ENGINE": "fake"} if engine == "fake" else tiny_f5_env(tmp_path)
    service = WorkerService(make_test_container("memory://golden", env=env).app())
    digests = {
        name: _sha(base64.b64decode(service.handle(dict(job), name)["audio_base64"])) for name, job in JOBS.items()
    }
    stream = list(service.stream({**JOBS["wav"], "stream": True, "format": "pcm"}, "s"))
    digests["stream_pcm"] = _sha(b"".join(base64.b64decode(a["audio_base64"]) for a in stream if "chunk" in a))
    assert digests == GOLDEN[engine]

"""The README's OpenAI-compatible server examples (curl and the openai SDK) run as written
against a live server, only its address swapped for the test's free port."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.audio_decode import decode
from tests.e2e.openai_server import running_openai_server
from tests.e2e.worker import ROOT
from tests.helpers import audio_file

pytestmark = pytest.mark.slow
SECTION = ROOT.joinpath("README.md").read_text().split("## OpenAI-compatible server\n", 1)[1].split("\n## ", 1)[0]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", SECTION, re.S)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{tmp_path_factory.mktemp('store')}"}
    with running_openai_server(env, tmp_path_factory.mktemp("logs") / "server.log") as running:
        yield running


def localize(code: str, server) -> str:
    return code.replace("http://127.0.0.1:8880", server.base_url)


def test_the_curl_examples(server, tmp_path):
    (tmp_path / "my-voice.wav").write_bytes(audio_file(3.0))
    curl = next(block for block in blocks("bash") if "curl" in block)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", localize(curl, server)], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert '"id":"narrator"' in done.stdout and '"deleted":true' in done.stdout
    assert decode((tmp_path / "hello.mp3").read_bytes(), "mp3")[0].size > 0
    assert decode((tmp_path / "hello.pcm").read_bytes(), "pcm")[0].size > 24000


def test_the_openai_sdk_example(server, tmp_path):
    (tmp_path / "my-voice.wav").write_bytes(audio_file(3.0))
    (python,) = blocks("python")
    done = subprocess.run(
        [sys.executable, "-c", localize(python, server)], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    for name, fmt in (("hello.opus", "opus"), ("streamed.wav", "wav"), ("mine.mp3", "mp3")):
        assert decode((tmp_path / name).read_bytes(), fmt)[0].size > 0, name
    assert re.search(r'"voice_uploaded".*"narrator"|"narrator".*"voice_uploaded"', server.logs())

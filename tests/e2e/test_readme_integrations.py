"""The README's "Plugging in" recipes run as written: each server command started as the
README spells it (a free port and the fake engine swapped in), then the README's own checks
(the Wyoming client script, Open WebUI's curl calls, the voice agents' request) against it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.audio_decode import decode
from tests.e2e.test_wyoming import wait_for_port
from tests.e2e.worker import ROOT, free_port, serving_process, stop
from tests.helpers import audio_file

pytestmark = pytest.mark.slow
SECTION = ROOT.joinpath("README.md").read_text().split("## Plugging in:", 1)[1].split("\n## ", 1)[0]


def recipe(title: str) -> str:
    return SECTION.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def env(tmp_path: Path) -> dict[str, str]:
    return {
        "TTS_ENGINE": "fake",
        "STORAGE_URL": f"file://{tmp_path / 'store'}",
        "VOICE_CACHE_DIR": str(tmp_path / "voice-cache"),
    }


@contextmanager
def started(command: str, port: int, new_port: int, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """The README's command line, run by bash from the checkout with only its port changed."""
    line = command.strip().replace(str(port), str(new_port))
    assert "\n" not in line, line
    log_path = tmp_path / "server.log"
    if "openai_api" in line:
        with serving_process(["bash", "-c", f"exec env {line}"], env(tmp_path), log_path,
                             f"http://127.0.0.1:{new_port}/health", 120) as process:  # fmt: skip
            yield process
        return
    with open(log_path, "wb") as log:
        process = subprocess.Popen(["bash", "-c", f"exec env {line}"], cwd=ROOT, env={**os.environ, **env(tmp_path)},
                                   stdout=log, stderr=log)  # fmt: skip
    try:
        wait_for_port(new_port, process, log_path)
        yield process
    finally:
        stop(process)


def run(script: list[str], tmp_path: Path) -> str:
    done = subprocess.run(script, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_home_assistant_recipe(tmp_path):
    text = recipe("Home Assistant (Wyoming)")
    command = next(b for b in blocks(text, "bash") if "entrypoints.wyoming_server" in b and "docker" not in b)
    (check,) = blocks(text, "python")
    port = free_port()
    with started(command, 10200, port, tmp_path):
        output = run([sys.executable, "-c", check.replace("10200", str(port))], tmp_path)
    assert "voices: ['default']" in output
    seconds = float(re.search(r"([\d.]+) s of 16-bit mono PCM at 24 kHz", output).group(1))
    assert seconds > 1
    assert "Settings → Devices & services → Add integration → Wyoming Protocol" in text


def test_open_webui_recipe(tmp_path):
    text = recipe("Open WebUI")
    command, calls = blocks(text, "bash")
    port = free_port()
    with started(command, 8880, port, tmp_path):
        output = run(["bash", "-euo", "pipefail", "-c", calls.replace("8880", str(port))], tmp_path)
    assert '"models":[{"id":"f5-tts"}' in output  # listed without the key
    assert '"voices":[{"id":"default"' in output
    assert decode((tmp_path / "webui.mp3").read_bytes(), "mp3")[0].size > 0  # spoken with the key


def test_voice_agents_recipe(tmp_path):
    text = recipe("Voice aliases and voice agents (Pipecat, LiveKit)")
    command, upload = blocks(text, "bash")
    (request,) = blocks(text, "python")
    (tmp_path / "my-voice.wav").write_bytes(audio_file(3.0))
    port = free_port()
    with started(command, 8880, port, tmp_path) as process:
        uploaded = run(["bash", "-euo", "pipefail", "-c", upload.replace("8880", str(port))], tmp_path)
        output = run([sys.executable, "-c", request.replace("8880", str(port))], tmp_path)
        assert process.poll() is None
    assert '"id":"narrator"' in uploaded
    seconds = float(re.search(r"([\d.]+) s of 16-bit mono PCM at 24 kHz", output).group(1))
    assert seconds > 1
    assert len(blocks(text, "py")) == 2  # the Pipecat and LiveKit snippets, documented, not run

"""Word timestamps and captions through runpod's local API, with the project's tiny
randomly initialised aligner (scripts/make_tiny_aligner.py) loaded as the real one is, on
the fake engine and on the real F5-TTS engine's tiny checkpoint; and a worker built
without aligner weights."""

from __future__ import annotations

import base64
import io
import itertools
import subprocess
import sys
from urllib.parse import urlparse

import pytest
import requests
import soundfile as sf
import srt
import webvtt

from tests.e2e.worker import ROOT, running_worker
from tests.helpers import script_settings, tiny_f5_env

pytestmark = pytest.mark.slow
STEPS = 4  # the fewest ODE steps: the words and captions do not depend on the count, the tiny checkpoint's time does
TEXT = "Hello, world! Timestamps come back for every word I speak, even 你好 and café."
WORDS = ["Hello,", "world!", "Timestamps", "come", "back", "for", "every", "word", "I", "speak,", "even", "你", "好",
         "and", "café."]  # fmt: skip


@pytest.fixture(scope="module")
def aligner_env(tmp_path_factory) -> dict[str, str]:
    return script_settings("make_tiny_aligner.py", tmp_path_factory.mktemp("aligner"))


@pytest.fixture(scope="module", params=["fake", "f5"])
def worker(request, aligner_env, tmp_path_factory):
    env = {"TTS_ENGINE": request.param, "STREAMING": "1", **aligner_env}
    if request.param == "f5":
        env |= tiny_f5_env(tmp_path_factory.mktemp("tiny"))
    env["STORAGE_URL"] = f"file://{tmp_path_factory.mktemp('store')}"
    with running_worker(env, tmp_path_factory.mktemp("logs") / "worker.log") as running:
        yield running


def final(answer: dict) -> dict:
    """A streaming worker's /runsync answers the list of what it yielded; the last is the result."""
    assert answer["status"] == "COMPLETED", answer
    output = answer["output"]
    return output[-1] if isinstance(output, list) else output


def _check_words(words: list[dict], duration: float) -> None:
    assert [w["word"] for w in words] == WORDS
    assert all(0 <= w["start"] <= w["end"] <= duration + 1e-3 for w in words)
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(words))


def test_words_and_srt_inline(worker):
    job = {"text": TEXT, "timestamps": True, "captions": "srt", "return": "base64", "seed": 3, "nfe_step": STEPS}
    output = final(worker.runsync(job))
    duration = sf.info(io.BytesIO(base64.b64decode(output["audio_base64"]))).duration
    assert abs(duration - output["duration"]) < 1e-3
    _check_words(output["words"], output["duration"])
    subs = list(srt.parse(output["captions"]))
    assert "".join(s.content.replace(" ", "") for s in subs) == "".join(WORDS)


def test_vtt_stored_beside_the_audio(worker):
    output = final(worker.runsync({"text": TEXT, "captions": "vtt", "nfe_step": STEPS}))
    assert "words" not in output
    audio_path, vtt_path = urlparse(output["audio_url"]).path, urlparse(output["captions_url"]).path
    assert vtt_path == audio_path.rsplit(".", 1)[0] + ".vtt"
    cues = webvtt.read(vtt_path)
    assert "".join(c.text.replace(" ", "") for c in cues) == "".join(WORDS)


def test_streamed_chunks_carry_their_words(worker):
    text = " ".join([TEXT] * 3)
    job = {"input": {"text": text, "stream": True, "timestamps": True, "return": "base64", "nfe_step": STEPS}}
    started = requests.post(f"{worker.base_url}/run", json=job, timeout=30).json()
    streamed = requests.post(f"{worker.base_url}/stream/{started['id']}", timeout=300).json()
    outputs = [part["output"] for part in streamed["stream"]]
    chunks, final = outputs[:-1], outputs[-1]
    assert len(chunks) > 1 and all("words" in c for c in chunks)
    assert [w for c in chunks for w in c["words"]] == final["words"]
    assert [w["word"] for w in final["words"]] == WORDS * 3


def test_health_says_the_aligner_is_there_and_how_the_engine_runs(worker, request):
    output = final(worker.runsync({"endpoint": "health"}))
    assert output["aligner"]["available"] is True
    engine = output["engine"]
    if request.node.callspec.params["worker"] == "fake":
        expected = {"model": "fake-engine-v1", "device": "cpu", "dtype": "fp32", "runner": "fake"}
    else:  # the tiny checkpoint, in the dtype this CPU serves
        expected = {"model": engine["model"], "device": "cpu", "dtype": engine["dtype"], "runner": "eager"}
        assert engine["model"].startswith("F5TTS_tiny:") and engine["dtype"] in ("fp32", "bf16")
    assert engine == {**expected, "graphs": 0, "compile": "off"}


def test_without_weights_timestamps_are_refused(tmp_path):
    env = {"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{tmp_path}/store", "ALIGNER_PATH": str(tmp_path / "none")}
    with running_worker(env, tmp_path / "worker.log") as running:
        failed = running.runsync({"text": TEXT, "timestamps": True})
        assert failed["status"] == "FAILED"
        assert failed["error"].startswith("invalid_input: ") and "built without" in failed["error"]
        assert not (tmp_path / "store" / "outputs").exists()  # refused before any work
        health = running.runsync({"endpoint": "health"})["output"]
        assert health["aligner"]["available"] is False and health["healthy"] is True
        assert running.runsync({"text": "Plain jobs still work."})["status"] == "COMPLETED"


@pytest.mark.parametrize("present", [True, False])
def test_doctor_says_whether_the_weights_are_there(present, aligner_env, tmp_path):
    path = aligner_env["ALIGNER_PATH"] if present else str(tmp_path / "none")
    env = {"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{tmp_path}/store", "ALIGNER_PATH": path}
    env["PATH"] = "/usr/bin:/bin"
    done = subprocess.run([sys.executable, "-m", "entrypoints.cli", "doctor"], cwd=ROOT, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (line,) = [line for line in done.stdout.splitlines() if " aligner " in line]
    if present:
        assert line.startswith("ok   aligner loaded") and "(loaded)" in line
    else:
        assert line.startswith("ok   aligner weights") and "absent" in line

"""A warm worker speaks a voice with its current transcript, not the one it first cached.

The engine caches each prepared reference by the audio's sha256. A voice overwritten with
the same audio and a corrected `ref_text`, or the same clip uploaded under a second name with
another transcript, must be spoken as a fresh worker speaks it: same seed, same bytes. Real
engine (tiny checkpoint, fp32 on the CPU), runpod's local API, one store shared by both workers.
"""

from __future__ import annotations

import base64

import pytest

from tests.e2e.worker import running_worker
from tests.helpers import audio_file, tiny_f5_env

pytestmark = pytest.mark.slow

CLIP = base64.b64encode(audio_file(3.0)).decode("ascii")
FIRST = "Wrong words, typed in a hurry and never checked."
CORRECTED = "The corrected transcript of this short clip."
OTHER = "A second name for the clip, with its own text."


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return {
        **tiny_f5_env(tmp_path_factory.mktemp("tiny")),
        "TTS_DEVICE": "cpu",
        "STORAGE_URL": f"file://{tmp_path_factory.mktemp('store')}",
        "VOICE_CACHE_DIR": str(tmp_path_factory.mktemp("voice-cache")),
    }


def _speak(worker, voice: str) -> bytes:
    job = {"text": "Hello there, how are you?", "voice": voice, "seed": 1234, "nfe_step": 4, "return": "base64"}
    answer = worker.runsync(job)
    assert answer["status"] == "COMPLETED", answer
    return base64.b64decode(answer["output"]["audio_base64"])


def _upload(worker, name: str, ref_text: str, overwrite: bool = False) -> None:
    job = {"endpoint": "upload", "voice_name": name, "voice_file_base64": CLIP, "ref_text": ref_text}
    answer = worker.runsync(job | {"overwrite": overwrite})
    assert answer["status"] == "COMPLETED", answer
    assert answer["output"]["voice"]["ref_text"] == ref_text


def test_a_warm_worker_speaks_the_current_transcript_as_a_fresh_worker_does(env, tmp_path):
    with running_worker(env, tmp_path / "warm.log") as warm:
        _upload(warm, "clip", FIRST)
        first = _speak(warm, "clip")  # the reference is now prepared and cached
        _upload(warm, "clip", CORRECTED, overwrite=True)
        _upload(warm, "clip-two", OTHER)
        warm_corrected = _speak(warm, "clip")
        warm_other = _speak(warm, "clip-two")
    with running_worker(env, tmp_path / "fresh.log") as fresh:
        fresh_other = _speak(fresh, "clip-two")
        fresh_corrected = _speak(fresh, "clip")
    assert first != fresh_corrected  # the transcript matters to the model, so the check below can fail
    assert warm_corrected == fresh_corrected
    assert warm_other == fresh_other

"""What Open WebUI and voice-agent frameworks need from the OpenAI-compatible server, live on
loopback: `GET /v1/audio/models`, the list routes without the key when PUBLIC_LIST_ROUTES
opts in, voice aliases (VOICE_ALIASES) in the list and in speech, and `speech.progress`
events in the SSE stream. Fake engine."""

from __future__ import annotations

import json

import pytest
import requests

from application.bootstrap import bootstrap
from entrypoints.openai_api import ServerSettings
from tests.e2e.openai_server import running_openai_server, serving_in_process
from tests.helpers import audio_file, make_test_container

pytestmark = pytest.mark.slow
KEY = "sk-test-integrations"
AUTH = {"Authorization": f"Bearer {KEY}"}
PARAGRAPH = " ".join(f"Sentence number {i} of a paragraph the server streams with progress." for i in range(12))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {
        "TTS_ENGINE": "fake",
        "STORAGE_URL": f"file://{tmp_path_factory.mktemp('store')}",
        "VOICE_CACHE_DIR": str(tmp_path_factory.mktemp("voice-cache")),
        "API_KEY": KEY,
        "PUBLIC_LIST_ROUTES": "1",
        "VOICE_ALIASES": "alloy=narrator,echo=ghost",
    }
    with running_openai_server(env, tmp_path_factory.mktemp("logs") / "server.log") as running:
        answer = requests.post(
            f"{running.base_url}/v1/audio/voices",
            headers=AUTH,
            files={"audio_sample": ("narrator.wav", audio_file(3.0), "audio/wav")},
            data={"name": "narrator", "ref_text": "A calm and steady voice for the tests."},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        yield running


def speech(server, voice: str, **extra) -> requests.Response:
    body = {"model": "tts-1", "input": "Hello there.", "voice": voice, "response_format": "pcm", "stream": False}
    return requests.post(f"{server.base_url}/v1/audio/speech", headers=AUTH, json={**body, **extra}, timeout=60)


def test_audio_models_answer_in_open_webui_shape(server):
    answer = requests.get(f"{server.base_url}/v1/audio/models", headers=AUTH, timeout=10)
    assert answer.status_code == 200
    models = answer.json()["models"]
    assert {"id": "f5-tts"} in models and {"id": "tts-1"} in models


def test_the_list_routes_answer_without_the_key_only_when_opted_in(server):
    base = server.base_url
    assert requests.get(f"{base}/v1/audio/models", timeout=10).status_code == 200
    assert requests.get(f"{base}/v1/audio/voices", timeout=10).status_code == 200
    assert requests.get(f"{base}/v1/models", timeout=10).status_code == 401  # only the two list routes
    assert (
        requests.post(f"{base}/v1/audio/speech", json={"model": "tts-1", "input": "Hi."}, timeout=10).status_code == 401
    )
    files = {"audio_sample": ("x.wav", audio_file(2.0), "audio/wav")}
    assert requests.post(f"{base}/v1/audio/voices", files=files, data={"name": "x"}, timeout=10).status_code == 401
    assert requests.delete(f"{base}/v1/audio/voices/narrator", timeout=10).status_code == 401


def test_without_the_opt_in_the_list_routes_need_the_key():
    api = bootstrap(container=make_test_container())
    with serving_in_process(api, ServerSettings(api_key=KEY)) as running:
        for path in ("/v1/audio/models", "/v1/audio/voices"):
            assert requests.get(f"{running.base_url}{path}", timeout=10).status_code == 401
            assert requests.get(f"{running.base_url}{path}", headers=AUTH, timeout=10).status_code == 200


def test_the_voice_list_shows_the_aliases_that_speak(server):
    voices = requests.get(f"{server.base_url}/v1/audio/voices", timeout=10).json()["voices"]
    by_id = {voice["id"]: voice for voice in voices}
    assert set(by_id) == {"alloy", "default", "narrator"}  # echo's voice does not exist: not offered
    assert by_id["alloy"]["name"] == "alloy" and by_id["alloy"]["alias_of"] == "narrator"
    assert by_id["alloy"]["ref_text"] == by_id["narrator"]["ref_text"]


def test_an_alias_speaks_its_voice_and_a_broken_alias_is_not_a_fallback(server):
    alias, voice = speech(server, "alloy", seed=5), speech(server, "narrator", seed=5)
    assert alias.status_code == 200 and alias.headers["x-voice"] == "alloy"
    assert alias.content == voice.content
    broken = speech(server, "echo")
    assert broken.status_code == 404
    error = broken.json()["error"]
    assert error["code"] == "voice_not_found" and "'echo'" in error["message"] and "'ghost'" in error["message"]
    nova = speech(server, "nova")  # an OpenAI name that is neither stored nor an alias: the default voice
    assert nova.status_code == 200 and nova.headers["x-voice"] == "default"


def test_the_sse_stream_carries_progress_between_its_audio(server):
    body = {"model": "tts-1", "input": PARAGRAPH, "voice": "alloy", "response_format": "pcm", "stream_format": "sse"}
    with requests.post(f"{server.base_url}/v1/audio/speech", headers=AUTH, json=body, stream=True, timeout=60) as r:
        assert r.status_code == 200
        events = [json.loads(line[6:]) for line in r.iter_lines(decode_unicode=True) if line.startswith("data: ")]
    kinds = [event["type"] for event in events]
    assert kinds[0] == "speech.audio.delta" and kinds[-1] == "speech.audio.done"
    progress = [event for event in events if event["type"] == "speech.progress"]
    assert all(kinds[i - 1] == "speech.audio.delta" for i, kind in enumerate(kinds) if kind == "speech.progress")
    assert len(progress) >= 3 and set(progress[0]) == {"type", "chunks_done", "chunks_total", "audio_seconds",
                                                       "text_share"}  # fmt: skip
    done = [p["chunks_done"] for p in progress]
    assert done == sorted(set(done)) and done[-1] == progress[-1]["chunks_total"]
    assert progress[-1]["text_share"] == 1.0 and 0 < progress[0]["text_share"] < 1
    seconds = [p["audio_seconds"] for p in progress]
    assert seconds == sorted(seconds) and seconds[0] > 0

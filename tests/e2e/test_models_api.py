"""Tiny checkpoints of three architectures (v1 Base layout as the default, v0 Base and Small
layouts from TTS_MODELS, each with its own vocabulary; a fourth model shares the v0 files so
the least recently used one must unload) served by one worker: through runpod's local API
and through the OpenAI-compatible server, both in subprocesses."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.openai_server import running_openai_server
from tests.e2e.worker import running_worker
from tests.helpers import audio_file, script_settings, tiny_f5_env

pytestmark = pytest.mark.slow
KEY = "sk-test-models-0123"
STEPS = 4  # the fewest ODE steps: which model speaks does not depend on the count, the tiny checkpoints' time does


@pytest.fixture(scope="module")
def models_env(tmp_path_factory):
    env = tiny_f5_env(tmp_path_factory.mktemp("tiny-v1"))
    models = []
    written: dict[str, dict[str, str]] = {}
    for name, arch, language in (("fr-tiny", "v0", "fr"), ("de-tiny", "small", "de"), ("it-tiny", "v0", "it")):
        if arch not in written:
            out = tmp_path_factory.mktemp(f"tiny-{arch}")
            written[arch] = script_settings("make_tiny_checkpoint.py", out, "--arch", arch)
        files = written[arch]
        models.append({"name": name, "architecture": files["F5_MODEL"], "checkpoint": files["F5_CKPT_FILE"],
                       "vocab": files["F5_VOCAB_FILE"], "languages": [language], "licence": "cc0"})  # fmt: skip
    return {
        **env,
        "TTS_MODELS": json.dumps(models),
        "MAX_LOADED_MODELS": "2",
        "STORAGE_URL": f"file://{tmp_path_factory.mktemp('store')}",
        "VOICE_CACHE_DIR": str(tmp_path_factory.mktemp("voice-cache")),
    }


@pytest.fixture(scope="module")
def worker(models_env, tmp_path_factory):
    with running_worker(models_env, tmp_path_factory.mktemp("logs") / "worker.log") as running:
        yield running


def output_of(answer: dict) -> dict:
    assert answer["status"] == "COMPLETED", answer
    return answer["output"]


def job(text: str, model: str | None = None) -> dict:
    return {"text": text, "return": "base64", "nfe_step": STEPS} | ({"model": model} if model else {})


def loaded(worker) -> dict[str, bool]:
    return {m["name"]: m["loaded"] for m in output_of(worker.runsync({"endpoint": "list_models"}))["models"]}


def test_each_request_speaks_in_its_model_and_the_least_recently_used_unloads(worker):
    assert loaded(worker) == {"F5TTS_tiny": True, "fr-tiny": False, "de-tiny": False, "it-tiny": False}
    french = output_of(worker.runsync(job("Il a 21 ans.", "fr-tiny")))
    assert (french["model"], french["spoken_text"]) == ("fr-tiny", "Il a vingt et un ans.")
    assert french["duration"] > 0
    german = output_of(worker.runsync(job("Er ist 21.", "de-tiny")))
    assert (german["model"], german["spoken_text"]) == ("de-tiny", "Er ist einundzwanzig.")
    # three architectures resident side by side: v1 (the default), v0 and Small
    assert loaded(worker) == {"F5TTS_tiny": True, "fr-tiny": True, "de-tiny": True, "it-tiny": False}
    default = output_of(worker.runsync(job("I am 21.")))
    assert (default["model"], default["spoken_text"]) == ("F5TTS_tiny", "I am twenty-one.")
    output_of(worker.runsync(job("Er ist 22.", "de-tiny")))  # fr-tiny is now oldest
    italian = output_of(worker.runsync(job("Ha 21 anni.", "it-tiny")))
    assert (italian["model"], italian["spoken_text"]) == ("it-tiny", "Ha ventuno anni.")
    assert loaded(worker) == {"F5TTS_tiny": True, "fr-tiny": False, "de-tiny": True, "it-tiny": True}
    again = output_of(worker.runsync(job("Il a 21 ans.", "fr-tiny")))
    assert again["model"] == "fr-tiny"  # loaded again on its next job


def test_jobs_of_several_models_at_once_each_speak_in_their_own(worker):
    jobs = [({"text": text, "model": model, "return": "base64", "nfe_step": STEPS, "seed": 3}, model)
            for model, text in [("fr-tiny", "Bonjour."), ("de-tiny", "Guten Tag."), ("F5TTS_tiny", "Hello."),
                                ("de-tiny", "Danke."), ("fr-tiny", "Merci.")]]  # fmt: skip
    with ThreadPoolExecutor(len(jobs)) as pool:
        answers = list(pool.map(lambda job: worker.runsync(job[0]), jobs))
    assert [output_of(answer)["model"] for answer in answers] == [model for _, model in jobs]


def test_list_models_describes_the_registry(worker):
    models = output_of(worker.runsync({"endpoint": "list_models"}))["models"]
    assert [(m["name"], m["languages"], m["default"]) for m in models] == [
        ("F5TTS_tiny", ["en", "zh"], True), ("fr-tiny", ["fr"], False), ("de-tiny", ["de"], False),
        ("it-tiny", ["it"], False)]  # fmt: skip
    assert all(m["licence"] for m in models)


@pytest.mark.parametrize(
    ("job", "found"),
    [
        (
            {"text": "hello", "model": "tts-9"},
            "unknown model 'tts-9'; this worker serves F5TTS_tiny, fr-tiny, de-tiny, it-tiny",
        ),
        ({"text": "Die Straße", "model": "fr-tiny"}, "'ß'"),
        ({"text": "Très bien", "model": "de-tiny"}, "'è'"),
    ],
)
def test_unknown_models_and_vocabulary_misses_are_invalid_input(worker, job, found):
    answer = worker.runsync(job)
    assert answer["status"] == "FAILED", answer
    assert answer["error"].startswith("invalid_input: ") and found in answer["error"]


@pytest.fixture(scope="module")
def server(models_env, tmp_path_factory):
    env = {**models_env, "API_KEY": KEY}
    with running_openai_server(env, tmp_path_factory.mktemp("logs") / "server.log") as running:
        yield running


def test_the_openai_server_speaks_in_the_model_named(server):
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"input": "Er ist 21.", "voice": "alloy", "response_format": "wav", "stream": False, "nfe_step": STEPS}
    for model in ("de-tiny", "fr-tiny", "tts-1"):
        response = requests.post(f"{server.base_url}/v1/audio/speech", json={**body, "model": model},
                                 headers=headers, timeout=120)  # fmt: skip
        assert response.status_code == 200, response.text
        assert response.content[:4] == b"RIFF"
    refused = requests.post(f"{server.base_url}/v1/audio/speech", json={**body, "model": "tts-9"}, headers=headers,
                            timeout=60)  # fmt: skip
    assert refused.status_code == 400 and "fr-tiny" in refused.json()["error"]["message"]
    voice = requests.post(f"{server.base_url}/v1/audio/voices", headers=headers, timeout=60,
                          files={"audio_sample": ("v.wav", audio_file(2.0), "audio/wav")},
                          data={"name": "hans", "ref_text": "Guten Tag, ich bin Hans.", "model": "de-tiny",
                                "language": "de"})  # fmt: skip
    assert voice.status_code == 200, voice.text
    assert (voice.json()["model"], voice.json()["language"]) == ("de-tiny", "de")
    spoken = requests.post(f"{server.base_url}/v1/audio/speech", json={**body, "model": "tts-1", "voice": "hans"},
                           headers=headers, timeout=120)  # fmt: skip
    assert spoken.status_code == 200, spoken.text
    listed = requests.get(f"{server.base_url}/v1/models", headers=headers, timeout=10).json()["data"]
    served = {m["id"]: m for m in listed if "languages" in m}
    assert set(served) == {"F5TTS_tiny", "fr-tiny", "de-tiny", "it-tiny"}
    assert served["fr-tiny"]["languages"] == ["fr"] and served["fr-tiny"]["architecture"].endswith(".yaml")

"""The official `openai` client against the OpenAI-compatible server, live on loopback in a
subprocess: on the fake engine and on the real F5-TTS engine with the tiny checkpoint."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import requests
import soundfile as sf

from tests.audio_decode import decode
from tests.e2e.openai_server import running_openai_server
from tests.helpers import audio_file, tiny_f5_env
from tests.lazy_import import lazily

openai = lazily("openai")  # the official client: 0.8 s of imports, paid by the worker that runs these tests

pytestmark = pytest.mark.slow
KEY = "sk-test-0123456789"
MAX_VOICE_BYTES = 400_000
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm", "ogg")
# the fewest ODE steps: what these tests check (formats, pieces, events) does not depend on the count,
# the tiny checkpoint's time does
STEPS = 4
PARAGRAPH = " ".join(f"Sentence number {i} of a paragraph the server streams." for i in range(6))


@pytest.fixture(scope="module", params=["fake", "f5"])
def server(request, tmp_path_factory):
    env = {"TTS_ENGINE": "fake"} if request.param == "fake" else tiny_f5_env(tmp_path_factory.mktemp("tiny"))
    env |= {
        "STORAGE_URL": f"file://{tmp_path_factory.mktemp('store')}",
        "VOICE_CACHE_DIR": str(tmp_path_factory.mktemp("voice-cache")),
        "API_KEY": KEY,
        "MAX_VOICE_BYTES": str(MAX_VOICE_BYTES),
    }
    with running_openai_server(env, tmp_path_factory.mktemp("logs") / "server.log") as running:
        yield running


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)


def speech(client, text="Every format, decoded.", **kwargs):
    fields = {"model": "tts-1", "voice": "alloy", "input": text, **kwargs}
    return client.audio.speech.create(**fields)


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "whole"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_speech_in_every_format(client, fmt, streamed):
    answer = speech(client, response_format=fmt, extra_body={"seed": 7, "stream": streamed, "nfe_step": STEPS})
    samples, rate = decode(answer.content, fmt)
    assert rate == (48000 if fmt == "opus" else 24000)
    assert 0.3 < samples.size / rate < 10 and np.isfinite(samples).all()
    if fmt == "pcm":
        assert answer.response.headers["content-type"] == "audio/pcm"
    if not streamed:
        assert answer.response.headers["x-seed"] == "7" and answer.response.headers["x-voice"] == "default"


def test_streamed_audio_arrives_in_pieces_that_make_one_file(client):
    with client.audio.speech.with_streaming_response.create(
        model="f5-tts",
        voice="default",
        input=PARAGRAPH,
        response_format="wav",
        extra_body={"seed": 3, "nfe_step": STEPS},
    ) as response:
        assert response.headers.get("transfer-encoding") == "chunked" and "content-length" not in response.headers
        pieces = list(response.iter_bytes())
    data = b"".join(pieces)
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")  # the streaming header reads to the end
    assert rate == 24000 and samples.size / rate > 3


def test_sse_sends_openai_events_whose_audio_joins_up(client):
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts",
        voice="alloy",
        input=PARAGRAPH,
        response_format="pcm",
        stream_format="sse",
        extra_body={"nfe_step": STEPS},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[len("data: ") :]) for line in response.iter_lines() if line.startswith("data: ")]
    deltas, done = [e for e in events[:-1] if e["type"] != "speech.progress"], events[-1]  # progress: its own test
    assert {e["type"] for e in deltas} == {"speech.audio.delta"} and len(deltas) > 1
    assert done["type"] == "speech.audio.done"
    assert done["usage"]["input_tokens"] == len(PARAGRAPH)
    assert done["usage"]["total_tokens"] == done["usage"]["input_tokens"] + done["usage"]["output_tokens"] > 0
    samples, _ = decode(b"".join(base64.b64decode(e["audio"]) for e in deltas), "pcm")
    assert samples.size == pytest.approx(done["usage"]["output_tokens"] * 256, abs=256)


def test_voice_upload_list_speak_delete(client):
    created = client.audio.voices.create(
        audio_sample=("anna.wav", audio_file(3.0, 22050), "audio/wav"),
        consent="not-used",
        name="anna",
        extra_body={"ref_text": "Anna speaks here."},
    )
    assert (created.id, created.name, created.object, created.type) == ("anna", "anna", "audio.voice", "audio_sample")
    listed = client.get("/audio/voices", cast_to=object)
    voices = {v["id"]: v for v in listed["data"]}
    assert listed["voices"] == listed["data"] and {"anna", "default"} <= set(voices)
    assert voices["anna"]["ref_text"] == "Anna speaks here." and voices["anna"]["duration"] == pytest.approx(3.0)

    spoken = speech(client, voice={"id": "anna"}, response_format="flac", extra_body={"stream": False})
    assert spoken.response.headers["x-voice"] == "anna"
    with pytest.raises(openai.ConflictError) as exists:
        client.audio.voices.create(audio_sample=("a.wav", audio_file(2.0), "audio/wav"), consent="-", name="anna")
    assert exists.value.code == "voice_exists"

    deleted = client.audio.voices.delete("anna")
    assert (deleted.id, deleted.deleted, deleted.object) == ("anna", True, "audio.voice.deleted")
    with pytest.raises(openai.NotFoundError) as gone:
        speech(client, voice="anna")
    assert gone.value.code == "voice_not_found" and gone.value.body["param"] == "voice"


def test_models_and_health(client, server, request):
    assert {"f5-tts", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"} <= {m.id for m in client.models.list()}
    health = requests.get(f"{server.base_url}/health", timeout=10)  # open without a key, for load balancers
    assert health.status_code == 200 and health.json()["healthy"] is True
    engine = health.json()["engine"]
    runs = {"fake": ("fake-engine-v1", "fake"), "f5": ("F5TTS_tiny:model_random.safetensors:", "eager")}
    model, runner = runs[request.node.callspec.params["server"]]
    assert engine["model"].startswith(model) and engine["runner"] == runner and engine["compile"] == "off"


def test_every_error_maps_to_an_openai_error_object(client, server):
    def failing(call, error_type, status, code, param=None):
        with pytest.raises(error_type) as caught:
            call()
        assert caught.value.status_code == status and caught.value.code == code, caught.value.body
        assert set(caught.value.body) == {"message", "type", "param", "code"}
        assert caught.value.body["type"] == ("server_error" if status >= 500 else "invalid_request_error")
        if param:
            assert caught.value.body["param"] == param
        return caught.value

    failing(lambda: speech(client, text="  "), openai.BadRequestError, 400, "invalid_input", "input")
    failing(lambda: speech(client, model="whisper-1"), openai.BadRequestError, 400, "invalid_input", "model")
    huge_nfe = {"nfe_step": 1000}
    failing(lambda: speech(client, extra_body=huge_nfe), openai.BadRequestError, 400, "invalid_input", "nfe_step")
    failing(lambda: speech(client, voice="../etc"), openai.BadRequestError, 400, "invalid_input", "voice")
    failing(lambda: speech(client, voice="nobody"), openai.NotFoundError, 404, "voice_not_found", "voice")
    failing(lambda: speech(client, speed="fast"), openai.UnprocessableEntityError, 422, "invalid_input", "speed")
    failing(lambda: speech(client, response_format="aiff"), openai.UnprocessableEntityError, 422, "invalid_input")
    failing(lambda: speech(client, extra_body={"text": "x"}), openai.UnprocessableEntityError, 422, "invalid_input")
    too_big = ("big.wav", audio_file(10.0, 24000), "audio/wav")  # 480 kB over the 400 kB limit
    error = failing(
        lambda: client.audio.voices.create(audio_sample=too_big, consent="-", name="big", extra_body={"ref_text": "x"}),
        openai.APIStatusError,
        413,
        "invalid_input",
    )
    assert "larger than" in error.message
    noise = ("noise.wav", b"RIFF not really audio" * 10, "audio/wav")
    failing(
        lambda: client.audio.voices.create(audio_sample=noise, consent="-", name="noise", extra_body={"ref_text": "x"}),
        openai.BadRequestError,
        400,
        "invalid_audio",
    )
    failing(lambda: client.audio.voices.delete("nobody"), openai.NotFoundError, 404, "voice_not_found")
    wrong_key = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-wrong", max_retries=0)
    failing(lambda: wrong_key.models.list(), openai.AuthenticationError, 401, "invalid_api_key")
    anonymous = requests.post(f"{server.base_url}/v1/audio/speech", json={"model": "tts-1", "input": "hi"}, timeout=10)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"

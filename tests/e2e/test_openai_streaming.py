"""The OpenAI-compatible server in this process (uvicorn in a thread, real HTTP on loopback)
around an engine the test holds: streamed bytes leave while synthesis is still under way,
failures map to 500 without details, auth off, CORS, and body limits on chunked uploads."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass, field

import httpx
import pytest
import structlog

from adapters.fake_engine import FakeEngine
from application.bootstrap import bootstrap
from entrypoints.openai_api import ServerSettings
from tests.audio_decode import decode
from tests.e2e.openai_server import serving_in_process
from tests.e2e.worker import ROOT
from tests.helpers import make_test_container
from tests.lazy_import import lazily

openai = lazily("openai")  # the official client: 0.8 s of imports, paid by the worker that runs these tests

PARAGRAPH = " ".join(f"Sentence number {i} of a paragraph the server streams." for i in range(6))


@dataclass
class HeldEngine(FakeEngine):
    """Synthesizes the first batch (the stream's first chunk), then holds every later batch
    until the test releases it, or fails it when `fail_after_first` is set."""

    fail_after_first: bool = False
    batches: int = 0
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def synthesize(self, items, **options):
        self.batches += 1
        if self.batches > 1:
            if self.fail_after_first:
                raise RuntimeError("secret internal detail")
            self.holding.set()
            if not self.release.wait(60):
                raise RuntimeError("the test never released the engine")
        return super().synthesize(items, **options)


def serve(engine, settings=None):
    return serving_in_process(bootstrap(container=make_test_container(engine=engine)), settings)


def client_for(server, key="unused"):
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0)


@pytest.mark.parametrize("fmt", ["pcm", "wav", "mp3", "opus", "aac"])
def test_first_bytes_arrive_while_the_rest_is_still_being_synthesized(fmt):
    engine = HeldEngine()
    with serve(engine) as server:
        create = client_for(server).audio.speech.with_streaming_response.create
        with create(model="f5-tts", voice="default", input=PARAGRAPH, response_format=fmt) as response:
            pieces = response.iter_bytes()
            first = next(pieces)
            # Order of events, not timing: the client holds audio while the engine is held
            # on the second batch, which only the test can release.
            assert engine.holding.wait(60) and engine.batches == 2 and not engine.release.is_set()
            assert first
            engine.release.set()
            data = first + b"".join(pieces)
    samples, rate = decode(data, fmt)
    assert samples.size / rate > 5


def test_an_engine_failure_is_a_500_without_its_details():
    """The details go to the log instead (crashes_logged)."""
    engine = HeldEngine(fail_after_first=True)
    engine.batches = 1  # every call fails
    with structlog.testing.capture_logs() as logs, serve(engine) as server:
        for extra in ({"stream": False}, {}):
            with pytest.raises(openai.InternalServerError) as caught:
                client_for(server).audio.speech.create(model="tts-1", voice="alloy", input="Hi.", extra_body=extra)
            assert caught.value.status_code == 500 and caught.value.code == "engine_error"
            assert caught.value.body["type"] == "server_error" and "secret" not in caught.value.message
    assert crashes_logged(logs) == ["secret internal detail"] * 2


def crashes_logged(logs: list[dict]) -> list[str]:
    """The failures logged with their details (captured as events: rendered by structlog's
    default console renderer, rich took about 1.4 s of CPU per traceback)."""
    return [str(e["exc_info"]) for e in logs if e["event"] in ("request_crashed", "speech_crashed")]


def test_a_failure_midway_ends_sse_with_an_error_event():
    with structlog.testing.capture_logs() as logs, serve(HeldEngine(fail_after_first=True)) as server:
        create = client_for(server).audio.speech.with_streaming_response.create
        with create(model="tts-1", voice="alloy", input=PARAGRAPH, response_format="pcm", stream_format="sse") as resp:
            events = [json.loads(line[6:]) for line in resp.iter_lines() if line.startswith("data: ")]
    assert [e["type"] for e in events if e["type"] != "speech.progress"] == ["speech.audio.delta", "error"]
    assert events[-1]["error"]["code"] == "engine_error" and "secret" not in events[-1]["error"]["message"]
    assert crashes_logged(logs) == ["secret internal detail"]


def test_a_failure_midway_cuts_the_audio_stream():
    with structlog.testing.capture_logs() as logs, serve(HeldEngine(fail_after_first=True)) as server:
        create = client_for(server).audio.speech.with_streaming_response.create
        # an incomplete chunked body, never a short "file"
        with (
            create(model="tts-1", voice="alloy", input=PARAGRAPH, response_format="pcm") as response,
            pytest.raises(Exception, match="incomplete chunked read"),
        ):
            b"".join(response.iter_bytes())
    assert crashes_logged(logs) == ["secret internal detail"]


def test_auth_is_off_without_a_key_and_on_with_one():
    with serve(FakeEngine()) as server:
        assert httpx.get(f"{server.base_url}/v1/models").status_code == 200
    with serve(FakeEngine(), ServerSettings(api_key="sk-right")) as server:
        assert httpx.get(f"{server.base_url}/v1/models").status_code == 401
        wrong = httpx.get(f"{server.base_url}/v1/models", headers={"Authorization": "Bearer sk-wrong"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
        assert "f5-tts" in {m.id for m in client_for(server, "sk-right").models.list()}


def test_cors_is_off_unless_origins_are_configured():
    preflight = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
    with serve(FakeEngine()) as server:
        answer = httpx.options(f"{server.base_url}/v1/audio/speech", headers=preflight)
        assert "access-control-allow-origin" not in answer.headers
    with serve(FakeEngine(), ServerSettings(api_key="k", cors_origins=("http://localhost:3000",))) as server:
        answer = httpx.options(f"{server.base_url}/v1/audio/speech", headers=preflight)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "http://localhost:3000"
        other = httpx.options(f"{server.base_url}/v1/audio/speech", headers={**preflight, "Origin": "http://evil"})
        assert "access-control-allow-origin" not in other.headers


def test_a_chunked_body_over_the_limit_is_refused_as_it_arrives():
    """No Content-Length to check up front: the server counts bytes and stops at the limit."""

    def chunks():
        yield from (b"x" * 65536 for _ in range(64))  # 4 MiB, far over the speech body limit

    with serve(FakeEngine()) as server:
        json_type = {"Content-Type": "application/json"}
        answer = httpx.post(f"{server.base_url}/v1/audio/speech", content=chunks(), headers=json_type)
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "invalid_input"
    assert "larger than" in answer.json()["error"]["message"]


def test_the_server_refuses_to_listen_beyond_loopback_without_a_key():
    command = [sys.executable, "-m", "entrypoints.openai_api", "--host", "0.0.0.0", "--port", "1"]
    env = {"PATH": "/usr/bin:/bin", "TTS_ENGINE": "fake"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "refusing to listen on 0.0.0.0 without API_KEY" in done.stderr

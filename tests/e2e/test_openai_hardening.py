"""The OpenAI-compatible server against what a hostile web page or client can send: simple
cross-site requests, DNS rebinding, the shared `default` voice, malformed multipart and
JSON bodies, more speech requests than it can hold, clients that hang up mid-stream, and
clients that trickle their request a byte at a time."""

from __future__ import annotations

import asyncio
import io
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
import soundfile as sf
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.fake_engine import FakeEngine
from application.bootstrap import bootstrap
from entrypoints.openai_api import HEALTH_TTL, HealthCache, ServerSettings
from tests.audio_decode import decode
from tests.e2e.openai_server import running_openai_server, serving_in_process
from tests.e2e.test_openai_streaming import PARAGRAPH, HeldEngine, serve
from tests.helpers import audio_file, make_test_container

SPEECH = {"model": "tts-1", "input": "Hello there.", "voice": "default", "response_format": "pcm"}
EVIL = "http://evil.example"
#: every request here goes through this one client: `httpx.get` and its kin build a client, and
#: its TLS context from certifi's bundle, per call (5 of the fuzz test's 7 s of CPU went there).
#: Nothing is kept alive, so each request still arrives on a connection of its own.
http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))


def upload_form(name: str = "mine", **fields: str) -> dict:
    return {"files": {"audio_sample": ("v.wav", audio_file(3.0), "audio/wav")}, "data": {"name": name, **fields}}


def error_code(answer: httpx.Response) -> str:
    return answer.json()["error"]["code"]


def test_json_routes_take_only_json():
    with serve(FakeEngine()) as server:
        url = f"{server.base_url}/v1/audio/speech"
        as_text = http.post(url, content=httpx.Request("POST", url, json=SPEECH).content)  # no Content-Type
        plain = http.post(url, json=SPEECH, headers={"Content-Type": "text/plain"})
        form = http.post(url, data={"model": "tts-1", "input": "Hi."})
        good = http.post(url, json=SPEECH, headers={"Content-Type": "application/json; charset=utf-8"})
    assert [as_text.status_code, plain.status_code, form.status_code] == [415, 415, 415]
    assert error_code(plain) == "invalid_input" and "application/json" in plain.json()["error"]["message"]
    assert good.status_code == 200 and good.content


def test_a_foreign_origin_changes_nothing_unless_listed():
    with serve(FakeEngine()) as server:
        base = server.base_url
        same = {"Origin": base}
        assert http.post(f"{base}/v1/audio/voices", **upload_form(), headers={"Origin": EVIL}).status_code == 403
        assert http.post(f"{base}/v1/audio/speech", json=SPEECH, headers={"Origin": EVIL}).status_code == 403
        assert http.post(f"{base}/v1/audio/speech", json=SPEECH, headers={"Origin": "null"}).status_code == 403
        # a page served by this server itself, and clients that send no Origin, are served
        assert http.post(f"{base}/v1/audio/voices", **upload_form(), headers=same).status_code == 200
        assert http.delete(f"{base}/v1/audio/voices/mine", headers={"Origin": EVIL}).status_code == 403
        assert http.get(f"{base}/v1/audio/voices", headers={"Origin": EVIL}).status_code == 200  # reads change nothing
        assert http.delete(f"{base}/v1/audio/voices/mine", headers=same).status_code == 200
    with serve(FakeEngine(), ServerSettings(cors_origins=("http://localhost:3000",))) as server:
        listed = http.post(
            f"{server.base_url}/v1/audio/speech", json=SPEECH, headers={"Origin": "http://localhost:3000"}
        )
        assert listed.status_code == 200 and listed.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_without_a_key_only_loopback_host_names_are_answered():
    """DNS rebinding: a page at rebind.evil.example resolves its name to 127.0.0.1, and its
    requests carry `Host: rebind.evil.example`."""
    with serve(FakeEngine()) as server:
        port = server.base_url.rsplit(":", 1)[1]
        rebound = http.get(f"{server.base_url}/v1/audio/voices", headers={"Host": "rebind.evil.example"})
        assert rebound.status_code == 421 and error_code(rebound) == "invalid_input"
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", "127.0.0.2", f"[::1]:{port}"):
            assert http.get(f"{server.base_url}/v1/models", headers={"Host": host}).status_code == 200, host
    with serve(FakeEngine(), ServerSettings(api_key="sk-k")) as server:  # a key is the gate: any name
        keyed = {"Host": "tts.example", "Authorization": "Bearer sk-k"}
        named = http.get(f"{server.base_url}/v1/models", headers=keyed)
        assert named.status_code == 200


def test_the_built_in_voice_cannot_be_replaced_or_deleted():
    with serve(FakeEngine()) as server:
        base = server.base_url
        replaced = http.post(f"{base}/v1/audio/voices", **upload_form("default", overwrite="true"))
        deleted = http.delete(f"{base}/v1/audio/voices/default")
        stored = http.get(f"{base}/v1/audio/voices").json()["data"]
    assert replaced.status_code == 400 and "cannot be replaced" in replaced.json()["error"]["message"]
    assert deleted.status_code == 400 and error_code(deleted) == "invalid_input"
    assert [v["created_at"] for v in stored if v["id"] == "default"] == [0]  # still the built-in one


@pytest.mark.parametrize(
    "kind",
    ["three files", "seventeen fields", "2 MB text field", "no boundary", "JSON nested 50,000 deep"],
)
def test_bodies_starlette_or_json_refuse_are_the_clients_mistake(kind):
    one = ("v.wav", audio_file(1.0), "audio/wav")
    requests = {
        "three files": {"files": [("audio_sample", one), ("file", one), ("extra", one)], "data": {"name": "x"}},
        "seventeen fields": {"files": {"audio_sample": one}, "data": {f"f{i}": "x" for i in range(17)}},
        "2 MB text field": {"files": {"audio_sample": one}, "data": {"name": "x", "ref_text": "a" * (2 << 20)}},
        "no boundary": {"content": b"--x\r\n", "headers": {"Content-Type": "multipart/form-data"}},
    }
    with serve(FakeEngine()) as server:
        if kind.startswith("JSON"):
            body = b"[" * 50_000 + b"]" * 50_000
            answer = http.post(
                f"{server.base_url}/v1/audio/speech", content=body, headers={"Content-Type": "application/json"}
            )
        else:
            answer = http.post(f"{server.base_url}/v1/audio/voices", **requests[kind])
    assert answer.status_code == 400 and error_code(answer) == "invalid_input", answer.text


def test_a_full_server_answers_429_and_an_abandoned_stream_frees_its_place():
    engine = HeldEngine()
    url_of = "{}/v1/audio/speech".format
    with structlog.testing.capture_logs() as logs, serve(engine, ServerSettings(max_speech=1)) as server:
        url = url_of(server.base_url)
        with http.stream("POST", url, json={**SPEECH, "input": PARAGRAPH}, timeout=60) as held:
            assert next(held.iter_bytes())  # the first chunk is out; the engine holds the second batch
            assert engine.holding.wait(60)
            busy = http.post(url, json=SPEECH, timeout=60)
            assert busy.status_code == 429 and error_code(busy) == "rate_limit_exceeded"
            assert busy.headers["retry-after"].isdigit()
        # The client hung up mid-stream: the log says so at once. The batch under way finishes
        # (a thread cannot be stopped), then no more are made and the place is freed, which
        # happens after the log line: asked until it is (a place never freed stays 429).
        engine.release.set()
        deadline = time.monotonic() + 30
        while not any(e["event"] == "speech_abandoned" for e in logs) and time.monotonic() < deadline:
            time.sleep(0.05)
        again = http.post(url, json={**SPEECH, "stream": False}, timeout=60)
        while again.status_code == 429 and time.monotonic() < deadline:
            time.sleep(0.05)
            again = http.post(url, json={**SPEECH, "stream": False}, timeout=60)
        assert again.status_code == 200
    abandoned = [e for e in logs if e["event"] == "speech_abandoned"]
    assert len(abandoned) == 1 and abandoned[0]["chunks"] >= 1


def _held_seconds(port: int, first: bytes, then: bytes, limit: float = 30.0) -> float:
    """Sends `first`, then `then` a byte every 0.25 s (at most `limit` seconds); how long the
    server kept the connection open."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as sock:
        sock.sendall(first)
        for byte in then:
            if time.monotonic() - started > limit:
                break
            try:
                sock.sendall(bytes([byte]))
                sock.settimeout(0.25)
                if sock.recv(65536) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
    return time.monotonic() - started


@pytest.mark.slow
def test_clients_that_trickle_their_request_are_dropped(tmp_path):
    env = {
        "TTS_ENGINE": "fake",
        "STORAGE_URL": f"file://{tmp_path}/store",
        "VOICE_CACHE_DIR": str(tmp_path / "cache"),
        "SERVER_HEADER_TIMEOUT": "2",
        "SERVER_BODY_TIMEOUT": "2",
    }
    with running_openai_server(env, tmp_path / "server.log") as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        headers = b"POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        with ThreadPoolExecutor(2) as pool:  # side by side: each waits out its own timeout
            trickles = [
                pool.submit(_held_seconds, port, b"POST /v1/audio/speech HTTP/1.1\r\n", b"X-Slow: " + b"a" * 200),
                pool.submit(_held_seconds, port, headers + b"Content-Length: 400\r\n\r\n", b" " * 400),
            ]
            assert http.get(f"{server.base_url}/health").status_code == 200  # it serves everyone else meanwhile
            slow_headers, slow_body = (trickle.result() for trickle in trickles)
        logs = server.logs()
    assert 1.5 < slow_headers < 10 and 1.5 < slow_body < 10, (slow_headers, slow_body)
    assert logs.count("slow_client_dropped") == 2


def test_health_checks_the_store_at_most_once_per_few_seconds():
    """/health is open to anyone and each store check writes, reads and deletes an object."""
    api = bootstrap(container=make_test_container(engine=FakeEngine()))
    checks = []
    health = api.health

    def counted():
        checks.append(1)
        return health()

    api.health = counted  # type: ignore[method-assign]
    with serving_in_process(api) as server:
        start = time.monotonic()
        answers = [http.get(f"{server.base_url}/health") for _ in range(20)]
        elapsed = time.monotonic() - start
    assert {a.status_code for a in answers} == {200} and answers[-1].json()["healthy"] is True
    # one check per HEALTH_TTL the twenty requests spanned (one, unless a loaded host slowed them)
    assert len(checks) <= 1 + int(elapsed // HEALTH_TTL)


def test_the_health_answer_is_checked_again_once_it_is_stale():
    now, checks = [0.0], []
    cache = HealthCache(lambda: {"healthy": True, "n": len(checks.append(1) or checks)}, 5.0, lambda: now[0])

    async def ask_at(*times: float) -> list[int]:
        answers = []
        for moment in times:
            now[0] = moment
            answers.append((await cache())["n"])
        return answers

    assert asyncio.run(ask_at(0.0, 4.9, 5.0, 9.9, 10.5)) == [1, 1, 2, 2, 3]


def test_a_whole_flac_opens_in_libsndfile_and_a_streamed_one_in_ffmpeg():
    """As the README says: `stream: false` gives a flac whose STREAMINFO holds its length,
    which libsndfile needs; a streamed one says "length unknown", which FFmpeg reads."""
    body = {**SPEECH, "input": PARAGRAPH, "response_format": "flac", "seed": 3}
    with serve(FakeEngine()) as server:
        url = f"{server.base_url}/v1/audio/speech"
        whole = http.post(url, json={**body, "stream": False}, timeout=60).content
        streamed = http.post(url, json=body, timeout=60).content
    samples, rate = sf.read(io.BytesIO(whole), dtype="float32")
    assert rate == 24000 and sf.info(io.BytesIO(whole)).frames == samples.size > 5 * rate
    from_stream, _ = decode(streamed, "flac")  # chunked otherwise (a short first chunk): about as long
    assert abs(from_stream.size - samples.size) < 0.05 * samples.size and np.isfinite(from_stream).all()


def test_a_huge_model_name_is_not_echoed_whole():
    huge = "m" * 150_000
    with structlog.testing.capture_logs() as logs, serve(FakeEngine()) as server:
        answer = http.post(f"{server.base_url}/v1/audio/speech", json={**SPEECH, "model": huge})
    message = answer.json()["error"]["message"]
    assert answer.status_code == 400 and "150000 characters" in message and len(message) < 300
    assert all(huge not in str(event) for event in logs)


origins = st.sampled_from([None, "null", EVIL, "http://127.0.0.1", "http://localhost:3000", "file://"])
hosts = st.sampled_from([None, "localhost", "rebind.evil.example", "127.0.0.1:1", "[::1]", "", "a" * 300])
types = st.sampled_from(
    [None, "application/json", "text/plain", "multipart/form-data", "multipart/form-data; boundary=x",
     "application/x-www-form-urlencoded", "application/json; charset=latin-1"]
)  # fmt: skip
FORM = b'--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nv\r\n--x--\r\n'
bodies = st.sampled_from(
    [b"", b"{}", b'{"model": "tts-1", "input": "Hi."}', b"[" * 5000, b"--x\r\n", FORM, b"name=default&overwrite=true",
     b"\xff\xfe", b"a" * 70_000]
)  # fmt: skip
routes = st.sampled_from(
    [("POST", "/v1/audio/speech"), ("POST", "/v1/audio/voices"), ("DELETE", "/v1/audio/voices/x"),
     ("DELETE", "/v1/audio/voices/default"), ("GET", "/v1/audio/voices"), ("GET", "/health")]
)  # fmt: skip


@pytest.fixture
def shared_server():  # per test: memory:// is emptied before each test (conftest)
    with serve(FakeEngine()) as server:
        yield server


@pytest.mark.slow  # 100 fuzzed requests over HTTP
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=routes, origin=origins, host=hosts, content_type=types, body=bodies)
def test_any_cross_site_or_malformed_request_gets_a_clean_answer(
    shared_server, route, origin, host, content_type, body
):
    """Headers a hostile page or client can choose, on every route: a status from the table
    in the README with an OpenAI error object, never a 500; `default` is never replaced."""
    headers = {name: value for name, value in (("Origin", origin), ("Host", host), ("Content-Type", content_type))
               if value is not None}  # fmt: skip
    method, path = route
    answer = http.request(method, shared_server.base_url + path, content=body, headers=headers, timeout=60)
    assert answer.status_code in (200, 400, 403, 404, 409, 413, 415, 421, 422), (answer.status_code, answer.text)
    if answer.status_code != 200:
        assert answer.json()["error"]["code"] in ("invalid_input", "voice_not_found", "voice_exists", "not_found")
    default = [v for v in http.get(shared_server.base_url + "/v1/audio/voices").json()["data"] if v["id"] == "default"]
    assert default[0]["created_at"] == 0

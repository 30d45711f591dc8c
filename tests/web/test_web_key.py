"""The page on a server with API_KEY: the static files are open (the page cannot send the
key before asking for it), every API route still needs the key, and the page asks for it
once, keeps it in browser storage and sends it only as a bearer token, never in a URL."""

from __future__ import annotations

import httpx
import pytest
from dependency_injector import providers

from adapters.fake_engine import FakeEngine
from application.bootstrap import bootstrap
from container import build_container
from entrypoints.openai_api import ServerSettings, page_url
from tests.audio_decode import decode
from tests.e2e.openai_server import serving_in_process
from tests.web.page import direct_seconds, element_duration, generate, raw_get

KEY = "sk-web-0123456789"
BEARER = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    container = build_container({"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{tmp_path_factory.mktemp('store')}"})
    container.engine.override(providers.Object(FakeEngine()))
    try:
        with serving_in_process(bootstrap(container=container), ServerSettings(api_key=KEY)) as running:
            yield running
    finally:
        container.shutdown_resources()


def test_the_page_is_open_and_the_api_needs_the_key(server):
    base = server.base_url
    assert httpx.get(f"{base}/", follow_redirects=True).status_code == 200
    assert httpx.get(f"{base}/web/app.js").status_code == 200
    assert httpx.get(f"{base}/v1/audio/voices").status_code == 401
    assert httpx.get(f"{base}/v1/audio/voices/default/audio").status_code == 401
    # the open prefix serves files only: a path that climbs out of it reaches no route
    assert raw_get(base, "/web/../v1/audio/voices") == (404, raw_get(base, "/web/nothing-here")[1])


def test_a_voices_reference_recording_is_served_as_wav(server):
    answer = httpx.get(f"{server.base_url}/v1/audio/voices/default/audio", headers=BEARER)
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/wav"
    samples, rate = decode(answer.content, "wav")
    listed = httpx.get(f"{server.base_url}/v1/audio/voices", headers=BEARER).json()["data"]
    assert samples.size / rate == pytest.approx(next(v for v in listed if v["id"] == "default")["duration"], abs=1e-3)
    missing = httpx.get(f"{server.base_url}/v1/audio/voices/nobody/audio", headers=BEARER)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "voice_not_found"
    bad = httpx.get(f"{server.base_url}/v1/audio/voices/.hidden/audio", headers=BEARER)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_input"


@pytest.mark.parametrize(
    ("host", "url"),
    [("127.0.0.1", "http://127.0.0.1:8880/"), ("0.0.0.0", "http://127.0.0.1:8880/"), ("::", "http://[::1]:8880/"),
     ("localhost", "http://localhost:8880/")],
)  # fmt: skip
def test_the_start_up_line_names_a_url_a_browser_can_open(host, url):
    assert page_url(host, 8880) == url


def test_the_page_asks_for_the_key_once_and_sends_it_only_as_a_bearer_token(context, server):
    requests = []
    context.on("request", lambda request: requests.append((request.url, request.headers.get("authorization"))))
    page = context.new_page()
    page.goto(f"{server.base_url}/")
    dialog = page.locator("#key-dialog")
    dialog.wait_for(state="visible")
    page.get_by_role("textbox", name="API key").fill("wrong-key")
    page.get_by_role("button", name="Save").click()
    page.wait_for_function("document.querySelector('#key-message').textContent.includes('refused')")
    page.get_by_role("textbox", name="API key").fill(KEY)
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("body[data-ready]")
    assert page.get_by_role("button", name="Play default").is_visible()

    page.reload()
    page.wait_for_selector("body[data-ready]")
    assert not dialog.is_visible()  # asked once: the key is kept in this browser
    page.get_by_role("button", name="Play default").click()
    assert element_duration(page, "#voice-audio") > 1  # <audio> cannot send headers: fetched, then a blob URL
    generate(page, "Spoken with the key.", seed=4)
    expected = direct_seconds(server.base_url, "Spoken with the key.", "default", 4, headers=BEARER)
    assert element_duration(page, "#audio") == pytest.approx(expected, abs=0.002)

    assert not any(KEY in url or "wrong-key" in url for url, _ in requests)
    api_calls = [auth for url, auth in requests if "/v1/" in url]
    assert api_calls[-1] == f"Bearer {KEY}" and api_calls.count(f"Bearer {KEY}") >= 4

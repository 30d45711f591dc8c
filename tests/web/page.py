"""What the browser tests share: opening the page, waiting for its stages, reading back a
download, and asking the API directly what the page should have got."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.audio_decode import decode

PAGE_ERRORS = "__page_errors"


def new_context(browser) -> object:
    """A fresh profile: empty storage, microphone and clipboard allowed, downloads kept."""
    made = browser.new_context(accept_downloads=True, permissions=["microphone", "clipboard-read", "clipboard-write"])
    made.set_default_timeout(15000)
    return made


def open_page(context, base_url: str):
    page = watched_page(context)
    load(page, base_url)
    return page


def watched_page(context):
    """A new tab that keeps its script errors for `page_errors`."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    setattr(page, PAGE_ERRORS, errors)
    return page


def load(page, base_url: str) -> None:
    page.goto(f"{base_url}/")
    page.wait_for_selector("body[data-ready]")


def wipe(page, base_url: str) -> None:
    """Leaves the tab as a fresh profile would have it, without a new profile's cost: a
    browser context and its renderer were most of chromium's CPU in these tests, and this
    reuses both. The page is left first, so nothing it still runs can write afterwards; then
    the origin's storage of every kind, the HTTP cache and the test's routes go, and no
    script error is kept."""
    page.goto("about:blank")
    session = page.context.new_cdp_session(page)
    try:
        session.send("Storage.clearDataForOrigin", {"origin": base_url, "storageTypes": "all"})
        session.send("Network.clearBrowserCache")
    finally:
        session.detach()
    page.unroute_all()
    page_errors(page).clear()


def page_errors(page) -> list[str]:
    return getattr(page, PAGE_ERRORS)


def generate(page, text: str, voice: str = "default", seed: int = 1, wait: str = "complete") -> None:
    page.get_by_label("Text", exact=True).fill(text)
    page.get_by_label("Voice", exact=True).select_option(voice)
    page.get_by_label("Seed", exact=True).fill(str(seed))
    page.get_by_role("button", name="Generate").click()
    if wait:
        page.wait_for_selector(f"#listen[data-state={wait}]")


def add_voice_from_file(page, name: str, data: bytes, transcript: str) -> None:
    page.get_by_label("Recording file").set_input_files(
        {"name": f"{name}.wav", "mimeType": "audio/wav", "buffer": data}
    )
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Transcript", exact=True).fill(transcript)
    page.get_by_role("button", name="Add voice").click()


def downloaded(page, button: str, folder: Path) -> Path:
    with page.expect_download() as info:
        page.get_by_role("button", name=button, exact=True).click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def audio_seconds(data: bytes, fmt: str = "wav") -> float:
    """Decoded, not read from a header: a streamed file's header does not know its length."""
    samples, rate = decode(data, fmt)
    return samples.size / rate


def direct_seconds(base_url: str, text: str, voice: str, seed: int, headers: dict[str, str] | None = None) -> float:
    """The duration of the same request sent straight to the API, streamed as the page's is
    (`stream: false` cuts the text into chunks differently, so its length differs a little)."""
    body = {"model": "f5-tts", "input": text, "voice": voice, "seed": seed, "response_format": "pcm"}
    answer = httpx.post(f"{base_url}/v1/audio/speech", json=body, headers=headers, timeout=120)
    assert answer.status_code == 200, answer.text
    return len(answer.content) / 2 / 24000


def element_duration(page, selector: str) -> float:
    page.wait_for_function(f"document.querySelector({json.dumps(selector)}).duration > 0")
    return page.evaluate(f"document.querySelector({json.dumps(selector)}).duration")


def raw_get(base_url: str, path: str) -> tuple[int, bytes]:
    """GET a path exactly as written: http.client sends `..` as it is, where httpx would
    resolve it before sending."""
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()

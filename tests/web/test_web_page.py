"""The web page in headless chromium against the OpenAI-compatible server on the fake engine,
in this process, so a test can hold the engine: voices from a file and from the fake
microphone, streaming playback (proven to start while synthesis is held), read-along,
downloads, history across a reload, errors next to their controls, and the call snippets."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field

import httpx
import pytest
import srt
import webvtt
from dependency_injector import providers

from adapters.fake_engine import FakeEngine
from application.bootstrap import bootstrap
from container import build_container
from entrypoints.openai_api import WEB_ROOT
from tests.e2e.openai_server import serving_in_process
from tests.helpers import audio_file
from tests.web.page import (
    add_voice_from_file,
    audio_seconds,
    direct_seconds,
    downloaded,
    element_duration,
    generate,
    load,
    new_context,
    page_errors,
    raw_get,
    watched_page,
    wipe,
)

MAX_VOICE_BYTES = 400_000  # 8.3 s of 24 kHz 16-bit mono
SENTENCES = " ".join(f"Sentence {i} is read along as the page plays it." for i in range(5))


@dataclass
class GatedEngine(FakeEngine):
    """The fake engine, which after `hold()` synthesizes the next batch (a stream's first
    chunk) and holds every batch after it until the test calls `let_go()`."""

    armed: bool = False
    batches: int = 0
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def hold(self) -> None:
        self.armed, self.batches = True, 0
        self.holding.clear()
        self.release.clear()

    def let_go(self) -> None:
        """Releases a held batch, and disarms, so no later request is held."""
        self.armed = False
        self.release.set()

    def synthesize(self, items, **options):
        if self.armed:
            self.batches += 1
            if self.batches > 1:
                self.holding.set()
                if not self.release.wait(30):
                    raise RuntimeError("the test never released the engine")
        return super().synthesize(items, **options)


@pytest.fixture(scope="module")
def engine():
    return GatedEngine()


@pytest.fixture(scope="module")
def server(engine, tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    container = build_container(
        {"TTS_ENGINE": "fake", "STORAGE_URL": f"file://{store}", "MAX_VOICE_BYTES": str(MAX_VOICE_BYTES)}
    )
    container.engine.override(providers.Object(engine))
    try:
        with serving_in_process(bootstrap(container=container)) as running:
            yield running
    finally:
        container.shutdown_resources()


# What the page may ask for: its own files and the documented API, nothing else (no CDN).
ALLOWED = re.compile(r"/(web/[a-z]+\.(html|css|js)|web/|health|v1/audio/speech|v1/audio/voices(/[\w.-]+(/audio)?)?)?")


@dataclass
class Tab:
    page: object
    requested: list[str]


@pytest.fixture(scope="module")
def tab(browser, server):
    """One tab for the module, wiped before each test (see `wipe`)."""
    context = new_context(browser)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    yield Tab(watched_page(context), requested)
    context.close()


@pytest.fixture
def page(tab, server):
    wipe(tab.page, server.base_url)
    tab.requested.clear()
    load(tab.page, server.base_url)
    yield tab.page
    assert page_errors(tab.page) == []
    for url in tab.requested:
        if not url.startswith(("blob:", "data:")):
            assert url.startswith(server.base_url) and ALLOWED.fullmatch(url[len(server.base_url) :]), url


def voice_names(base_url: str) -> list[str]:
    return [voice["id"] for voice in httpx.get(f"{base_url}/v1/audio/voices").json()["data"]]


def test_the_page_is_served_small_and_offline_at_root_and_web(server):
    root = httpx.get(f"{server.base_url}/", follow_redirects=True)
    assert root.status_code == 200 and str(root.url).endswith("/web/") and "<title>F5-TTS worker</title>" in root.text
    script = httpx.get(f"{server.base_url}/web/app.js")
    assert "javascript" in script.headers["content-type"]
    files = [path for path in WEB_ROOT.iterdir() if path.is_file()]
    assert sum(path.stat().st_size for path in files) < 150_000
    assert not any("http://" in p.read_text() or "https://" in p.read_text() for p in files)  # no CDN
    assert raw_get(server.base_url, "/web/../openai_api.py")[0] == 404  # the server's own source stays unserved


def test_every_control_has_its_label(page):
    for name in ("Text", "Voice", "Speed", "Steps", "Seed", "Format", "Name", "Transcript"):
        assert page.get_by_label(name, exact=True).count() == 1, name
    for name in ("Generate", "Add voice", "Cancel"):
        assert page.get_by_role("button", name=name, exact=True).count() == 1, name


def test_the_tags_are_one_click_away_and_land_at_the_cursor(page):
    text = page.get_by_label("Text", exact=True)
    text.fill("Hello there.")
    text.evaluate("(box) => box.setSelectionRange(6, 6)")
    page.get_by_role("button", name="Insert [pause:1s]").click()
    page.get_by_label("Voice for the tag").select_option("default")
    page.get_by_role("button", name="Insert [voice:…]").click()
    assert text.input_value() == "Hello [pause:1s][voice:default]there."
    assert "[pause:1s][voice:default]" in page.text_content("#call-curl")  # the shown call follows


def test_a_voice_from_a_file_plays_speaks_and_is_read_along(page, server, tmp_path):
    add_voice_from_file(page, "narrator", audio_file(3.0), "Hello, this is my voice.")
    page.get_by_role("button", name="Play narrator").wait_for()
    page.get_by_role("button", name="Play narrator").click()
    assert element_duration(page, "#voice-audio") == pytest.approx(3.0, abs=0.01)  # its reference clip, fetched

    generate(page, SENTENCES, voice="narrator", seed=11)  # it goes on playing for 28 s
    # Read-along follows playback: the highlighted word is the one whose time has come.
    seen = []
    for _ in range(3):
        page.wait_for_function(
            "document.querySelector('.word.current') && Number(document.querySelector('#readalong').dataset.time) > "
            f"{len(seen) * 0.6 + 0.3}"
        )
        seen.append(
            page.evaluate("""() => {
            const box = document.querySelector('#readalong'), word = box.querySelector('.word.current');
            return [Number(box.dataset.time), Number(word.dataset.index), Number(word.dataset.start)]; }""")
        )
    indices = [index for _, index, _ in seen]
    assert indices == sorted(indices) and indices[-1] > indices[0]  # it moves forward with the audio
    assert all(start <= time + 0.06 for time, _, start in seen)
    page.wait_for_selector("#listen[data-state=complete]")

    expected = direct_seconds(server.base_url, SENTENCES, "narrator", 11)
    assert element_duration(page, "#audio") == pytest.approx(expected, abs=0.002)
    assert audio_seconds(downloaded(page, "Download wav", tmp_path).read_bytes()) == pytest.approx(expected, abs=1e-3)

    subtitles = list(srt.parse(downloaded(page, "Download SRT", tmp_path).read_text()))
    assert " ".join(cue.content for cue in subtitles).split() == SENTENCES.split()
    assert subtitles[-1].end.total_seconds() <= expected + 0.01
    vtt = webvtt.read(str(downloaded(page, "Download VTT", tmp_path)))
    assert " ".join(caption.text for caption in vtt).split() == SENTENCES.split()

    # Clicking a word seeks there.
    page.evaluate("document.querySelector('[data-index=\"20\"]').scrollIntoView()")
    word_start = float(page.get_attribute('[data-index="20"]', "data-start"))
    page.click('[data-index="20"]')
    page.wait_for_function("document.querySelector('.word.current')?.dataset.index >= 20")
    assert float(page.get_attribute("#readalong", "data-time")) >= word_start - 0.06


def test_a_recording_from_the_microphone_is_transcribed_and_speaks(page, server):
    page.get_by_role("button", name="Record", exact=True).click()
    page.wait_for_function("document.querySelector('#record-status').textContent === 'Recording…'")
    page.wait_for_timeout(1600)  # the recording must last over a second: a length, not an assertion on time
    page.get_by_role("button", name="Stop recording", exact=True).click()
    page.wait_for_selector("#recording:not([hidden])")
    recorded = element_duration(page, "#recording")
    assert recorded > 1.2
    assert (
        page.evaluate(
            "fetch(document.querySelector('#recording').src).then((r) => r.arrayBuffer())"
            ".then((b) => new DataView(b).getUint32(24, true))"
        )
        == 24000
    )  # uploaded at 24 kHz
    page.get_by_label("Name", exact=True).fill("mic")
    page.get_by_role("button", name="Add voice").click()  # no transcript: the worker transcribes it
    page.wait_for_function("document.querySelector('#record-status').textContent.includes('the worker heard')")
    assert "mic" in voice_names(server.base_url)
    voice = next(v for v in httpx.get(f"{server.base_url}/v1/audio/voices").json()["data"] if v["id"] == "mic")
    assert voice["duration"] == pytest.approx(recorded, abs=0.1)
    generate(page, "Now in my own voice.", voice="mic", seed=3)
    expected = direct_seconds(server.base_url, "Now in my own voice.", "mic", 3)
    assert element_duration(page, "#audio") == pytest.approx(expected, abs=0.002)


def test_playback_starts_while_the_rest_is_still_being_synthesized(page, engine):
    engine.hold()
    generate(page, SENTENCES, seed=5, wait="")
    try:
        # Order of events, not timing: the page plays while only the test can let the engine go on.
        page.wait_for_function("Number(document.querySelector('#readalong').dataset.time) > 0.2")
        assert engine.holding.is_set() and not engine.release.is_set()
        assert page.get_attribute("#listen", "data-state") == "streaming"
        assert page.get_attribute("#listen", "data-playing") == "true"
        assert 0 < page.evaluate("document.querySelector('#progress').value") < 1
    finally:
        engine.let_go()
    page.wait_for_selector("#listen[data-state=complete]")
    assert page.evaluate("document.querySelector('#progress').value") == 1


def test_cancel_stops_the_generation(page, engine):
    engine.hold()
    generate(page, SENTENCES, seed=6, wait="streaming")
    try:
        assert engine.holding.wait(30)
        page.get_by_role("button", name="Cancel").click()
        page.wait_for_selector("#listen[data-state=cancelled]")
    finally:
        engine.let_go()
    assert page.get_by_role("button", name="Generate").is_enabled()
    page.wait_for_function("document.querySelector('#listen').dataset.playing === 'false'")


def test_api_errors_show_their_code_and_message_next_to_the_control(page):
    generate(page, "   ", wait="failed")
    assert page.inner_text("#text-error") == "invalid_input: input must not be empty"
    assert page.get_attribute("#text", "aria-invalid") == "true"

    generate(page, "[voice:ghost] Who speaks?", wait="failed")
    assert page.inner_text("#voice-error").startswith("voice_not_found: ")
    assert "ghost" in page.inner_text("#voice-error")

    add_voice_from_file(page, "big", audio_file(8.5), "A recording that is a little too large for this.")
    page.wait_for_selector("#add-voice-error:not([hidden])")
    assert page.inner_text("#add-voice-error") == f"invalid_input: the recording is larger than {MAX_VOICE_BYTES} bytes"

    add_voice_from_file(page, "huge", audio_file(20.0), "A recording far too large for this server.")
    page.wait_for_function("document.querySelector('#add-voice-error').textContent.includes('request body')")
    # refused from its Content-Length before the body is read; the browser still shows the answer
    assert page.inner_text("#add-voice-error").startswith("invalid_input: the request body is larger than")

    add_voice_from_file(page, "../x", audio_file(2.0), "A bad name for a voice.")
    page.wait_for_selector("#voice-name-error:not([hidden])")
    assert page.inner_text("#voice-name-error").startswith("invalid_input: voice name must be")

    add_voice_from_file(page, "default", audio_file(2.0), "The name is taken.")
    page.wait_for_function("document.querySelector('#voice-name-error').textContent.startsWith('voice_exists')")

    add_voice_from_file(page, "short", audio_file(0.5), "Too short.")
    page.wait_for_selector("#voice-file-error:not([hidden])")
    assert page.inner_text("#voice-file-error").startswith("invalid_audio: the voice lasts 0.5 s")


def test_progress_events_fill_the_bar_and_it_ends_done(page):
    """`speech.progress` events (see the README's SSE events), here answered by the browser
    itself for the page's request, set the bar to the share of the text each one reports."""
    audio = base64.b64encode(bytes(4800)).decode()
    events = [{"type": "speech.audio.delta", "audio": audio}]
    for done, share in ((1, 0.25), (2, 0.6), (3, 1.0)):
        progress = {"chunks_done": done, "chunks_total": 3, "audio_seconds": done * 0.1, "text_share": share}
        events += [{"type": "speech.progress", **progress}, {"type": "speech.audio.delta", "audio": audio}]
    events.append({"type": "speech.audio.done", "usage": {}})
    body = "".join(f"data: {json.dumps(event)}\n\n" for event in events)
    page.route("**/v1/audio/speech", lambda route: route.fulfill(content_type="text/event-stream", body=body))
    page.evaluate("""() => {
        const bar = document.querySelector('#progress');
        window.progressValues = [];  // each change's value before it, then the last value
        new MutationObserver((changes) => changes.forEach((change) => window.progressValues.push(change.oldValue)))
            .observe(bar, { attributes: true, attributeFilter: ['value'], attributeOldValue: true });
    }""")
    generate(page, "One. Two. Three.")
    values = page.evaluate("[...window.progressValues, document.querySelector('#progress').getAttribute('value')]")
    assert values == ["0", None, "0.25", "0.6", "1", "1"]
    assert page.inner_text("#progress-detail") == "done"
    assert element_duration(page, "#audio") == pytest.approx(4 * 2400 / 24000)


def test_history_survives_a_reload_and_plays_downloads_and_reruns(page, server, tmp_path):
    generate(page, "Kept in this browser.", seed=21)
    page.reload()
    page.wait_for_selector("body[data-ready]")
    entry = page.locator("#history-list li").first
    assert "Kept in this browser." in entry.inner_text() and "seed 21" in entry.inner_text()
    expected = direct_seconds(server.base_url, "Kept in this browser.", "default", 21)

    entry.get_by_role("button", name="Play").click()
    assert element_duration(page, "#audio") == pytest.approx(expected, abs=0.002)
    page.wait_for_function("document.querySelector('#listen').dataset.playing === 'true'")
    with page.expect_download() as info:
        entry.get_by_role("button", name="Download").click()
    assert audio_seconds(info.value.path().read_bytes()) == pytest.approx(expected, abs=1e-3)

    entry.get_by_role("button", name="Re-run").click()
    page.wait_for_function("document.querySelectorAll('#history-list li').length === 2")
    assert page.get_by_label("Seed", exact=True).input_value() == "21"
    assert "seed 21" in page.locator("#history-list li").first.inner_text()


def test_the_player_schedules_pieces_end_to_end_without_gaps(page):
    """Rendered offline at the stream's own rate: pieces pushed one after another come out as
    one unbroken signal, sample for sample, starting after the player's short lead."""
    answer = page.evaluate("""async () => {
        const { StreamPlayer } = await import('./player.js');
        const rate = 24000, sizes = [2400, 1, 4799, 7200];
        const context = new OfflineAudioContext(1, rate, rate);
        const player = new StreamPlayer(rate, context);
        const pieces = sizes.map((size, p) => Float32Array.from({ length: size }, (_, i) => ((p * 7 + i) % 100) / 200));
        pieces.forEach((piece) => player.push(piece));
        const contiguous = player.spans.every((span, i) => i === 0 || span.at === player.spans[i - 1].at
            + player.spans[i - 1].seconds);
        const lead = Math.round(player.spans[0].at * rate);
        const out = (await context.startRendering()).getChannelData(0);
        const expected = pieces.flatMap((piece) => [...piece]);
        let mismatches = 0;
        expected.forEach((value, i) => { if (Math.abs(out[lead + i] - value) > 1e-6) mismatches += 1; });
        return { contiguous, lead, mismatches, silentAfter: out.slice(lead + expected.length).every((v) => v === 0),
                 duration: player.duration };
    }""")
    assert answer["contiguous"] and answer["mismatches"] == 0 and answer["silentAfter"]
    assert answer["lead"] == 1200 and answer["duration"] == pytest.approx(14400 / 24000)


def test_history_storage_keeps_the_newest_entries_with_their_audio(page):
    answer = page.evaluate("""async () => {
        const { openHistory, KEEP } = await import('./history.js');
        const history = await openHistory('history-unit-test');
        for (let i = 0; i < KEEP + 3; i += 1) await history.add({ n: i, wav: new Blob([new Uint8Array([i, 1, 2])]) });
        const all = await history.list();
        const first = await history.get(all[0].id);
        await history.remove(all[0].id);
        return { keep: KEEP, count: all.length, order: all.map((e) => e.n), bytes: [...new Uint8Array(
            await first.wav.arrayBuffer())], after: (await history.list()).length };
    }""")
    keep = answer["keep"]
    assert answer["count"] == keep and answer["order"] == list(range(keep + 2, 2, -1))
    assert answer["bytes"] == [keep + 2, 1, 2] and answer["after"] == keep - 1


def test_a_voice_is_deleted_only_when_confirmed(page, server):
    add_voice_from_file(page, "brief", audio_file(2.0), "Delete me soon.")
    delete = page.get_by_role("button", name="Delete brief")
    page.once("dialog", lambda dialog: dialog.dismiss())
    delete.click()
    assert "brief" in voice_names(server.base_url)
    page.once("dialog", lambda dialog: dialog.accept())
    delete.click()
    delete.wait_for(state="detached")
    assert "brief" not in voice_names(server.base_url)


def test_the_call_shown_runs_as_curl_and_python(page, server, tmp_path):
    page.get_by_label("Text", exact=True).fill("It's the same call.")
    page.get_by_label("Seed", exact=True).fill("9")
    page.get_by_label("Format", exact=True).select_option("flac")
    page.get_by_text("Show the call").click()
    curl, python = page.inner_text("#call-curl"), page.inner_text("#call-python")
    assert server.base_url in curl and server.base_url in python
    page.get_by_role("button", name="Copy curl").click()
    assert page.evaluate("navigator.clipboard.readText()") == curl
    subprocess.run(["bash", "-euo", "pipefail", "-c", curl], cwd=tmp_path, check=True, timeout=60)
    by_curl = (tmp_path / "speech.flac").read_bytes()
    (tmp_path / "speech.flac").unlink()
    subprocess.run([sys.executable, "-c", python], cwd=tmp_path, check=True, timeout=60)
    by_python = (tmp_path / "speech.flac").read_bytes()
    expected = direct_seconds(server.base_url, "It's the same call.", "default", 9)
    assert audio_seconds(by_curl, "flac") == audio_seconds(by_python, "flac") == pytest.approx(expected, abs=1e-3)


def test_the_page_works_from_the_keyboard(page):
    page.get_by_label("Text", exact=True).focus()
    page.keyboard.type("Typed, then Tab to Generate.")
    order = []
    for _ in range(12):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
        if order[-1] == "generate":
            break
    assert order[: order.index("generate") + 1] == ["voice", "speed", "steps", "seed", "format", "generate"]
    page.keyboard.press("Enter")
    page.wait_for_selector("#listen[data-state=complete]")
    page.focus('[data-index="2"]')
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('.word.current')?.dataset.index >= 2")

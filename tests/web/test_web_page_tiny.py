"""The web page against the server as users start it (`python -m entrypoints.openai_api`, a
subprocess) on the tiny real F5-TTS checkpoint and the tiny aligner: a voice from a file and
one from the fake microphone, a 400-character paragraph streamed, played, read along and
captioned. Prints the time from Generate to first sound, the figure the README quotes."""

from __future__ import annotations

import json

import pytest
import srt

from tests.e2e.openai_server import running_openai_server
from tests.helpers import audio_file, script_settings, tiny_f5_env
from tests.web.page import (
    add_voice_from_file,
    direct_seconds,
    downloaded,
    element_duration,
    generate,
    open_page,
    page_errors,
)

pytestmark = pytest.mark.slow
PARAGRAPH = (
    "The page streams this paragraph as it is made. Each sentence is a chunk, and the first one plays while "
    "the rest are still being synthesized. Words light up as they are spoken, and a click on any word jumps "
    "there. When it is done, the audio and its captions can be downloaded, and the generation stays in this "
    "browser's history, ready to play again after a reload, or to be run once more with new settings."
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {
        **tiny_f5_env(tmp_path_factory.mktemp("tiny")),
        **script_settings("make_tiny_aligner.py", tmp_path_factory.mktemp("aligner")),
        "STORAGE_URL": f"file://{tmp_path_factory.mktemp('store')}",
        "VOICE_CACHE_DIR": str(tmp_path_factory.mktemp("voice-cache")),
    }
    with running_openai_server(env, tmp_path_factory.mktemp("logs") / "server.log") as running:
        yield running


def test_the_start_up_log_names_the_page(server):
    listening = next(json.loads(line) for line in server.logs().splitlines() if '"listening"' in line)
    assert listening["page"] == f"{server.base_url}/"


def test_on_the_tiny_checkpoint_voices_from_a_file_and_the_microphone_speak_and_read_along(context, server, tmp_path):
    assert len(PARAGRAPH) == pytest.approx(400, abs=15)
    page = open_page(context, server.base_url)
    add_voice_from_file(page, "narrator", audio_file(3.0), "Hello, this is my voice.")
    page.get_by_role("button", name="Play narrator").wait_for()

    page.get_by_role("button", name="Record", exact=True).click()
    page.wait_for_function("document.querySelector('#record-status').textContent === 'Recording…'")
    page.wait_for_timeout(1600)  # a recording over a second long
    page.get_by_role("button", name="Stop recording", exact=True).click()
    page.wait_for_selector("#recording:not([hidden])")
    page.get_by_label("Name", exact=True).fill("mic")
    page.get_by_label("Transcript", exact=True).fill("Testing my microphone.")
    page.get_by_role("button", name="Add voice").click()
    page.get_by_role("button", name="Play mic").wait_for()
    generate(page, "Spoken in the recorded voice.", voice="mic", seed=2)
    expected = direct_seconds(server.base_url, "Spoken in the recorded voice.", "mic", 2)
    assert element_duration(page, "#audio") == pytest.approx(expected, abs=0.002)

    generate(page, PARAGRAPH, voice="narrator", seed=1, wait="streaming")
    first_sound = float(page.get_attribute("#listen", "data-first-sound"))
    print(f"\ntiny checkpoint: Generate to first sound {first_sound:.2f} s for {len(PARAGRAPH)} characters")
    page.wait_for_selector("#listen[data-state=complete]", timeout=120_000)
    assert 0 < first_sound < element_duration(page, "#audio")  # it played before the paragraph could have ended

    page.wait_for_function("document.querySelector('.word.current')")
    subtitles = list(srt.parse(downloaded(page, "Download SRT", tmp_path).read_text()))
    assert " ".join(cue.content for cue in subtitles).split() == PARAGRAPH.split()
    assert page_errors(page) == []

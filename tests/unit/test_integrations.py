"""Voice aliases (VOICE_ALIASES), the use case's progress signal and the RunPod progress
reporter: the pieces the integrations (Home Assistant, Open WebUI, voice agents, long jobs)
stand on, on the fake engine."""

from __future__ import annotations

import json
from concurrent.futures import Future

import pytest

from domain.errors import VoiceNotFound
from domain.use_cases.synthesize import Progress, TtsRequest
from domain.use_cases.voices import UploadRequest
from domain.voice_library import BrokenAlias
from entrypoints.cli import main
from entrypoints.runpod_handler import ProgressPosts
from settings import SettingsError, load_settings, parse_aliases
from tests.helpers import audio_file, make_test_container

LONG_TEXT = " ".join(f"Sentence number {i} is here to make the text long enough to split." for i in range(12))


def test_aliases_are_parsed_and_checked_in_settings():
    assert parse_aliases(" alloy = narrator , echo=alice.wav,") == {"alloy": "narrator", "echo": "alice"}
    assert load_settings({"VOICE_ALIASES": "alloy=narrator"}).voice_alias_map == {"alloy": "narrator"}
    assert load_settings({}).voice_alias_map == {}
    for bad, why in (
        ("alloy", "is not ALIAS=VOICE"),
        ("alloy=../x", "is not ALIAS=VOICE"),
        ("a=b,a=c", "given twice"),
        ("a=a", "names itself"),
        ("a=b,b=c", "is an alias and the target"),
    ):
        with pytest.raises(SettingsError, match="VOICE_ALIASES") as error:
            load_settings({"VOICE_ALIASES": bad})
        assert why in str(error.value)


def test_wyoming_uri_is_checked_in_settings():
    assert load_settings({"WYOMING_URI": "tcp://0.0.0.0:10200"}).wyoming_uri == "tcp://0.0.0.0:10200"
    with pytest.raises(SettingsError, match="WYOMING_URI"):
        load_settings({"WYOMING_URI": "http://0.0.0.0:10200"})


def aliased_container():
    container = make_test_container(env={"VOICE_ALIASES": "alloy=narrator,echo=ghost"})
    container.upload_voice()(UploadRequest(name="narrator", data=audio_file(3.0), ref_text="A calm and steady voice."))
    return container


def test_an_alias_speaks_in_its_voice_and_a_broken_one_names_both():
    container = aliased_container()
    synthesize = container.synthesize()
    as_alias = synthesize(TtsRequest(text="Hello there.", voice="alloy", seed=4, return_base64=True))
    as_voice = synthesize(TtsRequest(text="Hello there.", voice="narrator", seed=4, return_base64=True))
    assert as_alias.audio.samples == as_voice.audio.samples and as_alias.voice == "alloy"
    with pytest.raises(BrokenAlias) as error:
        synthesize(TtsRequest(text="Hello there.", voice="echo"))
    assert isinstance(error.value, VoiceNotFound) and error.value.code == "voice_not_found"
    assert "'echo'" in error.value.message and "'ghost'" in error.value.message
    assert container.voices().broken_aliases() == {"echo": "ghost"}


def test_an_alias_s_recording_is_its_voice_s():
    """What `GET /v1/audio/voices/{alias}/audio` plays: the voice the alias speaks in."""
    voices = aliased_container().voices()
    assert voices.audio("alloy") == voices.audio("narrator")


def test_the_voice_list_with_aliases_shows_those_that_speak():
    stored, aliases = aliased_container().voices().with_aliases()
    assert [info.name for info in stored] == ["default", "narrator"]
    assert {alias: info.name for alias, info in aliases.items()} == {"alloy": "narrator"}


def test_the_cli_speaks_an_alias(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TTS_ENGINE", "fake")
    monkeypatch.setenv("STORAGE_URL", f"file://{tmp_path}/store")
    monkeypatch.setenv("VOICE_ALIASES", "alloy=default,echo=ghost")
    assert main(["synth", "Hello.", "--voice", "alloy", "--out", str(tmp_path / "out.wav")]) == 0
    assert json.loads(capsys.readouterr().out)["voice"] == "alloy"
    assert main(["synth", "Hello.", "--voice", "echo", "--out", str(tmp_path / "out.wav")]) == 1
    assert "voice_not_found: voice 'echo' is an alias of 'ghost'" in capsys.readouterr().err


def test_progress_splits_a_job_into_engine_sized_calls_with_the_same_audio():
    container = make_test_container(env={"BATCH_MAX_ITEMS": "2"})
    engine, synthesize = container.engine(), container.synthesize()
    plain = synthesize(TtsRequest(text=LONG_TEXT, seed=9, return_base64=True))
    assert [len(call) for call in engine.calls] == [plain.chunks]  # no callback: one engine call, as before
    engine.calls.clear()
    heard: list[Progress] = []
    reported = synthesize(TtsRequest(text=LONG_TEXT, seed=9, return_base64=True, progress=heard.append))
    assert reported.audio.samples == plain.audio.samples
    total = plain.chunks
    assert total >= 5 and [len(call) for call in engine.calls] == [2] * (total // 2) + [1] * (total % 2)
    assert [p.chunks_done for p in heard] == [min(n, total) for n in range(2, total + 2, 2)]
    assert all(p.chunks_total == total for p in heard)
    shares = [p.text_share for p in heard]
    seconds = [p.audio_seconds for p in heard]
    assert shares == sorted(shares) and 0 < shares[0] < 1 and shares[-1] == 1.0
    assert seconds == sorted(seconds) and seconds[-1] >= plain.duration  # parts before cross-fades


def test_a_stream_reports_progress_before_each_chunk():
    synthesize = make_test_container().synthesize()
    heard: list[Progress] = []
    seen: list[tuple[int, int]] = []  # (progress reports so far, chunk index) as each chunk arrives
    for event in synthesize.stream(TtsRequest(text=LONG_TEXT, format="pcm", progress=heard.append)):
        if hasattr(event, "index"):
            seen.append((len(heard), event.index))
    assert seen == [(i + 1, i) for i in range(len(seen))]
    assert [p.chunks_done for p in heard] == list(range(1, len(seen) + 1))
    assert heard[-1].text_share == 1.0


class InlineSender:
    """An executor that runs each post at once, so the test sees them in order."""

    def submit(self, fn, *args):
        future: Future[None] = Future()
        future.set_result(fn(*args))
        return future


def test_progress_posts_are_throttled_and_skip_the_last_group():
    now = [0.0]
    posted: list[tuple[str, dict]] = []
    posts = ProgressPosts({"id": "job-1"}, InlineSender(), 1.0, lambda job, body: posted.append((job["id"], body)),
                          clock=lambda: now[0])  # fmt: skip
    for done, at in ((1, 0.0), (2, 0.5), (3, 1.2), (4, 1.5), (5, 3.0), (6, 9.0)):
        now[0] = at
        posts(Progress(done, 6, float(done), done / 6))
    posts.flush()
    assert [body["chunks_done"] for _, body in posted] == [1, 3, 5]  # at most once a second; 6 of 6 is the result
    assert posted[0] == ("job-1", {"chunks_done": 1, "chunks_total": 6, "audio_seconds": 1.0, "text_share": 1 / 6})

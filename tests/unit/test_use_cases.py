"""Use cases with fakes only: engine, store, fetcher and transcriber record what happened."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime

import pytest

from adapters.chinese_numbers import ChineseNumbers
from adapters.english_numbers import EnglishNumbers
from adapters.fake_engine import FakeEngine
from adapters.fake_fetcher import FakeFetcher
from adapters.fake_store import FakeStore
from adapters.fake_transcriber import FakeTranscriber
from adapters.soundfile_codec import SoundfileCodec
from domain.errors import InvalidAudio, InvalidInput, StorageError, VoiceExists, VoiceNotFound
from domain.synthesis import SynthesisParams
from domain.text.normalize import TextNormalizer
from domain.text.script import VoiceText
from domain.use_cases.outputs import StoreOutput
from domain.use_cases.synthesize import Synthesize, TtsRequest
from domain.use_cases.voices import UploadRequest, UploadVoice
from domain.voice_library import BuiltinVoice, VoiceLibrary
from tests.helpers import audio_file

URL = "https://voices.test/v.wav"


def said(word: str) -> str:
    """A transcript as long as speech in the 3 s test clip (uploads refuse implausible ones)."""
    return f"The voice {word} says hello."


class World:
    def __init__(self) -> None:
        self.store = FakeStore()
        self.engine = FakeEngine()
        self.fetcher = FakeFetcher({URL: audio_file(3.0)})
        self.transcriber = FakeTranscriber()
        codec = SoundfileCodec()
        builtin = BuiltinVoice("Some call me nature.", lambda: audio_file(4.0, 24000))
        self.voices = VoiceLibrary(self.store, codec, {"default": builtin})
        self.normalizer = TextNormalizer(EnglishNumbers(), ChineseNumbers())
        self.synthesize = Synthesize(self.engine, self.voices, self.normalizer)
        self.store_output = StoreOutput(self.store, url_ttl=600, new_id=lambda: "out1")
        self.upload = UploadVoice(
            self.voices, codec, self.fetcher, self.transcriber, now=lambda: datetime(2026, 1, 2, tzinfo=UTC)
        )
        self.list = self.voices.list
        self.delete = self.voices.delete


@pytest.fixture
def world() -> World:
    return World()


def test_upload_from_url_stores_audio_then_metadata(world):
    result = world.upload(UploadRequest(name="anna", url=URL, ref_text="Hello there."))
    assert set(world.store.objects) == {"voices/anna.wav", "voices/anna.json"}
    assert result.voice.ref_text == "Hello there." and not result.transcribed
    assert result.voice.created_at == "2026-01-02T00:00:00+00:00"
    assert abs(result.voice.duration - 3.0) < 0.01
    assert world.transcriber.calls == []


def test_upload_without_ref_text_is_transcribed_once(world):
    result = world.upload(UploadRequest(name="anna", data=audio_file(2.0)))
    assert result.transcribed and result.voice.ref_text == world.transcriber.text
    assert len(world.transcriber.calls) == 1
    world.synthesize(TtsRequest(text="Speak.", voice="anna"))
    assert len(world.transcriber.calls) == 1


def test_upload_refuses_existing_names_unless_overwrite(world):
    world.upload(UploadRequest(name="anna", url=URL, ref_text=said("a")))
    with pytest.raises(VoiceExists):
        world.upload(UploadRequest(name="anna", url=URL, ref_text=said("b")))
    with pytest.raises(VoiceExists):
        world.upload(UploadRequest(name="default", url=URL, ref_text=said("b")))
    world.upload(UploadRequest(name="anna", url=URL, ref_text=said("b"), overwrite=True))
    assert world.voices.info("anna").ref_text == said("b")


@pytest.mark.parametrize(("seconds", "needle"), [(0.5, "lasts 0.5 s"), (61.0, "lasts 61.0 s")])
def test_upload_refuses_too_short_or_long_audio(world, seconds, needle):
    with pytest.raises(InvalidAudio, match=needle):
        world.upload(UploadRequest(name="anna", data=audio_file(seconds), ref_text=said("x")))
    assert world.store.objects == {}


def test_upload_of_garbage_never_reaches_the_store(world):
    with pytest.raises(InvalidAudio):
        world.upload(UploadRequest(name="anna", data=b"<html>not audio</html>", ref_text=said("x")))
    assert world.store.objects == {}


def test_upload_leaves_nothing_when_metadata_write_fails(world):
    calls = {"n": 0}
    original = world.store.put

    def put_then_fail(key, data, content_type="application/octet-stream"):
        calls["n"] += 1
        if key.endswith(".json"):
            raise StorageError("writing failed (injected)")
        original(key, data, content_type)

    world.store.put = put_then_fail
    with pytest.raises(StorageError):
        world.upload(UploadRequest(name="anna", url=URL, ref_text=said("x")))
    assert world.store.objects == {}


def test_synthesize_answers_samples_and_stores_nothing(world):
    result = world.synthesize(TtsRequest(text="Hello world!", seed=3, format="flac"))
    assert result.voice == "default" and result.seed == 3 and result.format == "flac"
    assert result.audio.num_samples == round(result.duration * result.audio.sample_rate)
    assert world.store.objects == {}
    assert set(result.timings) == {"fetch", "engine"}


def test_storing_an_output_puts_it_and_its_captions_by_url(world):
    assert world.store_output(b"RIFF", "wav") == ("fake://outputs/out1.wav", None)
    assert world.store_output(b"fLaC", "flac", "WEBVTT", "vtt") == (
        "fake://outputs/out1.flac",
        "fake://outputs/out1.vtt",
    )
    assert world.store.objects == {
        "outputs/out1.wav": b"RIFF",
        "outputs/out1.flac": b"fLaC",
        "outputs/out1.vtt": b"WEBVTT",
    }


def test_long_text_is_one_batch_of_chunks_with_consecutive_seeds(world):
    text = " ".join(f"This is sentence number {word}, which carries a few words." for word in "abcdefghijklmnopqrst")
    result = world.synthesize(TtsRequest(text=text, seed=100, return_base64=True))
    (batch,) = world.engine.calls
    assert result.chunks == len(batch) > 1
    assert [item.seed for item in batch] == list(range(100, 100 + len(batch)))
    assert " ".join(item.text for item in batch) == text


def test_numbers_are_spoken_as_words_unless_normalize_is_off(world):
    world.synthesize(TtsRequest(text="It costs $4.50.", return_base64=True))
    world.synthesize(TtsRequest(text="It costs $4.50.", return_base64=True, normalize=False))
    assert [call[0].text for call in world.engine.calls] == ["It costs four dollars fifty cents.", "It costs $4.50."]


def test_duration_is_the_cross_faded_sum(world):
    text = " ".join(f"Sentence {i} has some words in it." for i in range(40))
    params = SynthesisParams(cross_fade_duration=0.25)
    result = world.synthesize(TtsRequest(text=text, params=params, return_base64=True))
    parts = world.engine.synthesize(world.engine.calls[0])
    expected = sum(p.duration for p in parts) - 0.25 * (len(parts) - 1)
    assert abs(result.duration - expected) < 1e-3


def test_same_seed_same_audio(world):
    first = world.synthesize(TtsRequest(text="Repeat me.", seed=5, return_base64=True))
    again = world.synthesize(TtsRequest(text="Repeat me.", seed=5, return_base64=True))
    assert first.audio.samples == again.audio.samples


def test_unknown_voice(world):
    with pytest.raises(VoiceNotFound):
        world.synthesize(TtsRequest(text="Hi there.", voice="nobody"))


def test_no_orphan_output_when_the_url_cannot_be_made(world):
    world.store.failing.add("url")
    with pytest.raises(StorageError):
        world.store_output(b"RIFF", "wav")
    assert world.store.objects == {}


def test_list_shows_stored_and_builtin_voices_and_ignores_half_voices(world):
    world.upload(UploadRequest(name="zed", url=URL, ref_text=said("z")))
    world.store.put("voices/half.wav", b"audio without metadata")
    assert [v.name for v in world.list()] == ["default", "zed"]


def test_delete_removes_both_objects(world):
    world.upload(UploadRequest(name="anna", url=URL, ref_text=said("a")))
    assert world.delete("anna") == "anna"
    assert world.store.objects == {}
    with pytest.raises(VoiceNotFound):
        world.delete("anna")
    with pytest.raises(InvalidInput, match="built-in"):
        world.delete("default")


def test_a_voice_replaced_under_a_reader_is_detected(world):
    world.upload(UploadRequest(name="anna", url=URL, ref_text=said("a")))
    world.store.objects["voices/anna.wav"] = audio_file(2.5)
    with pytest.raises(StorageError, match="being replaced"):
        world.synthesize(TtsRequest(text="Hello.", voice="anna"))


def test_list_reads_only_new_or_changed_metadata(world):
    for name in ("a", "b", "c"):
        world.upload(UploadRequest(name=name, url=URL, ref_text=said(name)))
    reads: list[str] = []
    original = world.store.get_many
    world.store.get_many = lambda keys: reads.extend(keys) or original(keys)
    assert [v.name for v in world.list()] == ["a", "b", "c", "default"]
    assert sorted(reads) == ["voices/a.json", "voices/b.json", "voices/c.json"]
    reads.clear()
    world.list()
    assert reads == []
    world.upload(UploadRequest(name="b", url=URL, ref_text=said("changed"), overwrite=True))
    world.delete("c")
    reads.clear()
    voices = {v.name: v.ref_text for v in world.list()}
    assert reads == ["voices/b.json"]
    assert voices == {"a": said("a"), "b": said("changed"), "default": "Some call me nature."}


def test_a_cold_worker_lists_from_one_listing_and_the_index(world):
    for name in ("a", "b"):
        world.upload(UploadRequest(name=name, url=URL, ref_text=said(name)))
    world.list()  # a warm worker wrote the index
    cold = VoiceLibrary(world.store, SoundfileCodec(), {})
    calls: list[str] = []
    for method in ("get", "get_many", "list"):
        original = getattr(world.store, method)
        setattr(world.store, method, lambda *args, _m=method, _o=original: calls.append(_m) or _o(*args))
    assert [v.name for v in cold.list()] == ["a", "b"]
    assert calls == ["list", "get", "get_many"]  # get_many of nothing: no request on a real store


def test_a_lost_or_corrupt_index_only_costs_reads(world):
    world.upload(UploadRequest(name="a", url=URL, ref_text=said("a")))
    world.list()
    world.store.objects["index/voices.json"] = b"{not json"
    assert [v.name for v in VoiceLibrary(world.store, SoundfileCodec(), {}).list()] == ["a"]
    del world.store.objects["index/voices.json"]
    assert [v.name for v in VoiceLibrary(world.store, SoundfileCodec(), {}).list()] == ["a"]


def _dialogue_world(world):
    world.upload(UploadRequest(name="bob", data=audio_file(3.0), ref_text="Hi, I am Bob."))
    return world


def test_a_two_voice_dialogue_with_a_pause_is_one_batch_with_exact_silence(world):
    _dialogue_world(world)
    text = "Hello Bob, it is 10:30. [pause:1.5s] [voice:bob] Hi! I owe you $5. [voice:default] Keep it."
    result = world.synthesize(TtsRequest(text=text, seed=7, return_base64=True))
    (batch,) = world.engine.calls
    assert [(item.reference.text, item.text) for item in batch] == [
        ("Some call me nature.", "Hello Bob, it is ten thirty."),
        ("Hi, I am Bob.", "Hi! I owe you five dollars."),
        ("Some call me nature.", "Keep it."),
    ]
    assert [item.seed for item in batch] == [7, 8, 9]
    assert result.spoken_text == "Hello Bob, it is ten thirty. Hi! I owe you five dollars. Keep it."
    kinds = [(s.voice, s.text) for s in result.segments]
    assert kinds == [
        ("default", "Hello Bob, it is ten thirty."), (None, ""), ("bob", "Hi! I owe you five dollars."), (None, ""),
        ("default", "Keep it."),
    ]  # fmt: skip
    pause, gap = result.segments[1], result.segments[3]
    assert pause.end - pause.start == pytest.approx(1.5) and gap.end - gap.start == pytest.approx(0.25)
    assert result.segments[0].start == 0 and result.segments[-1].end == result.duration
    parts = world.engine.synthesize(batch)
    assert result.duration == pytest.approx(sum(p.duration for p in parts) + 1.75, abs=1e-3)  # no cross-fades


def test_structured_segments_are_the_same_as_voice_tags(world):
    _dialogue_world(world)
    tagged = world.synthesize(TtsRequest(text="Hi. [voice:bob] Yo. [pause:1s]", seed=1, return_base64=True))
    segments = (VoiceText("default", "Hi."), VoiceText("bob", "Yo. [pause:1s]"))
    structured = world.synthesize(TtsRequest(text="Hi. Yo.", segments=segments, seed=1, return_base64=True))
    assert structured.audio.samples == tagged.audio.samples and structured.segments == tagged.segments


def test_an_unknown_voice_anywhere_fails_before_any_synthesis(world):
    with pytest.raises(VoiceNotFound, match="'ghost'"):
        world.synthesize(TtsRequest(text="Hello. [voice:ghost] Boo."))
    with pytest.raises(VoiceNotFound, match="'ghost'"):
        world.synthesize(TtsRequest(text="Hello. [voice:ghost]"))
    with pytest.raises(InvalidInput, match=r"bad tag '\[pause:20s\]' at position 7"):
        world.synthesize(TtsRequest(text="Hello. [pause:20s] Boo."))
    assert world.engine.calls == [] and world.store.objects == {}


def test_text_of_only_pauses_has_nothing_to_speak(world):
    with pytest.raises(InvalidInput, match="nothing to speak"):
        world.synthesize(TtsRequest(text="[pause:1s] [pause:2s]"))


def test_a_plain_request_has_one_segment_per_chunk(world):
    text = " ".join(f"Sentence {word} has some words in it." for word in "abcdefghijklmnopqrstuvwxyz")
    result = world.synthesize(TtsRequest(text=text, params=SynthesisParams(cross_fade_duration=0.25)))
    assert len(result.segments) == result.chunks > 1
    assert [s.text for s in result.segments] == [item.text for item in world.engine.calls[0]]
    assert {s.voice for s in result.segments} == {"default"}
    assert result.segments[-1].end == result.duration
    assert all(a.end == b.start for a, b in zip(result.segments, result.segments[1:], strict=False))


def test_streaming_a_dialogue_yields_the_same_audio_and_segments(world):
    _dialogue_world(world)
    text = "First a short line. [voice:bob] Then Bob answers at length, with a pause after. [pause:500ms] Done."
    whole = world.synthesize(TtsRequest(text=text, seed=3))
    *chunks, result = world.synthesize.stream(TtsRequest(text=text, seed=3))
    assert array("f", b"".join(chunk.audio.samples.tobytes() for chunk in chunks)) == whole.audio.samples
    assert result.audio is None and result.segments == whole.segments
    assert sum(chunk.duration for chunk in chunks) == pytest.approx(whole.duration, abs=1e-3)


def test_a_transcript_implausibly_short_or_long_for_its_audio_is_refused(world):
    """12 s of voice with the transcript "a" would pace generated speech at one byte per 12 s."""
    with pytest.raises(InvalidInput, match=r"ref_text is 1 UTF-8 bytes for 12\.0 s .* too short for speech"):
        world.upload(UploadRequest(name="anna", data=audio_file(12.0), ref_text="a"))
    with pytest.raises(InvalidInput, match=r"ref_text is 199 UTF-8 bytes for 3\.0 s .* too long for speech"):
        world.upload(UploadRequest(name="anna", url=URL, ref_text="word " * 40))
    world.transcriber.text = "Hm."
    with pytest.raises(InvalidInput, match="the recognised transcript is 3 UTF-8 bytes"):
        world.upload(UploadRequest(name="anna", url=URL))
    assert world.store.objects == {}


def _capped(world, seconds: float) -> Synthesize:
    return Synthesize(world.engine, world.voices, world.normalizer, max_audio_seconds=seconds)


def test_generated_audio_is_capped_before_any_synthesis(world):
    text = "The quick brown fox jumps over the lazy dog. " * 20
    with pytest.raises(
        InvalidInput, match=r"this text would be [\d.]+ s of audio \(voice 'default', speed 1\); the limit is 60 s"
    ):
        _capped(world, 60.0)(TtsRequest(text=text, voice="default"))
    assert world.engine.calls == []


def test_the_length_estimate_is_the_answers_length(world):
    """The estimate follows the engine's own rule and the assembly (pauses, voice changes,
    cross-fades), so a cap at the answer's length passes and 20 ms below it refuses; and it
    follows UTF-8 bytes, not characters."""
    world.upload(UploadRequest(name="bob", data=audio_file(3.0), ref_text="Hi, I am Bob."))
    text = "The quick brown fox jumps over the lazy dog. " * 8 + "[pause:1.5s] [voice:bob] Hi there! " * 3
    duration = _capped(world, 3600.0)(TtsRequest(text=text, return_base64=True)).duration
    assert _capped(world, duration + 0.001)(TtsRequest(text=text, return_base64=True)).duration == duration
    with pytest.raises(InvalidInput, match=rf"would be {duration:.1f} s"):
        _capped(world, duration - 0.02)(TtsRequest(text=text))

    def estimate(text: str) -> float:
        with pytest.raises(InvalidInput) as refused:
            _capped(world, 0.001)(TtsRequest(text=text, normalize=False))
        return float(refused.value.message.split("would be ")[1].split(" s")[0])

    emoji = estimate("\U0001f600" * 100)  # 100 characters, 400 bytes
    assert emoji == pytest.approx(estimate("abcd" * 100), rel=0.05) and emoji > 3 * estimate("abcd" * 25)

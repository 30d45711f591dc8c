"""`timestamps` and `captions` on tts jobs, with the fake engine and the fake aligner."""

from __future__ import annotations

import io
import itertools
import threading

import pytest
import srt
import webvtt

from adapters.chinese_numbers import ChineseNumbers
from adapters.english_numbers import EnglishNumbers
from adapters.fake_aligner import FakeAligner
from adapters.fake_engine import FakeEngine
from adapters.fake_store import FakeStore
from adapters.micro_batcher import AlignBatcher
from adapters.soundfile_codec import SoundfileCodec
from domain.errors import InvalidInput, StorageError
from domain.text.normalize import TextNormalizer
from domain.use_cases.outputs import StoreOutput
from domain.use_cases.synthesize import StreamChunk, Synthesize, TtsRequest, TtsResult
from domain.voice_library import BuiltinVoice, VoiceLibrary
from entrypoints.endpoints import parse
from tests.helpers import audio_file

LONG = " ".join(f"Sentence number {n} has a few words, and $4.{n}0 in it." for n in range(25)) + " 你好世界。"


class World:
    def __init__(self, aligner: FakeAligner | None = None) -> None:
        self.store = FakeStore()
        self.engine = FakeEngine()
        self.aligner = aligner if aligner is not None else FakeAligner()
        codec = SoundfileCodec()
        voices = VoiceLibrary(self.store, codec, {"default": BuiltinVoice("Some call me nature.",
                                                                          lambda: audio_file(4.0, 24000))})  # fmt: skip
        normalizer = TextNormalizer(EnglishNumbers(), ChineseNumbers())
        self.synthesize = Synthesize(self.engine, voices, normalizer, aligner=self.aligner)
        self.store_output = StoreOutput(self.store, url_ttl=600, new_id=lambda: "out1")


def _check_words(result: TtsResult, text: str) -> None:
    words = result.words
    assert words is not None
    assert [w.word for w in words] == [t for t in text.replace("你好世界。", "你 好 世 界。").split()]
    assert all(0 <= w.start <= w.end <= result.duration + 1e-6 for w in words)
    assert all(a.end <= b.start for a, b in itertools.pairwise(words))


def test_words_one_per_written_word_in_order_inside_the_audio() -> None:
    world = World()
    result = world.synthesize(TtsRequest(text=LONG, timestamps=True, return_base64=True))
    assert result.chunks > 1
    _check_words(result, LONG)
    assert len(world.aligner.calls) == 1 and len(world.aligner.calls[0]) == result.chunks  # one batch


def test_normalised_words_are_answered_as_written() -> None:
    """The engine and the aligner see "four dollars fifty cents"; the client gets "$4.50",
    timed from the first to the last word said for it."""
    world = World()
    result = world.synthesize(TtsRequest(text="It costs $4.50 today, 第3名.", timestamps=True, return_base64=True))
    spoken = world.aligner.calls[0][0].words
    assert "dollars" in spoken and "$4.50" not in spoken
    assert [w.word for w in result.words] == ["It", "costs", "$4.50", "today,", "第", "3", "名."]
    spans = world.aligner._one(world.aligner.calls[0][0])
    four, cents = spoken.index("four"), spoken.index("cents")
    price = result.words[2]
    assert price.start == pytest.approx(spans[four].start) and price.end == pytest.approx(spans[cents].end)
    assert all(a.end <= b.start for a, b in itertools.pairwise(result.words))


def test_each_word_sits_inside_its_chunk() -> None:
    """Word i of chunk c lies where chunk c's audio lies in the output (cross-fades included)."""
    world = World()
    result = world.synthesize(TtsRequest(text=LONG, timestamps=True, return_base64=True, normalize=False))
    aligned = world.aligner.calls[0]
    words = iter(result.words)
    end_of_previous = 0.0
    overlap = 0.15
    for index, item in enumerate(aligned):
        start = end_of_previous - (overlap if index else 0.0)
        end = start + item.audio.duration
        for _ in item.words:
            word = next(words)
            assert start - 1e-3 <= word.start <= word.end <= end + 1e-3
        end_of_previous = end
    assert abs(end_of_previous - result.duration) < 2e-3


def test_no_words_unless_asked_and_the_aligner_is_not_called() -> None:
    world = World()
    result = world.synthesize(TtsRequest(text="Hello there.", return_base64=True))
    assert result.words is None and result.captions is None and world.aligner.calls == []


def test_without_weights_it_fails_before_any_synthesis() -> None:
    world = World(FakeAligner(available=False))
    with pytest.raises(InvalidInput, match="built without"):
        world.synthesize(TtsRequest(text="Hello.", timestamps=True))
    with pytest.raises(InvalidInput, match="built without"):
        world.synthesize(TtsRequest(text="Hello.", captions="srt"))
    assert world.engine.calls == [] and world.store.objects == {}


def test_captions_inline_with_base64() -> None:
    world = World()
    result = world.synthesize(TtsRequest(text=LONG, captions="vtt", return_base64=True))
    assert result.words is None  # captions alone do not add words
    cues = webvtt.from_buffer(io.StringIO(result.captions))
    assert (
        " ".join(c.text for c in cues).replace("你好世界。", "你 好 世 界。").split()
        == LONG.replace("你好世界。", "你 好 世 界。").split()
    )


def test_captions_stored_beside_the_audio_with_url() -> None:
    world = World()
    result = world.synthesize(TtsRequest(text="Hello there, world.", captions="srt", timestamps=True))
    audio_url, captions_url = world.store_output(b"RIFF", "wav", result.captions, "srt")
    assert set(world.store.objects) == {"outputs/out1.wav", "outputs/out1.srt"}
    assert audio_url.endswith("out1.wav") and captions_url.endswith("out1.srt")
    subs = list(srt.parse(world.store.objects["outputs/out1.srt"].decode()))
    assert [s.content for s in subs] == ["Hello there, world."]


def test_a_failed_caption_upload_leaves_no_audio_behind() -> None:
    world = World()
    original = world.store.put

    def put(key, data, content_type):
        if key.endswith(".srt"):
            raise StorageError("disk full")
        return original(key, data, content_type)

    world.store.put = put
    result = world.synthesize(TtsRequest(text="Hello there.", captions="srt"))
    with pytest.raises(StorageError):
        world.store_output(b"RIFF", "wav", result.captions, "srt")
    assert world.store.objects == {}


def test_stream_carries_each_chunks_words_and_they_add_up_to_the_result() -> None:
    world = World()
    events = list(world.synthesize.stream(TtsRequest(text=LONG, timestamps=True, stream=True, return_base64=True)))
    chunks = [e for e in events if isinstance(e, StreamChunk)]
    result = events[-1]
    assert isinstance(result, TtsResult) and len(chunks) > 1
    assert [w for c in chunks for w in c.words] == list(result.words)
    _check_words(result, LONG)
    elapsed = 0.0
    for chunk in chunks:
        assert all(w.start >= elapsed - 0.2 for w in chunk.words)  # no word before its chunk (fade aside)
        elapsed += chunk.duration
        assert chunk.audio.duration == pytest.approx(chunk.duration, abs=1e-3)


def test_concurrent_jobs_are_aligned_in_one_batch() -> None:
    """While the aligner is busy, every job that asks waits in the queue; they are then
    aligned together in one call."""
    aligner = FakeAligner()
    entered, gate = threading.Event(), threading.Event()
    original = aligner.align

    def held(items):
        entered.set()
        gate.wait()
        return original(items)

    aligner.align = held
    batcher = AlignBatcher(aligner, max_items=16, wait_ms=5).start()
    world = World(batcher)
    results = []

    def job() -> None:
        results.append(world.synthesize(TtsRequest(text="A short job here.", timestamps=True)))

    threads = [threading.Thread(target=job) for _ in range(4)]
    for thread in threads:
        thread.start()
    assert entered.wait(30)
    assert batcher.wait_until_queued(4 - batcher.batches[0], 30)
    gate.set()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(len(r.words) == 4 for r in results)
    batcher.close()
    assert list(batcher.batches) == [batcher.batches[0], 4 - batcher.batches[0]][: 1 + (batcher.batches[0] < 4)]


def test_job_fields_parse() -> None:
    _, request = parse({"text": "Hi.", "timestamps": True, "captions": "vtt"})
    assert request.timestamps and request.captions == "vtt"
    with pytest.raises(InvalidInput, match="captions"):
        parse({"text": "Hi.", "captions": "ass"})
    with pytest.raises(InvalidInput, match="timestamps"):
        parse({"text": "Hi.", "timestamps": "yes"})


def test_words_respect_pauses_and_lie_inside_their_segments() -> None:
    """Every word lies inside a speech segment of the answer, none in a pause, and the words
    of each segment are that segment's written words, in order."""
    world = World()
    text = "First part costs $4.50 here. [pause:1s] Second part after the pause, " + LONG
    result = world.synthesize(TtsRequest(text=text, timestamps=True, return_base64=True))
    speech = [s for s in result.segments if s.voice is not None]
    silence = [s for s in result.segments if s.voice is None]
    assert silence and len(speech) > 2
    written = text.replace("[pause:1s] ", "").replace("你好世界。", "你 好 世 界。").split()
    assert [w.word for w in result.words] == written
    for word in result.words:
        inside = [s for s in speech if s.start - 1e-3 <= word.start <= word.end <= s.end + 1e-3]
        assert inside, word
        assert not any(p.start + 1e-3 < word.end and word.start < p.end - 1e-3 for p in silence), word
    pause = silence[0]
    before = [w for w in result.words if w.end <= pause.start + 1e-3]
    assert [w.word for w in before] == ["First", "part", "costs", "$4.50", "here."]

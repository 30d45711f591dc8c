"""A request naming many voices: how many may speak, what is checked before any voice's audio
is read, and how much decoded audio the voice library keeps."""

from __future__ import annotations

import pytest

from adapters.soundfile_codec import SoundfileCodec
from domain.errors import InvalidInput
from domain.use_cases.synthesize import MAX_VOICES, TtsRequest
from domain.use_cases.voices import UploadRequest
from domain.voice_library import VoiceLibrary
from tests.helpers import audio_file
from tests.unit.test_use_cases import World, said


class CountingStore:
    """Counts the voice audio read from the store under it."""

    def __init__(self, store) -> None:
        self._store, self.audio_reads = store, 0

    def get(self, key: str) -> bytes:
        self.audio_reads += key.endswith(".wav")
        return self._store.get(key)

    def __getattr__(self, name: str):
        return getattr(self._store, name)


@pytest.fixture
def world() -> World:
    world = World()
    for index in range(MAX_VOICES + 1):
        clip = audio_file(3.0 + index / 100)  # each its own audio, so its own cache entry
        world.upload(UploadRequest(name=f"v{index}", data=clip, ref_text=said(str(index))))
    return world


def speaking(count: int, tail: str = "") -> str:
    return " ".join(f"[voice:v{i}] Hello." for i in range(count)) + tail


def test_at_most_max_voices_speak_in_one_request(world):
    result = world.synthesize(TtsRequest(text=speaking(MAX_VOICES), voice="v0", return_base64=True))
    assert result.chunks == MAX_VOICES
    with pytest.raises(InvalidInput, match=f"names {MAX_VOICES + 1} voices; at most {MAX_VOICES}"):
        world.synthesize(TtsRequest(text=speaking(MAX_VOICES + 1), voice="v0", return_base64=True))
    assert len(world.engine.calls) == 1


def test_too_many_voices_and_too_long_pauses_are_refused_before_any_voice_is_read(world):
    store = CountingStore(world.store)
    world.synthesize._voices = VoiceLibrary(store, SoundfileCodec())
    with pytest.raises(InvalidInput):
        world.synthesize(TtsRequest(text=speaking(MAX_VOICES + 1), voice="v0", return_base64=True))
    world.synthesize._max_audio_seconds = 60.0
    with pytest.raises(InvalidInput, match=r"the pauses alone would be 70\.0 s"):
        world.synthesize(TtsRequest(text=speaking(3, " [pause:10s]" * 7), voice="v0", return_base64=True))
    assert store.audio_reads == 0


def test_decoded_voices_are_kept_up_to_a_size_in_bytes_not_a_count(world):
    one_voice = int(3.2 * 24000 * 4)  # bytes of each (3-3.16 s, 24 kHz) voice as float32, at most
    voices = VoiceLibrary(world.store, SoundfileCodec(), cache_bytes=5 * one_voice)
    store = CountingStore(world.store)
    voices._store = store
    for index in range(8):
        voices.reference(f"v{index}")
    assert store.audio_reads == 8 and voices._cached_bytes <= 5 * one_voice
    voices.reference("v7")  # the most recent stay
    voices.reference("v0")  # the oldest went
    assert store.audio_reads == 9

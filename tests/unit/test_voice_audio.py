"""A voice's reference recording for a client to hear (`GET /v1/audio/voices/{name}/audio`):
the stored wav as it is, the built-in voice's own, and only for voices that are complete."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.fake_fetcher import FakeFetcher
from adapters.fake_store import FakeStore
from adapters.fake_transcriber import FakeTranscriber
from adapters.soundfile_codec import SoundfileCodec
from domain.errors import VoiceNotFound
from domain.use_cases.voices import UploadRequest, UploadVoice
from domain.voice_library import BuiltinVoice, VoiceLibrary
from tests.helpers import audio_file

BUILTIN = audio_file(4.0)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def library(store) -> VoiceLibrary:
    return VoiceLibrary(store, SoundfileCodec(), {"default": BuiltinVoice("Some call me nature.", lambda: BUILTIN)})


def test_an_uploaded_voice_answers_the_wav_it_stored(store, library):
    upload = UploadVoice(library, SoundfileCodec(), FakeFetcher({}), FakeTranscriber(), now=lambda: datetime.now(UTC))
    upload(UploadRequest(name="anna", data=audio_file(3.0, rate=44100), ref_text="The voice anna says hello."))
    data = library.audio("anna")
    assert data == store.objects["voices/anna.wav"] and data.startswith(b"RIFF")


def test_the_built_in_voice_answers_its_own_recording(library):
    assert library.audio("default") == BUILTIN


def test_unknown_and_half_written_voices_are_not_found(store, library):
    with pytest.raises(VoiceNotFound):
        library.audio("nobody")
    store.put("voices/orphan.wav", audio_file(2.0), "audio/wav")  # audio without metadata: not a voice yet
    with pytest.raises(VoiceNotFound):
        library.audio("orphan")

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.voice import audio_key, metadata_key, voice_name


@given(st.text(max_size=80))
def test_nothing_a_client_sends_becomes_a_key_outside_voices(raw):
    try:
        name = voice_name(raw)
    except InvalidInput:
        return
    for key in (audio_key(name), metadata_key(name)):
        assert posixpath.dirname(key) == "voices"
        assert posixpath.normpath(key) == key
        assert ".." not in key.split("/")


@pytest.mark.parametrize("raw", ["my-voice", "my-voice.wav", "my-voice.WAV"])
def test_file_name_and_bare_name_are_one_voice(raw):
    assert voice_name(raw) == "my-voice"


@pytest.mark.parametrize("raw", ["", ".wav", "..", "../x", "a/b", "a b", ".hidden", "x" * 65, "ü", None, 3])
def test_bad_names_are_refused_not_sanitised(raw):
    with pytest.raises(InvalidInput):
        voice_name(raw)

"""The shared field rules build a voice upload and a tts request straight from a way in's own
values (the OpenAI body and form, the CLI's arguments, a job), with each refusal naming its
field by value."""

from __future__ import annotations

import re

import pytest

from application.fields import (
    MAX_REF_TEXT_CHARS,
    TtsOptions,
    UploadOptions,
    spoken,
    tts_request,
    upload_request,
    validated,
)
from application.limits import Limits
from domain.errors import InvalidInput, InvalidVoiceName, UnknownField

LIMITS = Limits(max_text_chars=100, max_text_bytes=400, max_voice_bytes=1000)


def options(**values) -> UploadOptions:
    return validated(UploadOptions, values)


def test_an_upload_is_built_from_the_recordings_bytes():
    upload = upload_request(
        "anna.wav", b"RIFF", LIMITS, options(ref_text="Hello.", overwrite=True, model="m", language="fr")
    )
    assert (upload.name, upload.data, upload.url, upload.ref_text) == ("anna", b"RIFF", None, "Hello.")
    assert (upload.overwrite, upload.model, upload.language) == (True, "m", "fr")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"data": b"x" * 1001}, "voice_file"),
        ({"ref_text": "a" * (MAX_REF_TEXT_CHARS + 1)}, "ref_text"),
        ({"model": "m" * 65}, "model"),
        ({"language": "French"}, "language"),
    ],
)
def test_each_refusal_names_its_field(change, field):
    values = {"data": b"RIFF", **change}
    with pytest.raises(InvalidInput) as caught:
        upload_request("anna", values.pop("data"), LIMITS, options(**values))
    assert caught.value.field == field and caught.value.code == "invalid_input"


def test_a_bad_name_is_a_voice_name_error():
    with pytest.raises(InvalidVoiceName):
        upload_request("../etc", b"RIFF", LIMITS, options())


def test_what_is_spoken_comes_from_a_way_ins_own_values():
    assert spoken(LIMITS, text="  Hi there. ", voice="anna.wav") == ("Hi there.", "anna", ())
    text, voice, segments = spoken(LIMITS, text=None, segments=[("bob", " One. "), (None, "Two.")])
    assert (text, voice, [(s.voice, s.text) for s in segments]) == (
        "One. Two.",
        "default",
        [("bob", "One."), ("default", "Two.")],
    )


@pytest.mark.parametrize("text", ["   ", "x" * 101, "\ud800"])
def test_text_outside_the_limits_is_refused_naming_the_text(text):
    with pytest.raises(InvalidInput) as caught:
        spoken(LIMITS, text=text)
    assert caught.value.field == "text"


def test_a_tts_request_is_built_from_a_way_ins_values_and_the_shared_options():
    shared = validated(TtsOptions, {"seed": 7, "nfe_step": 16, "speed": 1.5, "normalize": False, "language": "fr"})
    request = tts_request(LIMITS, shared, " Hi. ", "anna.wav", format="flac", return_base64=True)
    assert (request.text, request.voice, request.format, request.return_base64) == ("Hi.", "anna", "flac", True)
    assert (request.seed, request.params.nfe_step, request.params.speed) == (7, 16, 1.5)
    assert (request.normalize, request.language, request.model) == (False, "fr", None)


@pytest.mark.parametrize(
    ("values", "kind", "field"),
    [
        ({"seed": -1}, InvalidInput, "seed"),
        ({"nfe_step": "16"}, InvalidInput, "nfe_step"),  # strict: a string is not a number
        ({"captions": "ass"}, InvalidInput, "captions"),
        ({"format": "wav"}, UnknownField, "format"),  # each way in names its output format itself
        ({"segments": [{"text": "hi", "speed": 2}]}, UnknownField, "segments.0.speed"),
    ],
)
def test_shared_options_are_refused_naming_the_field(values, kind, field):
    with pytest.raises(kind) as caught:
        validated(TtsOptions, values)
    assert caught.value.field == field and type(caught.value) is kind


@pytest.mark.parametrize(
    ("url", "needle"), [("ftp://h/v.wav", "http or https"), ("http://[::1", "not a valid URL"), ("http:///v", "host")]
)
def test_an_upload_from_a_url_is_checked_before_any_download(url, needle):
    with pytest.raises(InvalidInput, match=re.escape(needle)) as caught:
        upload_request("anna", url, LIMITS, options())
    assert caught.value.field == "voice_file_url"
    fetched = upload_request("anna", "https://example.test/anna.wav", LIMITS, options())
    assert (fetched.url, fetched.data) == ("https://example.test/anna.wav", None)

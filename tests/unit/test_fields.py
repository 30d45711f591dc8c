"""The shared field rules build a voice upload straight from a way in's own values (the
OpenAI form), with each refusal naming its field by value, as the job parser's do."""

from __future__ import annotations

import pytest

from application.fields import MAX_REF_TEXT_CHARS, spoken, upload_request
from application.limits import Limits
from domain.errors import InvalidInput, InvalidVoiceName

LIMITS = Limits(max_text_chars=100, max_text_bytes=400, max_voice_bytes=1000)


def test_an_upload_is_built_from_the_recordings_bytes():
    upload = upload_request("anna.wav", b"RIFF", LIMITS, ref_text="Hello.", overwrite=True, model="m", language="fr")
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
    values = {"name": "anna", "data": b"RIFF", **change}
    with pytest.raises(InvalidInput) as caught:
        upload_request(values.pop("name"), values.pop("data"), LIMITS, **values)
    assert caught.value.field == field and caught.value.code == "invalid_input"


def test_a_bad_name_is_a_voice_name_error():
    with pytest.raises(InvalidVoiceName):
        upload_request("../etc", b"RIFF", LIMITS)


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

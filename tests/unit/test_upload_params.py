"""A failed voice upload names the multipart field it is about (OpenAI's `param`), so the
web page shows the error beside the name, the transcript or the recording."""

from __future__ import annotations

import pytest

from domain.errors import InvalidAudio, InvalidInput, InvalidVoiceName, StorageError, VoiceExists
from entrypoints.openai_requests import upload_param


@pytest.mark.parametrize(
    ("error", "param"),
    [
        (VoiceExists("a voice named 'anna' exists; send overwrite: true to replace it"), "name"),
        (
            InvalidVoiceName("voice name must be 1-64 letters, digits, '.', '_' or '-' and must not start with '.'"),
            "name",
        ),
        (InvalidInput("ref_text is 2 UTF-8 bytes for 3.0 s of audio (0.7 bytes/s), too short", "ref_text"), "ref_text"),
        (InvalidInput("the recognised transcript is 900 UTF-8 bytes for 3.0 s of audio", "ref_text"), "ref_text"),
        (InvalidInput("no speech was recognised in the voice; send ref_text with the upload", "ref_text"), "ref_text"),
        # the type and the field decide, never the words of the message
        (InvalidInput("the name says ref_text and transcript and voice name"), None),
        (InvalidAudio("the voice lasts 0.5 s; send 1-60 s of speech"), "audio_sample"),
        (InvalidAudio("the file is not audio in a supported format (wav, flac, ogg, mp3)"), "audio_sample"),
        (StorageError("the store failed"), None),
    ],
)
def test_each_upload_error_names_its_field(error, param):
    assert upload_param(error) == param

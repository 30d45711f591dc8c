"""OpenAI request parsing and the server's settings, without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from application.limits import Limits
from domain.voice import DEFAULT_VOICE, VoiceInfo
from entrypoints.openai_api import ServerSettings, check_exposure, is_loopback, server_settings
from entrypoints.openai_requests import ApiError, form_flag, parse_speech, voice_object
from settings import load_settings

BASE = {"model": "tts-1", "input": "Hello there.", "voice": "alloy"}


def parsed(**fields):
    return parse_speech({**BASE, **fields}, Limits.defaults())


def refused(payload, limits=None) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_speech(payload, limits or Limits.defaults())
    return caught.value


def test_openai_fields_become_a_tts_request_answered_inline():
    speech = parsed(response_format="opus", speed=1.25, stream_format="sse")
    assert speech.stream_format == "sse" and speech.stream and speech.openai_voice
    tts = speech.tts
    assert (tts.text, tts.voice, tts.format, tts.params.speed, tts.return_base64) == (
        "Hello there.",
        "alloy",
        "opus",
        1.25,
        True,
    )


def test_defaults_follow_openai():
    speech = parse_speech({"model": "f5-tts", "input": "Hi."}, Limits.defaults())
    assert (speech.tts.format, speech.tts.voice, speech.stream_format, speech.openai_voice) == (
        "mp3",
        DEFAULT_VOICE,
        "audio",
        False,
    )


def test_worker_extensions_pass_through_to_the_job_parser():
    tts = parsed(seed=42, nfe_step=16, cfg_strength=1.5, remove_silence=True).tts
    assert (tts.seed, tts.params.nfe_step, tts.params.cfg_strength, tts.params.remove_silence) == (42, 16, 1.5, True)
    assert not parsed(normalize=False).tts.normalize and parsed().tts.normalize  # the text front-end's switch
    assert parsed(voice={"id": "anna.wav"}, stream=False).tts.voice == "anna"
    assert not parsed(stream=False).stream


@pytest.mark.parametrize(
    ("fields", "status", "param"),
    [
        ({"model": "whisper-1"}, 400, "model"),
        ({"input": "   "}, 400, "input"),
        ({"input": "x" * 30}, 400, "input"),  # over the limit below
        ({"voice": "../../etc"}, 400, "voice"),
        ({"seed": -1}, 400, "seed"),
        ({"nfe_step": 1000}, 400, "nfe_step"),
        ({"speed": 9.0}, 400, "speed"),
        ({"speed": "fast"}, 422, "speed"),
        ({"response_format": "aiff"}, 422, "response_format"),
        ({"stream_format": "json"}, 422, "stream_format"),
        ({"voice": {"name": "x"}}, 422, "voice"),
        ({"input": 5}, 422, "input"),
        ({"text": "sneaky"}, 422, "text"),
        ({"format": "wav"}, 422, "format"),
        ({"endpoint": "delete_voice"}, 422, "endpoint"),
        ({"no_such_option": 1}, 422, "no_such_option"),
    ],
)
def test_bad_requests_name_the_field_and_status(fields, status, param):
    error = refused({**BASE, **fields}, Limits(max_text_chars=20, max_text_bytes=80, max_voice_bytes=1000))
    assert (error.status, error.param, error.code) == (status, param, "invalid_input")
    assert error.body()["error"]["type"] == "invalid_request_error"


def test_a_missing_field_and_a_non_object_are_422():
    assert refused({"model": "tts-1"}).message == "'input' is required"
    assert refused(["not", "an", "object"]).status == 422


def test_voice_objects_look_like_openais_with_the_workers_fields():
    info = VoiceInfo("anna", "Anna speaks.", 3.0, 24000, "ab" * 32, "2026-01-02T03:04:05+00:00")
    obj = voice_object(info)
    assert obj["id"] == obj["name"] == "anna" and obj["object"] == "audio.voice"
    assert obj["created_at"] == int(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())
    assert (obj["ref_text"], obj["duration"]) == ("Anna speaks.", 3.0)


def test_form_flags():
    assert form_flag("true", "overwrite") and form_flag("1", "overwrite") and not form_flag(None, "overwrite")
    assert not form_flag("false", "overwrite")
    with pytest.raises(ApiError):
        form_flag("maybe", "overwrite")


def test_settings_from_the_environment():
    env = {"API_KEY": "sk-secret-123", "CORS_ORIGINS": "http://a:1, http://b:2 ,", "ALLOW_NO_API_KEY": "1"}
    settings = load_settings(env)
    assert "sk-secret-123" not in repr(settings)  # a secret: never in a log line or a traceback
    assert server_settings(settings) == ServerSettings(
        api_key="sk-secret-123", cors_origins=("http://a:1", "http://b:2"), allow_no_key=True
    )
    assert server_settings(load_settings({})) == ServerSettings()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_key(host):
    assert is_loopback(host)
    check_exposure(host, ServerSettings())


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "my-host"])
def test_beyond_loopback_needs_a_key_or_an_explicit_waiver(host):
    with pytest.raises(SystemExit, match="API_KEY"):
        check_exposure(host, ServerSettings())
    check_exposure(host, ServerSettings(api_key="k"))
    check_exposure(host, ServerSettings(allow_no_key=True))

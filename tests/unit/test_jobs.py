import base64
import re
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.limits import Limits
from domain.errors import MAX_MESSAGE_CHARS, InvalidInput
from domain.text.script import VoiceText
from domain.use_cases.synthesize import TtsRequest
from domain.use_cases.voices import UploadRequest
from entrypoints.endpoints import parse


def parse_request(payload, limits=None):
    """Only the domain request: what these tests look at."""
    return parse(payload, limits)[1]


SMALL_VOICES = replace(Limits.defaults(), max_voice_bytes=1000)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
known_keys = st.sampled_from(
    [
        "endpoint",
        "text",
        "local_voice",
        "voice",
        "speed",
        "seed",
        "nfe_step",
        "format",
        "return",
        "voice_name",
        "voice_file_url",
        "voice_file_base64",
        "ref_text",
        "overwrite",
        "remove_silence",
        "cfg_strength",
    ]
)
endpoints = st.sampled_from(["tts", "upload", "list_voices", "delete_voice", "health", "nope"])
jobs = st.dictionaries(known_keys, json_values | endpoints, max_size=8)


@given(json_values | jobs)
def test_any_json_is_a_request_or_invalid_input(payload):
    try:
        parse_request(payload)
    except InvalidInput as exc:
        assert str(exc).startswith("invalid_input: ")


def test_the_seed_example_is_a_tts_request_in_the_default_voice():
    request = parse_request({"text": "Hello world!"})
    assert isinstance(request, TtsRequest)
    assert (request.voice, request.format, request.return_base64, request.seed) == ("default", "wav", False, None)


def test_all_tts_fields_are_honoured():
    request = parse_request(
        {
            "text": " Hi ",
            "local_voice": "my-voice.wav",
            "speed": 1.5,
            "seed": 9,
            "nfe_step": 16,
            "cfg_strength": 1,
            "sway_sampling_coef": 0.5,
            "cross_fade_duration": 0,
            "remove_silence": True,
            "format": "ogg",
            "return": "base64",
            "normalize": False,
        }
    )
    assert isinstance(request, TtsRequest)
    assert request.text == "Hi" and request.voice == "my-voice" and request.seed == 9
    assert not request.normalize and parse_request({"text": "Hi"}).normalize
    assert request.format == "ogg" and request.return_base64
    p = request.params
    assert (p.speed, p.nfe_step, p.cfg_strength, p.sway_sampling_coef, p.cross_fade_duration, p.remove_silence) == (
        1.5,
        16,
        1.0,
        0.5,
        0.0,
        True,
    )


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"text": "hi", "bogus": 1}, "unknown field 'bogus'"),
        ({"text": "   "}, "text must not be empty"),
        ({"text": "x" * 21}, "the limits are 20 characters"),
        ({"text": "hi", "speed": "fast"}, "'speed'"),
        ({"text": "hi", "seed": True}, "'seed'"),
        ({"text": "hi", "format": "aiff"}, "'format'"),
        ({"text": "hi", "normalize": "yes"}, "'normalize'"),
        ({"endpoint": "transcode"}, "unknown endpoint"),
        ({"endpoint": "upload", "voice_name": "v"}, "exactly one of"),
        ({"endpoint": "upload", "voice_name": "v", "voice_file_url": "ftp://x/y.wav"}, "http or https"),
        ({"endpoint": "upload", "voice_name": "v", "voice_file_base64": "!!!"}, "not valid base64"),
        ({"endpoint": "upload", "voice_name": "../v", "voice_file_base64": "AAAA"}, "voice name"),
        ({"endpoint": "delete_voice"}, "'voice_name' is required"),
        ({}, "'text' is required"),
        ("text", "JSON object"),
    ],
)
def test_bad_jobs_say_what_to_fix(payload, needle):
    with pytest.raises(InvalidInput, match=needle):
        parse_request(payload, replace(Limits.defaults(), max_text_chars=20))


def test_base64_size_is_checked_before_decoding():
    big = base64.b64encode(b"x" * 2000).decode()
    with pytest.raises(InvalidInput, match="larger than 1000 bytes"):
        parse_request({"endpoint": "upload", "voice_name": "v", "voice_file_base64": big}, SMALL_VOICES)


def test_base64_exactly_at_the_cap_passes_and_one_byte_more_fails():
    job = {"endpoint": "upload", "voice_name": "v"}
    at_cap = base64.encodebytes(b"x" * 1000).decode()  # with line breaks, as `base64` writes it
    assert parse_request(job | {"voice_file_base64": at_cap}, SMALL_VOICES).data == b"x" * 1000
    over = base64.b64encode(b"x" * 1001).decode()
    with pytest.raises(InvalidInput, match="larger than 1000 bytes"):
        parse_request(job | {"voice_file_base64": over}, SMALL_VOICES)


def test_other_endpoints():
    assert parse_request({"endpoint": "list_voices"}) is None
    assert parse_request({"endpoint": "delete_voice", "voice_name": "a.wav"}) == "a"
    upload = parse_request({"endpoint": "upload", "voice_name": "a", "voice_file_url": "https://example.test/a.wav"})
    assert isinstance(upload, UploadRequest) and upload.url and upload.data is None


def test_segments_take_the_job_voice_as_their_default():
    request = parse_request({"segments": [{"text": " Hi. "}, {"voice": "bob.wav", "text": "Yo."}], "voice": "anna"})
    assert request.segments == (VoiceText("anna", "Hi."), VoiceText("bob", "Yo."))
    assert request.text == "Hi. Yo." and request.voice == "anna"


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"text": "hi", "segments": [{"text": "yo"}]}, "not both"),
        ({"segments": []}, "'segments'"),
        ({"segments": [{"text": "ok"}, {"voice": "../x", "text": "hi"}]}, r"segments\[1\]\.voice: voice name"),
        ({"segments": [{"text": "  "}]}, r"segments\[0\]\.text must not be empty"),
        ({"segments": [{"text": "hi", "speed": 2}]}, "unknown field 'segments.0.speed'"),
        ({"segments": [{"text": "x" * 15}, {"text": "y" * 15}]}, "the limits are 20 characters"),
    ],
)
def test_bad_segments_say_what_to_fix(payload, needle):
    with pytest.raises(InvalidInput, match=needle):
        parse_request(payload, Limits(max_text_chars=20, max_text_bytes=80, max_voice_bytes=1000))


UPLOAD = {"endpoint": "upload", "voice_name": "v"}


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({**UPLOAD, "voice_file_url": "http://[::1"}, "not a valid URL"),
        (
            {"endpoint": "upload", "voice_name": "v", "voice_file_url": "http://127.0.0.1:65536/v.wav"},
            "not a valid URL",
        ),
        ({**UPLOAD, "voice_file_url": "http:///v.wav"}, "with a host"),
        ({**UPLOAD, "voice_file_url": "http://h/" + "a" * 9000}, "longer than 8192"),
        ({"text": "\ud800\udfff\ud800"}, "text holds lone surrogates"),
        (
            {"endpoint": "upload", "voice_name": "v", "voice_file_base64": "AAAA", "ref_text": "\udc00"},
            "'ref_text'",
        ),
        ({"text": "\U0001f600" * 10_001}, "40004 UTF-8 bytes; the limits are 20000 characters and 40000 bytes"),
    ],
)
def test_malformed_values_are_invalid_input(payload, needle):
    """Each of these used to escape parsing and end as engine_error with a traceback."""
    with pytest.raises(InvalidInput, match=re.escape(needle)):
        parse_request(payload)


def test_unknown_field_names_are_echoed_bounded():
    with pytest.raises(InvalidInput) as refused:
        parse_request({"text": "hi", "x" * 1_000_000: 1, "y" * 5000: 2})
    assert len(str(refused.value)) < 200 and "unknown field 'xxxx" in str(refused.value)


def test_every_client_message_is_bounded():
    assert len(str(InvalidInput("z" * 100_000))) <= MAX_MESSAGE_CHARS + len("invalid_input: ")


def test_a_refused_huge_upload_is_freed_without_the_garbage_collector():
    """The refusal used to sit in a local of the frame it was raised from: frame -> exception
    -> traceback -> frame, a cycle that kept the decoded payload (50 MiB here) alive until a
    full collection. Measured with the collector off: what parsing allocated is all freed."""
    import gc
    import tracemalloc

    payload = {
        "endpoint": "upload",
        "voice_name": "v",
        "voice_file_base64": "data:audio/wav;base64," + "A" * (50 << 20),
    }
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput, match="larger than"):
            parse_request(payload, replace(Limits.defaults(), max_voice_bytes=1 << 20))
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert kept < 1 << 20

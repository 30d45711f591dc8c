"""Arbitrary JSON into the service: an answer or a known error, never an exception or debris."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import srt
import webvtt
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from domain.errors import ERROR_CODES, MAX_MESSAGE_CHARS
from entrypoints.service import WorkerService
from tests.helpers import audio_file, claimed_long_flac, make_test_container

VOICE = base64.b64encode(audio_file(1.5, 16000)).decode()

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "So"]), max_size=40)
    | st.sampled_from(["", " ", "\x00", "../../etc/passwd", "default", "a.wav", "x" * 5000, VOICE, "AAAA", "é" * 300])
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=15), children, max_size=5),
    max_leaves=25,
)
fields = st.sampled_from(
    ["endpoint", "text", "local_voice", "voice", "speed", "seed", "nfe_step", "cfg_strength", "sway_sampling_coef",
     "cross_fade_duration", "remove_silence", "format", "return", "voice_name", "voice_file_url",
     "voice_file_base64", "ref_text", "overwrite"]
)  # fmt: skip
good_values = st.sampled_from(
    ["tts", "upload", "list_voices", "delete_voice", "health", "wav", "mp3", "base64", "url", "Hello there.", "v1",
     "default", VOICE, 1.0, 0.5, 16, 7, 0, True, False, "http://127.0.0.1:9/x.wav", "ftp://x", "http://[::1",
     "http://127.0.0.1:70000/v.wav", "http://u:p@127.0.0.1:9/v.wav?sig=s3cr3t", "\ud800\udc00\ud800", "a",
     "\U0001f600" * 10_001]
)  # fmt: skip
jobs = st.dictionaries(fields, good_values | json_values, max_size=9)
names = st.sampled_from(["v1", "v2.wav", "default", "nobody", "bad name", "../v1"])
plausible_jobs = st.one_of(
    st.fixed_dictionaries(
        {"text": st.text(min_size=1, max_size=400)},
        optional={
            "local_voice": names,
            "format": st.sampled_from(["wav", "flac", "mp3", "ogg"]),
            "return": st.sampled_from(["url", "base64"]),
            "speed": st.floats(0.3, 3.0),
            "seed": st.integers(0, 2**31 - 1),
            "cross_fade_duration": st.floats(0.0, 1.0),
        },
    ),
    st.fixed_dictionaries(
        {"endpoint": st.just("upload"), "voice_name": names},
        optional={
            "voice_file_base64": st.sampled_from([VOICE, "AAAA", base64.b64encode(b"RIFF" * 500).decode()]),
            "voice_file_url": st.sampled_from(["http://127.0.0.1:9/v.wav", "file:///etc/passwd"]),
            "ref_text": st.text(max_size=60),
            "overwrite": st.booleans(),
        },
    ),
    st.fixed_dictionaries({"endpoint": st.sampled_from(["delete_voice", "list_voices"]), "voice_name": names}),
    st.just({"endpoint": "list_voices"}),
)


def store_is_clean(root: Path) -> list[str]:
    """Problems in the store: temp files, and voices missing their audio or metadata."""
    problems = [str(p) for p in root.rglob("*") if p.name.startswith(".tmp-")]
    voices = root / "voices"
    if voices.is_dir():
        stems = {p.stem for p in voices.iterdir()}
        problems += [s for s in stems if not (voices / f"{s}.wav").is_file() or not (voices / f"{s}.json").is_file()]
    return problems


@pytest.fixture(scope="module")
def fuzzed_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, WorkerService]]:
    """One worker for every example, as a deployed worker meets job after job: its store and
    caches carry over, so each example also meets whatever the examples before it left (a
    container per example cost 73 ms, 22 s of this test's 300 examples)."""
    root = tmp_path_factory.mktemp("fuzz")
    container = make_test_container(f"file://{root}/store", env={"VOICE_CACHE_DIR": str(root / "cache")})
    yield root, WorkerService(container.app())
    container.shutdown_resources()


@pytest.mark.slow  # 300 fuzzed job lists
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(plausible_jobs | jobs | json_values, min_size=1, max_size=5))
def test_any_json_gets_an_answer_or_a_known_error(fuzzed_worker, payloads):
    """engine_error is not a known error here: with the fake engine, codec and transcriber
    nothing can legitimately fail in the model, so it can only be an unexpected crash."""
    root, service = fuzzed_worker
    for payload in payloads:
        answer = service.handle(payload, "fuzz")
        assert isinstance(answer, dict)
        event(answer["error"].partition(":")[0] if "error" in answer else "completed")
        if "error" in answer:
            code, _, message = answer["error"].partition(": ")
            assert code in ERROR_CODES - {"engine_error"} and message, answer
            assert "Traceback" not in message and str(root) not in message and "s3cr3t" not in message
            assert len(message) <= MAX_MESSAGE_CHARS
        else:
            assert answer["status"] in ("completed", "degraded")
    outside = [p for p in root.iterdir() if p.name not in ("store", "cache")]
    assert outside == []
    assert store_is_clean(root / "store") == []


# --- named attacks from the second hostile-input round (issue 11) ----------------------

OGG_JOB = """
import json, sys
from tests.helpers import make_test_container
from entrypoints.service import WorkerService

service = WorkerService(make_test_container("memory://ogg").app())
answer = service.handle(json.loads(sys.argv[1]), "ogg")
print(json.dumps({"error": answer.get("error"), "duration": answer.get("duration")}))
"""


@pytest.mark.slow
def test_a_long_ogg_answer_does_not_kill_the_worker():
    """900 characters in the default voice is ~100 s of audio, which libsndfile's Vorbis
    encoder used to get in one call (SIGSEGV). A subprocess, so a crash fails the test."""
    job = {"text": "The quick brown fox jumps over the lazy dog. " * 20, "format": "ogg", "return": "base64"}
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", OGG_JOB, json.dumps(job)], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    answer = json.loads(done.stdout.splitlines()[-1])
    assert answer["error"] is None and answer["duration"] > 90


def test_a_small_upload_claiming_hours_is_refused_from_its_header():
    """134 KB of 8-channel FLAC claiming 2048 s: refused without decoding it (measured in
    benchmarks/load.py: the worker's memory stays flat)."""
    service = WorkerService(make_test_container().app())
    data = base64.b64encode(claimed_long_flac()).decode()
    job = {"endpoint": "upload", "voice_name": "bomb", "voice_file_base64": data}
    answer = service.handle(job, "bomb")
    assert answer["error"] == "invalid_audio: the audio lasts 2048.0 s; the limit is 60 s"


# --- text classes from the third round (issue 32): huge numbers, tag floods, arrows and markup in captions ---

HUGE = "1" * 5000
HOSTILE_TEXT = {
    "ordinal-400": "1" * 400 + "th",
    "ordinal-4400": "1" * 4400 + "th",
    "money-5000": "$" + HUGE,
    "money-cents-5000": "$" + HUGE + ".50",
    "fraction-5000": HUGE + "/" + HUGE,
    "mixed-fraction-5000": "3 " + HUGE + "/7",
    "tag-flood": "a[pause:0s]" * 1818,
    "huge-pause": "Go [pause:" + "1" * 5000 + "s] now",
    "huge-voice": "Go [voice:" + "a" * 5000 + "] now",
    "caption-markup": "a--->b x---->y <c.red>red</c> <v Bob> said <script>alert(1)</script> & more.",
    "spaced-pause": "Wait [pause: 1s] go, [x:] stays.",
    "tag-in-a-number": "$4[pause:0.5s].50",
}


@pytest.mark.parametrize("text", HOSTILE_TEXT.values(), ids=HOSTILE_TEXT.keys())
def test_hostile_text_gets_an_answer_or_a_short_known_error(text):
    """These raised (engine_error on runsync, 500 on the OpenAI server), quoted 5,000
    characters back, or wrote captions a parser misreads."""
    service = WorkerService(make_test_container("memory://hostile-text").app())
    job = {"text": text, "timestamps": True, "captions": "vtt", "return": "base64", "speed": 3}
    answer = service.handle(job, "hostile-text")
    if "error" in answer:
        code, _, message = answer["error"].partition(": ")
        assert code == "invalid_input" and len(message) < 400, answer["error"][:400]
        return
    assert answer["status"] == "completed"
    assert not re.search(r"[0-9]", answer["spoken_text"])
    captions = list(webvtt.from_buffer(io.StringIO(answer["captions"])))
    shown = " ".join(html.unescape(c.raw_text) for c in captions).split()
    assert shown == [re.sub(r"-{2,}>", "->", w["word"]) for w in answer["words"]]
    assert not any("<" in c.raw_text or "-->" in c.raw_text for c in captions)


@pytest.mark.parametrize(
    ("text", "spoken", "pause"),
    [("Wait [pause: 1s] go, [x:] stays.", "Wait go, [x:] stays.", 1.0),
     ("$4[pause:0.5s].50", "four dollars point five zero", 0.5)],
)  # fmt: skip
def test_a_spaced_pause_is_a_pause_and_a_tag_splits_a_number_sensibly(text, spoken, pause):
    """`[pause: 1s]` was read aloud and `[x:]` refused as an unknown tag; `$4[pause:0.5s].50`
    read "four dollars .fifty"."""
    answer = WorkerService(make_test_container("memory://tags").app()).handle(
        {"text": text, "return": "base64"}, "tags"
    )
    assert answer["spoken_text"] == spoken
    silences = [s["end"] - s["start"] for s in answer["segments"] if s["voice"] is None]
    assert silences == [pytest.approx(pause, abs=1e-3)]


fragments = st.sampled_from(
    ["1" * 400 + "th", "$" + "9" * 4400, "7" * 20 + "/" + "3" * 4400, "2 " + "5" * 300 + "/9", "[pause:0s]",
     "[pause: 1s]", "[x:]", "a--->b", "<v Bob>", "<c.red>", "&", "555-0142", ".50", "[pause:" + "9" * 300 + "ms]",
     "Hello there.", "第" + "1" * 400 + "名", "0/0.io", "www." + "a" * 300]
)  # fmt: skip


def _caption_texts(captions: str, fmt: str) -> list[str]:
    if fmt == "srt":
        return [cue.content for cue in srt.parse(captions)]
    return [html.unescape(cue.raw_text) for cue in webvtt.from_buffer(io.StringIO(captions))]


@pytest.mark.slow  # fuzzed texts whose numbers spell thousands of words, each with timestamps and captions
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fragments, min_size=1, max_size=4).map(" ".join), st.sampled_from(["srt", "vtt"]))
def test_text_fuzz_with_timestamps_and_captions(text, fmt):
    """Any mix of the classes above: an answer whose captions read back as its words, or
    invalid_input (a pause past 10 s). Captions join CJK words without a space, so the
    comparison ignores spaces."""
    service = WorkerService(make_test_container("memory://text-fuzz").app())
    answer = service.handle({"text": text, "timestamps": True, "captions": fmt, "return": "base64", "speed": 3}, "f")
    if "error" in answer:
        assert answer["error"].startswith("invalid_input: ") and len(answer["error"]) < 400
        return
    shown = "".join(_caption_texts(answer["captions"], fmt)).replace(" ", "")
    assert shown == "".join(re.sub(r"-{2,}>", "->", w["word"]) for w in answer["words"])

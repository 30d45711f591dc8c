"""Every endpoint through runpod's own local API (`--rp_serve_api`), worker in a subprocess."""

from __future__ import annotations

import base64
from urllib.parse import urlparse

import pytest
import requests

from ports.audio_encoder import OUTPUT_FORMATS
from tests.audio_decode import decode
from tests.e2e.worker import running_worker
from tests.helpers import audio_file, tiny_f5_env
from tests.loopback import loopback_files
from tests.moto_s3 import moto_s3

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def files():
    with loopback_files() as served:
        yield served


@pytest.fixture(scope="module", params=["fake-file", "fake-s3", "f5-file"])
def store_env(request, tmp_path_factory):
    """The same suite on a local folder and on S3 (moto's server over HTTP on loopback),
    with the fake engine, and once with the real F5-TTS engine on the tiny checkpoint,
    offline, loaded as production loads it (Whisper cannot load offline there)."""
    engine, store = request.param.split("-")
    env = {"TTS_ENGINE": engine}
    if engine == "f5":
        env |= tiny_f5_env(tmp_path_factory.mktemp("tiny"))
    if store == "file":
        yield {**env, "STORAGE_URL": f"file://{tmp_path_factory.mktemp('store')}"}
        return
    with moto_s3() as s3:
        s3.create_bucket("e2e-bucket")
        yield {**env, **s3.env("e2e-bucket", "worker")}


@pytest.fixture(scope="module")
def worker(store_env, tmp_path_factory):
    env = {
        **store_env,
        "RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS": "1",
        "MAX_CONCURRENCY": "4",
        "VOICE_CACHE_DIR": str(tmp_path_factory.mktemp("voice-cache")),
    }
    with running_worker(env, tmp_path_factory.mktemp("logs") / "worker.log") as running:
        yield running


def output_of(answer: dict) -> dict:
    assert answer["status"] == "COMPLETED", answer
    return answer["output"]


def error_of(answer: dict) -> str:
    assert answer["status"] == "FAILED", answer
    return answer["error"]


def audio_from(output: dict) -> tuple[int, float]:
    """(sample rate, seconds) of the returned audio, decoded from base64 or the file URL."""
    if "audio_base64" in output:
        data = base64.b64decode(output["audio_base64"])
    elif output["audio_url"].startswith("file://"):
        with open(urlparse(output["audio_url"]).path, "rb") as handle:
            data = handle.read()
    else:
        response = requests.get(output["audio_url"], timeout=10)
        response.raise_for_status()
        data = response.content
    samples, rate = decode(data, output["format"])
    return rate, samples.size / rate


def test_the_seed_request_works_on_a_fresh_store(worker, store_env):
    output = output_of(worker.runsync({"text": "Hello world!"}))
    assert output["status"] == "completed" and output["voice"] == "default"
    assert output["text"] == "Hello world!"
    if store_env["STORAGE_URL"].startswith("s3://"):
        assert output["audio_url"].startswith(f"{store_env['AWS_ENDPOINT_URL']}/e2e-bucket/worker/outputs/")
        assert "X-Amz-Signature=" in output["audio_url"]
    else:
        assert output["audio_url"].startswith(store_env["STORAGE_URL"] + "/outputs/")
    rate, seconds = audio_from(output)
    assert rate == output["sample_rate"] == 24000
    assert seconds == pytest.approx(output["duration"], abs=0.01)


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
@pytest.mark.parametrize("mode", ["url", "base64"])
def test_every_format_and_return_mode(worker, fmt, mode):
    # four steps: the encoders are under test, and the tiny checkpoint spends its time in the steps
    job = {"text": "Formats, every one of them.", "format": fmt, "return": mode, "seed": 4, "nfe_step": 4}
    output = output_of(worker.runsync(job))
    assert output["format"] == fmt and output["seed"] == 4
    assert ("audio_base64" in output) == (mode == "base64")
    rate, seconds = audio_from(output)
    assert rate == (48000 if fmt == "opus" else 24000)  # Ogg Opus decodes at 48 kHz
    assert seconds == pytest.approx(output["duration"], abs=0.1 if fmt in ("aac", "opus") else 0.06)


def test_voice_lifecycle_from_url_and_base64(worker, files, store_env):
    url = files.serve("/anna.wav", audio_file(3.0, 22050))
    job = {"endpoint": "upload", "voice_file_url": url, "voice_name": "anna.wav"}
    if store_env["TTS_ENGINE"] == "f5":  # no Whisper offline: the client is told to send ref_text
        error = error_of(worker.runsync(job))
        assert error.startswith("invalid_input: ") and "ref_text" in error
        job["ref_text"] = "Anna speaks."
    uploaded = output_of(worker.runsync(job))
    assert uploaded["voice"]["name"] == "anna" and uploaded["transcribed"] is ("ref_text" not in job)
    assert uploaded["voice"]["duration"] == pytest.approx(3.0, abs=0.01)

    b64 = base64.b64encode(audio_file(2.0, 16000, "FLAC")).decode()
    job = {"endpoint": "upload", "voice_file_base64": b64, "voice_name": "bob", "ref_text": "Hi, I am Bob."}
    assert output_of(worker.runsync(job))["voice"]["ref_text"] == "Hi, I am Bob."

    names = [v["name"] for v in output_of(worker.runsync({"endpoint": "list_voices"}))["voices"]]
    assert names == ["anna", "bob", "default"]

    for voice_field, name in (("local_voice", "anna.wav"), ("voice", "bob")):
        spoken = output_of(worker.runsync({"text": "In my own voice.", voice_field: name, "return": "base64"}))
        assert spoken["voice"] == name.removesuffix(".wav")

    assert output_of(worker.runsync({"endpoint": "delete_voice", "voice_name": "anna"}))["deleted"] == "anna"
    names = [v["name"] for v in output_of(worker.runsync({"endpoint": "list_voices"}))["voices"]]
    assert names == ["bob", "default"]


@pytest.mark.parametrize(
    ("job", "code"),
    [
        ({"text": ""}, "invalid_input"),
        ({"text": "hi", "speed": 99}, "invalid_input"),
        ({"text": "hi", "unknown": 1}, "invalid_input"),
        ({"endpoint": "nope"}, "invalid_input"),
        ({"text": "hi", "local_voice": "nobody"}, "voice_not_found"),
        ({"text": "hi [voice:nobody] there"}, "voice_not_found"),
        ({"text": "hi [pause:99s] there"}, "invalid_input"),
        ({"text": "hi [voice:../x] there"}, "invalid_input"),
        ({"segments": [{"voice": "nobody", "text": "hi"}]}, "voice_not_found"),
        ({"text": "hi", "local_voice": "../../etc/passwd"}, "invalid_input"),
        ({"endpoint": "delete_voice", "voice_name": "ghost"}, "voice_not_found"),
        ({"endpoint": "upload", "voice_name": "junk", "voice_file_base64": base64.b64encode(b"junk").decode()},
         "invalid_audio"),
        ({"endpoint": "upload", "voice_name": "default", "voice_file_base64": "AAAA"}, "voice_exists"),
    ],
)  # fmt: skip
def test_errors_have_stable_codes_and_no_traceback(worker, job, code):
    error = error_of(worker.runsync(job))
    assert error.startswith(f"{code}: ")
    assert "Traceback" not in error and "/work" not in error


def test_download_errors(worker, files):
    missing = files.base_url + "/missing.wav"
    error = error_of(worker.runsync({"endpoint": "upload", "voice_file_url": missing, "voice_name": "m"}))
    assert error.startswith("download_failed: ")


def test_one_log_event_per_job_without_the_text(worker):
    secret_text = "A sentence that must never appear in the logs."
    output_of(worker.runsync({"text": secret_text, "return": "base64"}))
    done = [e for e in worker.events("job_done") if e.get("text_chars") == len(secret_text)]
    assert len(done) == 1
    assert {"job_id", "endpoint", "voice", "audio_seconds", "stages"} <= done[0].keys()
    assert {"fetch", "engine", "encode"} <= done[0]["stages"].keys()
    assert secret_text not in worker.logs()


def silent_run(samples, middle: int) -> int:
    """Length of the run of exact zeros around `middle` (a pause is digital silence; speech
    beside it may by chance hold a zero sample or two)."""
    start = end = middle
    while start > 0 and samples[start - 1] == 0:
        start -= 1
    while end < len(samples) and samples[end] == 0:
        end += 1
    return end - start


def test_a_two_voice_dialogue_with_a_pause_is_reproducible(worker):
    carol = base64.b64encode(audio_file(2.5, 24000)).decode()
    upload = {"endpoint": "upload", "voice_name": "carol", "voice_file_base64": carol, "ref_text": "I am Carol."}
    output_of(worker.runsync(upload))
    # four steps: reproducibility, segments and the pause do not depend on how many (the tiny checkpoint's time does)
    job = {"text": "Hello Carol, it is 10:30. [pause:1s] [voice:carol] Hi! That is $4.50.", "seed": 11,
           "return": "base64", "nfe_step": 4}  # fmt: skip
    first = output_of(worker.runsync(job))
    assert first["spoken_text"] == "Hello Carol, it is ten thirty. Hi! That is four dollars fifty cents."
    segments = first["segments"]
    assert [(s["voice"], s["text"]) for s in segments] == [
        ("default", "Hello Carol, it is ten thirty."), (None, ""), ("carol", "Hi! That is four dollars fifty cents."),
    ]  # fmt: skip
    assert segments[0]["start"] == 0 and segments[-1]["end"] == first["duration"]
    samples, rate = decode(base64.b64decode(first["audio_base64"]), "wav")
    assert segments[1]["end"] - segments[1]["start"] == pytest.approx(1.0, abs=1e-9)
    assert silent_run(samples, round((segments[1]["start"] + 0.5) * rate)) in range(rate, rate + 3)  # 1 s of zeros
    again = output_of(worker.runsync(job))
    assert again["audio_base64"] == first["audio_base64"] and again["segments"] == segments
    lines = [{"text": "Hello Carol, it is 10:30. [pause:1s]"}, {"voice": "carol", "text": "Hi! That is $4.50."}]
    structured = {"segments": lines, "seed": 11, "return": "base64", "nfe_step": 4}
    assert output_of(worker.runsync(structured))["audio_base64"] == first["audio_base64"]
    output_of(worker.runsync({"endpoint": "delete_voice", "voice_name": "carol"}))

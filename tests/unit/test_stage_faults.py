"""A fault in each stage of a job gives its own error code and leaves the store as it was."""

from __future__ import annotations

import base64

import pytest

from adapters.av_encoder import AvEncoder
from adapters.fake_engine import FakeEngine
from adapters.fake_fetcher import FakeFetcher
from adapters.fake_store import FakeStore
from adapters.soundfile_codec import SoundfileCodec
from domain.errors import DownloadFailed, InvalidAudio, StorageError
from entrypoints.service import WorkerService
from tests.helpers import audio_file, make_test_container

URL = "https://voices.test/v.wav"
UPLOAD = {"endpoint": "upload", "voice_name": "new", "voice_file_url": URL, "ref_text": "Hello."}
TTS = {"text": "Hello there, this is a test.", "local_voice": "known"}


class Broken:
    """Wraps an adapter so that one method raises."""

    def __init__(self, inner: object, method: str, error: Exception) -> None:
        self._inner, self._method, self._error = inner, method, error

    def __getattr__(self, name: str) -> object:
        if name == self._method:

            def fail(*args: object, **kwargs: object) -> object:
                raise self._error

            return fail
        return getattr(self._inner, name)


@pytest.fixture
def service_with(tmp_path):
    """A service over `store`, which already holds the voice `known`, with `overrides` in place.
    Each test has its own voice disk cache: a voice cached by another test would skip a store read."""
    env = {"VOICE_CACHE_DIR": str(tmp_path / "voice-cache")}

    def build(store: FakeStore, **overrides: object):
        known = {"endpoint": "upload", "voice_name": "known", "ref_text": "Known voice."}
        known["voice_file_base64"] = base64.b64encode(audio_file(2.0)).decode()
        assert WorkerService(make_test_container(store=store, env=env).app()).handle(known)["status"] == "completed"
        defaults = {"store": store, "fetcher": FakeFetcher({URL: audio_file(2.0)}), "engine": FakeEngine()}
        return WorkerService(make_test_container(env=env, **{**defaults, **overrides}).app())

    return build


@pytest.mark.parametrize(
    ("job", "overrides", "code"),
    [
        (UPLOAD, {"fetcher": Broken(FakeFetcher(), "fetch", DownloadFailed("connection reset"))}, "download_failed"),
        (UPLOAD, {"fetcher": Broken(FakeFetcher(), "fetch", ConnectionResetError())}, "engine_error"),
        (UPLOAD, {"codec": Broken(SoundfileCodec(), "decode", InvalidAudio("bad header"))}, "invalid_audio"),
        (UPLOAD, {"codec": Broken(SoundfileCodec(), "encode", MemoryError())}, "engine_error"),
        (TTS, {"engine": Broken(FakeEngine(), "synthesize", RuntimeError("CUDA out of memory"))}, "engine_error"),
        (
            TTS,
            {"encoder": Broken(AvEncoder(SoundfileCodec()), "encode", RuntimeError("encoder crashed"))},
            "engine_error",
        ),
    ],
)
def test_each_stage_fault_has_its_code_and_leaves_no_trace(service_with, job, overrides, code):
    store = FakeStore()
    service = service_with(store, **overrides)
    before = dict(store.objects)
    answer = service.handle(job, "job-42")
    assert answer["error"].startswith(f"{code}: ")
    assert "Traceback" not in answer["error"]
    assert store.objects == before


JOBS = {"upload": UPLOAD, "tts": TTS, "list_voices": {"endpoint": "list_voices"}}
JOBS["delete_voice"] = {"endpoint": "delete_voice", "voice_name": "known"}
#: which store operations each job needs; a failure of any other one must not fail the job
#: (list_voices and delete_voice only refresh the voice index with put: a best-effort cache)
NEEDS = {
    "upload": {"exists", "put"},
    "tts": {"get", "put"},
    "list_voices": {"list", "get"},
    "delete_voice": {"exists", "delete"},
}


@pytest.mark.parametrize("operation", ["put", "get", "exists", "list", "delete"])
@pytest.mark.parametrize("name", list(JOBS))
def test_store_faults_are_storage_errors_and_change_nothing(service_with, name, operation):
    store = FakeStore()
    service = service_with(store)
    before = dict(store.objects)
    store.failing.add(operation)
    answer = service.handle(JOBS[name], "job-7")
    if operation in NEEDS[name]:
        assert answer["error"].startswith(f"storage_error: {operation} "), answer
        assert store.objects == before
    else:
        assert answer["status"] == "completed", answer


def test_unexpected_errors_are_logged_once_with_the_job_id(service_with, capsys):
    from entrypoints.logging_setup import configure_logging

    configure_logging("INFO", "json")
    store = FakeStore()
    service = service_with(store, engine=Broken(FakeEngine(), "synthesize", RuntimeError("boom")))
    capsys.readouterr()
    service.handle(TTS, "job-99")
    lines = [line for line in capsys.readouterr().err.splitlines() if "job-99" in line]
    assert len(lines) == 1 and '"job_crashed"' in lines[0] and "RuntimeError: boom" in lines[0]


def test_a_failed_overwrite_restores_the_previous_voice(service_with):
    store = FakeStore()
    service = service_with(store)
    before = dict(store.objects)
    original = store.put

    def fail_on_metadata(key, data, content_type="application/octet-stream"):
        if key.endswith(".json"):
            raise StorageError("writing failed (injected)")
        original(key, data, content_type)

    store.put = fail_on_metadata
    replacement = {"endpoint": "upload", "voice_name": "known", "overwrite": True, "ref_text": "New voice here."}
    answer = service.handle({**replacement, "voice_file_base64": base64.b64encode(audio_file(3.0)).decode()})
    assert answer["error"].startswith("storage_error: ")
    assert store.objects == before

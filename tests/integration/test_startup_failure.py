"""A worker that cannot start stays up and says why, to every job (health included), unless
EXIT_ON_STARTUP_FAILURE asks it to exit. `start()` is what `main()` runs before runpod's loop;
the process-level version of these checks is in tests/e2e/test_runpod_queue.py."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from entrypoints.runpod_handler import start
from entrypoints.service import FailedStart, WorkerService
from settings import Settings
from tests.e2e.worker import free_port
from tests.helpers import script_settings

PREFIX = "engine_error: worker failed to start: "


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A clean environment of settings: only what each test sets."""
    for name in [*Settings.env_names(), "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STORAGE_URL", f"file://{tmp_path / 'store'}")
    monkeypatch.setenv("VOICE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LOG_FORMAT", "console")

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


def assert_failed_start(reason_part: str) -> str:
    before = {t.name for t in threading.enumerate()}
    _, service, container = start()
    assert isinstance(service, FailedStart) and container is None
    assert reason_part in service.reason and "\n" not in service.reason, service.reason
    expected = {"error": PREFIX + service.reason}
    for job in ({"text": "Hello."}, {"endpoint": "health"}, {"endpoint": "list_voices"}, "not even a dict"):
        assert service.handle(job, "j") == expected
        assert list(service.stream(job, "j")) == [expected]
    assert "micro-batcher" not in {t.name for t in threading.enumerate()} - before
    return service.reason


def test_a_bad_setting_is_a_failed_start_naming_the_variable(environ) -> None:
    environ(TTS_ENGINE="fake", MAX_TEXT_CHARS="lots")
    assert_failed_start("bad setting: MAX_TEXT_CHARS='lots'")


def test_an_unreachable_bucket_is_a_failed_start(environ) -> None:
    environ(
        TTS_ENGINE="fake",
        STORAGE_URL="s3://voices-bucket",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        AWS_MAX_ATTEMPTS="1",  # refused on the first try as after the backoff
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION="us-east-1",
    )
    assert_failed_start("store check 'bucket' failed")


@pytest.mark.slow
def test_missing_weights_are_a_failed_start(environ, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.safetensors"
    environ(TTS_ENGINE="f5", F5_CKPT_FILE=str(missing), MODEL_DIR=str(tmp_path), HF_HUB_OFFLINE="1")
    assert_failed_start(str(missing))


@pytest.mark.slow
def test_a_bad_tts_dtype_is_a_failed_start(environ, tmp_path: Path) -> None:
    environ(**script_settings("make_tiny_checkpoint.py", tmp_path / "tiny"))
    environ(TTS_ENGINE="f5", HF_HUB_OFFLINE="1", TTS_DEVICE="cpu", TTS_DTYPE="fp8")
    assert_failed_start("TTS_DTYPE='fp8'")


def test_exit_on_startup_failure_exits_with_the_reason(environ) -> None:
    environ(TTS_ENGINE="fake", MAX_TEXT_CHARS="lots", EXIT_ON_STARTUP_FAILURE="1")
    with pytest.raises(SystemExit, match="worker failed to start: bad setting: MAX_TEXT_CHARS"):
        start()


def test_a_good_start_is_the_service_with_its_app(environ) -> None:
    environ(TTS_ENGINE="fake")
    settings, service, app = start()
    try:
        assert isinstance(service, WorkerService) and app is not None and settings.tts_engine == "fake"
        assert service.handle({"endpoint": "health"}, "h")["healthy"] is True
    finally:
        app.shutdown()

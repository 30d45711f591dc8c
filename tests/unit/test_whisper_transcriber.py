"""The Whisper adapter when no recogniser can be had: upload must say to send ref_text."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from adapters.audio_arrays import from_numpy
from adapters.whisper_transcriber import WhisperTranscriber
from domain.errors import EngineError, InvalidInput
from tests.contracts.transcriber import TranscriberContract

AUDIO = from_numpy(np.zeros(1600, np.float32), 16000)


def fake_transformers(monkeypatch: pytest.MonkeyPatch, pipeline) -> list[dict]:
    calls: list[dict] = []
    module = types.ModuleType("transformers")

    def factory(task: str, **kwargs: object):
        calls.append({"task": task, **kwargs})
        return pipeline(task, **kwargs)

    module.pipeline = factory  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "transformers", module)
    return calls


def test_without_transformers_asks_for_ref_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes the import fail
    with pytest.raises(InvalidInput, match="ref_text"):
        WhisperTranscriber("some/model").transcribe(AUDIO)


def test_offline_model_load_asks_for_ref_text_and_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(task: str, **kwargs: object):
        raise OSError("We couldn't connect to the hub and the model is not cached")

    calls = fake_transformers(monkeypatch, offline)
    transcriber = WhisperTranscriber("openai/whisper-tiny", device="cpu")
    for _ in range(2):
        with pytest.raises(InvalidInput, match="send ref_text"):
            transcriber.transcribe(AUDIO)
    assert len(calls) == 1


def test_loaded_lazily_once_and_strips_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    heard: list[dict] = []

    def working(task: str, **kwargs: object):
        def run(inputs: dict, **options: object) -> dict:
            heard.append(inputs)
            return {"text": "  Hello world. "}

        return run

    calls = fake_transformers(monkeypatch, working)
    transcriber = WhisperTranscriber("some/model", device="cpu")
    assert calls == []
    assert transcriber.transcribe(AUDIO) == "Hello world."
    assert transcriber.transcribe(AUDIO) == "Hello world."
    assert len(calls) == 1 and calls[0]["model"] == "some/model"
    assert heard[0]["sampling_rate"] == 16000


def test_recognition_failure_is_an_engine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(task: str, **kwargs: object):
        def run(inputs: dict, **options: object) -> dict:
            raise RuntimeError("CUDA out of memory")

        return run

    fake_transformers(monkeypatch, broken)
    with pytest.raises(EngineError):
        WhisperTranscriber("some/model", device="cpu").transcribe(AUDIO)


class TestWhisperTranscriberContract(TranscriberContract):
    """The adapter around a stand-in for transformers' pipeline that checks what it is given
    (mono float samples at the clip's own rate) and answers padded text, as Whisper does."""

    @pytest.fixture
    def said(self) -> str:
        return "Hello from the pipeline."

    @pytest.fixture
    def transcriber(self, monkeypatch: pytest.MonkeyPatch, said: str) -> WhisperTranscriber:
        def pipeline(task: str, **kwargs: object):
            assert task == "automatic-speech-recognition"

            def run(inputs: dict, **options: object) -> dict:
                raw = inputs["raw"]
                assert raw.ndim == 1 and raw.dtype == np.float32 and raw.size == int(1.5 * inputs["sampling_rate"])
                return {"text": f"  {said} \n"}

            return run

        fake_transformers(monkeypatch, pipeline)
        return WhisperTranscriber("some/model", device="cpu")

    @pytest.fixture
    def unavailable(self, monkeypatch: pytest.MonkeyPatch) -> WhisperTranscriber:
        monkeypatch.setitem(sys.modules, "transformers", None)
        return WhisperTranscriber("some/model", device="cpu")

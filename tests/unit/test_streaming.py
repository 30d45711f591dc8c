"""Streaming: chunks in order, the first one short, concatenating to the final audio."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import soundfile as sf

from entrypoints.service import WorkerService
from tests.helpers import make_test_container

TEXT = " ".join(f"This is sentence number {i} of a long paragraph that streams." for i in range(12))


def decode(b64: str) -> np.ndarray:
    samples, _ = sf.read(io.BytesIO(base64.b64decode(b64)), dtype="float32")
    return samples


def test_stream_yields_ordered_chunks_that_concatenate_to_the_stored_file(tmp_path):
    container = make_test_container(f"file://{tmp_path}")
    service = WorkerService(container.app())
    answers = list(service.stream({"text": TEXT, "stream": True, "seed": 3}, "s1"))
    chunks, final = answers[:-1], answers[-1]
    assert len(chunks) > 2 and [c["chunk"] for c in chunks] == list(range(len(chunks)))
    assert all(c["status"] == "streaming" and c["format"] == "wav" for c in chunks)
    assert chunks[0]["duration"] < chunks[1]["duration"]
    assert final["status"] == "completed" and final["seed"] == 3 and "audio_base64" not in final
    (key,) = container.store().list("outputs/")
    assert final["audio_url"].endswith(key)
    whole = sf.read(io.BytesIO(container.store().get(key)), dtype="float32")[0]
    joined = np.concatenate([decode(c["audio_base64"]) for c in chunks])
    np.testing.assert_allclose(joined, whole, atol=1e-4)
    assert abs(sum(c["duration"] for c in chunks) - final["duration"]) < 0.01


def test_an_inline_stream_sends_its_audio_once_in_the_chunks(tmp_path):
    """With `return: base64` the chunks are the answer's audio: the last answer does not
    repeat it (that would double what the client downloads) and nothing is stored."""
    container = make_test_container(f"file://{tmp_path}")
    answers = list(WorkerService(container.app()).stream({"text": TEXT, "stream": True, "seed": 3, "return": "base64"}))
    *chunks, final = answers
    assert final["status"] == "completed" and not any(name.startswith("audio") for name in final)
    assert sum(len(decode(c["audio_base64"])) for c in chunks) == pytest.approx(final["duration"] * 24000, abs=24)
    assert container.store().list("outputs/") == {}


def test_non_streaming_jobs_answer_once_on_a_streaming_worker():
    service = WorkerService(make_test_container().app())
    assert [a["status"] for a in service.stream({"text": "Hello.", "return": "base64"})] == ["completed"]
    assert [list(a) for a in service.stream({"text": ""})] == [["error"]]


def test_stream_needs_a_streaming_worker():
    answer = WorkerService(make_test_container().app()).handle({"text": "Hello.", "stream": True})
    assert answer["error"].startswith("invalid_input: stream: true needs")


def test_a_failing_stream_ends_with_an_error_and_stores_nothing():
    container = make_test_container()
    service = WorkerService(container.app())
    answers = list(service.stream({"text": "Hi.", "stream": True, "local_voice": "nobody"}))
    assert answers == [{"error": "voice_not_found: no voice named 'nobody'; list them with endpoint list_voices"}]
    assert container.store().list("outputs/") == {}


def test_stream_chunks_carry_their_samples_and_the_result_none():
    """Each way in encodes the chunks' samples itself (the pieces are the whole answer, split
    where the chunks are: test_use_cases), and the stream's result holds no audio."""
    from domain.use_cases.synthesize import StreamChunk, TtsRequest

    synthesize = make_test_container().synthesize()
    events = list(synthesize.stream(TtsRequest(text=TEXT, seed=5)))
    chunks, final = events[:-1], events[-1]
    assert all(isinstance(c, StreamChunk) for c in chunks) and len(chunks) > 2 and final.audio is None
    assert sum(c.audio.duration for c in chunks) == pytest.approx(final.duration, abs=1e-3)
    assert [c.duration for c in chunks] == [round(c.audio.duration, 3) for c in chunks]

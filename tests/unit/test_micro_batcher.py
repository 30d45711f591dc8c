"""Concurrent jobs share engine calls; each gets its own audio; a bad item fails alone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from adapters.audio_arrays import to_numpy
from adapters.fake_engine import FakeEngine
from adapters.micro_batcher import MicroBatcher
from domain.errors import InvalidInput
from tests.contracts.tts_engine import TtsEngineContract, item


class TestMicroBatcherContract(TtsEngineContract):
    batch_atol = 0.0
    length_tolerance = 0.0

    @pytest.fixture
    def engine(self):
        return MicroBatcher(FakeEngine())


class SlowEngine(FakeEngine):
    """Holds each call briefly, as a model does, so concurrent jobs pile up behind it;
    refuses any batch holding a chunk that says BAD, as a model failing on one input."""

    def synthesize(self, items):
        if any("BAD" in i.text for i in items):
            raise InvalidInput("cannot speak BAD")
        threading.Event().wait(0.05)
        return super().synthesize(items)


def test_concurrent_jobs_share_calls_and_get_their_own_audio():
    engine = SlowEngine()
    batcher = MicroBatcher(engine, max_items=16, wait_ms=20)
    jobs = [[item(f"Job {j} chunk {c}.", seed=10 * j + c) for c in range(1 + j % 3)] for j in range(12)]
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(batcher.synthesize, jobs))
    assert max(batcher.batches) > 3, list(batcher.batches)
    assert sum(batcher.batches) == sum(len(job) for job in jobs)
    for job, audios in zip(jobs, results, strict=True):
        alone = FakeEngine().synthesize(job)
        assert len(audios) == len(job)
        for got, want in zip(audios, alone, strict=True):
            np.testing.assert_array_equal(to_numpy(got), to_numpy(want))


def test_a_bad_item_fails_only_its_own_job():
    batcher = MicroBatcher(SlowEngine(), max_items=16, wait_ms=50)
    jobs = [[item("Fine one.")], [item("A BAD chunk."), item("And a fine one.")], [item("Fine too.", seed=3)]]

    def run(job):
        try:
            return batcher.synthesize(job)
        except InvalidInput as exc:
            return exc

    with ThreadPoolExecutor(3) as pool:
        outcomes = list(pool.map(run, jobs))
    assert isinstance(outcomes[1], InvalidInput)
    assert len(outcomes[0]) == 1 and len(outcomes[2]) == 1


def test_a_request_larger_than_the_batch_limit_runs_whole():
    batcher = MicroBatcher(FakeEngine(), max_items=2, wait_ms=0)
    assert len(batcher.synthesize([item(f"Chunk {i}.") for i in range(5)])) == 5
    assert list(batcher.batches) == [5]

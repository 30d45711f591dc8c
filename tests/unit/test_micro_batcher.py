"""Concurrent jobs share engine calls; each gets its own audio; a bad item fails alone; the
batching thread starts and stops with its owner. Batches are built with events, not sleeps:
a gated engine holds its first call while the other jobs queue up behind it."""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import adapters.micro_batcher
from adapters.audio_arrays import to_numpy
from adapters.fake_engine import FakeEngine
from adapters.micro_batcher import COMPANY_WAIT_SHARE, MicroBatcher
from domain.errors import EngineError, InvalidInput
from entrypoints.service import WorkerService
from tests.contracts.tts_engine import TtsEngineContract, item
from tests.helpers import make_test_container

SAFETY = 30  # seconds; a bound on a hang, never how the test synchronises


class TestMicroBatcherContract(TtsEngineContract):
    batch_atol = 0.0
    length_tolerance = 0.0

    @pytest.fixture
    def engine(self):
        batcher = MicroBatcher(FakeEngine(), max_items=16, wait_ms=5).start()
        yield batcher
        batcher.close()


class GatedEngine(FakeEngine):
    """Holds its first call until `gate` opens, so concurrent jobs pile up behind it; refuses
    any batch holding a chunk that says BAD, as a model failing on one input."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()

    def synthesize(self, items, **options):
        first = not self.calls
        self.calls.append(list(items))
        if first:
            self.entered.set()
            assert self.gate.wait(SAFETY)
        if any("BAD" in i.text for i in items):
            raise InvalidInput("cannot speak BAD")
        return [self._one(i) for i in items]


@pytest.fixture
def gated():
    engine = GatedEngine()
    batcher = MicroBatcher(engine, max_items=64, wait_ms=0).start()
    yield engine, batcher
    engine.gate.set()
    batcher.close()


def _queue_behind_a_held_call(engine, batcher, pool, jobs, run):
    """Submit a filler job, wait until the engine holds it, queue `jobs`, then open the gate."""
    filler = pool.submit(batcher.synthesize, [item("Filler.")])
    assert engine.entered.wait(SAFETY)
    futures = [pool.submit(run, job) for job in jobs]
    assert batcher.wait_until_queued(len(jobs), SAFETY)
    engine.gate.set()
    filler.result(SAFETY)
    return [f.result(SAFETY) for f in futures]


def test_concurrent_jobs_share_one_call_and_get_their_own_audio(gated):
    engine, batcher = gated
    jobs = [[item(f"Job {j} chunk {c}.", seed=10 * j + c) for c in range(1 + j % 3)] for j in range(12)]
    with ThreadPoolExecutor(13) as pool:
        results = _queue_behind_a_held_call(engine, batcher, pool, jobs, batcher.synthesize)
    assert list(batcher.batches) == [1, sum(len(job) for job in jobs)]  # the filler, then everyone at once
    for job, audios in zip(jobs, results, strict=True):
        alone = FakeEngine().synthesize(job)
        assert len(audios) == len(job)
        for got, want in zip(audios, alone, strict=True):
            np.testing.assert_array_equal(to_numpy(got), to_numpy(want))


def test_a_bad_item_fails_only_its_own_job_after_sharing_a_batch(gated):
    engine, batcher = gated
    jobs = [[item("Fine one.")], [item("A BAD chunk."), item("And a fine one.")], [item("Fine too.", seed=3)]]

    def run(job):
        try:
            return batcher.synthesize(job)
        except InvalidInput as exc:
            return exc

    with ThreadPoolExecutor(4) as pool:
        outcomes = _queue_behind_a_held_call(engine, batcher, pool, jobs, run)
    shared = engine.calls[1]
    assert [i.text for i in shared] == [i.text for job in jobs for i in job]  # the bad job was in the batch
    assert [len(call) for call in engine.calls[2:]] == [1, 2, 1]  # then each job was retried alone
    assert isinstance(outcomes[1], InvalidInput)
    np.testing.assert_array_equal(to_numpy(outcomes[0][0]), to_numpy(FakeEngine().synthesize(jobs[0])[0]))
    np.testing.assert_array_equal(to_numpy(outcomes[2][0]), to_numpy(FakeEngine().synthesize(jobs[2])[0]))


def test_an_urgent_job_goes_before_waiting_jobs_and_alone(gated):
    """The gated engine never calls back between steps, so the urgent job waits for the
    running call; then it runs first, without the jobs queued before it."""
    engine, batcher = gated
    with ThreadPoolExecutor(4) as pool:
        held = pool.submit(batcher.synthesize, [item("Held.")])
        assert engine.entered.wait(SAFETY)
        waiting = [pool.submit(batcher.synthesize, [item(f"Waiting {i}.")]) for i in range(2)]
        assert batcher.wait_until_queued(2, SAFETY)
        urgent = pool.submit(lambda: batcher.synthesize([item("First chunk.")], urgent=True))
        assert batcher.wait_until_queued(3, SAFETY)
        engine.gate.set()
        for job in (held, urgent, *waiting):
            job.result(SAFETY)
    assert [[i.text for i in call] for call in engine.calls] == [
        ["Held."],
        ["First chunk."],
        ["Waiting 0.", "Waiting 1."],
    ]


def test_an_urgent_job_does_not_wait_while_a_batch_waits_for_company():
    """Two jobs gathered and waiting for company (wait_ms) when an urgent one arrives: it
    runs at once, then the two go back to the front and run together."""
    engine = GatedEngine()
    batcher = MicroBatcher(engine, max_items=8, wait_ms=2000).start()
    try:
        with ThreadPoolExecutor(4) as pool:
            held = pool.submit(batcher.synthesize, [item("Held.")])
            assert engine.entered.wait(SAFETY)
            waiting = [pool.submit(batcher.synthesize, [item(f"Waiting {i}.")]) for i in range(2)]
            assert batcher.wait_until_queued(2, SAFETY)
            engine.gate.set()
            held.result(SAFETY)
            deadline = time.monotonic() + SAFETY
            while batcher._queue and time.monotonic() < deadline:  # the two are gathered: it waits for company
                time.sleep(0.001)
            urgent = pool.submit(lambda: batcher.synthesize([item("First chunk.")], urgent=True))
            urgent.result(SAFETY)
            for job in waiting:
                job.result(SAFETY)
    finally:
        engine.gate.set()
        batcher.close()
    assert [[i.text for i in call] for call in engine.calls] == [
        ["Held."],
        ["First chunk."],
        ["Waiting 0.", "Waiting 1."],
    ]


class Fatal(BaseException):
    """What no `except Exception` catches (a SystemExit, say)."""


class FatalOnDemandEngine(FakeEngine):
    def synthesize(self, items, *, urgent=False):
        if any("FATAL" in i.text for i in items):
            raise Fatal("gone")
        return super().synthesize(items, urgent=urgent)


def in_daemon_thread(call) -> queue.Queue:
    """Run `call` where a hang cannot hold up the test run; its outcome arrives on the queue."""
    outcome: queue.Queue = queue.Queue()

    def run() -> None:
        try:
            outcome.put(call())
        except BaseException as exc:  # the test inspects what was raised, Fatal included
            outcome.put(exc)

    threading.Thread(target=run, daemon=True).start()
    return outcome


def test_a_job_that_dies_fails_alone_and_nothing_hangs():
    batcher = MicroBatcher(FatalOnDemandEngine(), max_items=8, wait_ms=0).start()
    try:
        urgent = in_daemon_thread(lambda: batcher.synthesize([item("FATAL first chunk.")], urgent=True))
        assert isinstance(urgent.get(timeout=SAFETY), Fatal)
        assert len(batcher.synthesize([item("Still serving.")])) == 1
    finally:
        batcher.close()


def test_a_request_larger_than_the_batch_limit_runs_whole():
    batcher = MicroBatcher(FakeEngine(), max_items=2, wait_ms=0).start()
    try:
        assert len(batcher.synthesize([item(f"Chunk {i}.") for i in range(5)])) == 5
        assert list(batcher.batches) == [5]
    finally:
        batcher.close()


def test_close_fails_waiting_jobs_and_stops_the_thread(gated):
    engine, batcher = gated
    with ThreadPoolExecutor(4) as pool:
        held = pool.submit(batcher.synthesize, [item("Held.")])
        assert engine.entered.wait(SAFETY)
        waiting = pool.submit(batcher.synthesize, [item("Waiting.")])
        urgent = pool.submit(lambda: batcher.synthesize([item("Urgent.")], urgent=True))
        assert batcher.wait_until_queued(2, SAFETY)
        closing = pool.submit(batcher.close)
        for job in (waiting, urgent):
            with pytest.raises(EngineError, match="shutting down"):
                job.result(SAFETY)
        engine.gate.set()
        assert len(held.result(SAFETY)) == 1  # the running batch finishes
        closing.result(SAFETY)
    assert not [t for t in threading.enumerate() if t.name == "micro-batcher"]
    with pytest.raises(EngineError, match="shutting down"):
        batcher.synthesize([item("Too late.")])


def test_an_unstarted_batcher_refuses_instead_of_hanging():
    with pytest.raises(EngineError, match="not started"):
        MicroBatcher(FakeEngine(), max_items=4, wait_ms=0).synthesize([item("Hello.")])


def test_containers_leave_no_thread_behind():
    before = threading.active_count()
    for _ in range(5):
        container = make_test_container()
        answer = WorkerService(container.app()).handle({"text": "Hello there.", "return": "base64"}, "t")
        assert answer["status"] == "completed"
        assert [t.name for t in threading.enumerate()].count("micro-batcher") == 1
        container.shutdown_resources()
    assert threading.active_count() == before
    assert "micro-batcher" not in [t.name for t in threading.enumerate()]


class SlowEngine(FakeEngine):
    """Takes `seconds` per call, as a GPU batch does whatever its size."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def synthesize(self, items, **options):
        time.sleep(self.seconds)
        return super().synthesize(items, **options)


def test_closed_loop_clients_come_back_to_one_batch_instead_of_splitting():
    """Eight clients, each sending its next job 0-21 ms after its answer (encoding, HTTP,
    parsing), as they do under steady load: with only `wait_ms` (5 ms) for company they split
    into a small and a large batch turn after turn (8, 2, 8, 2, 6, 2, ... before this); the
    batcher waits for the jobs of its last batch instead, so after the first turns every batch
    holds all eight."""
    clients, turns = 8, 6
    batcher = MicroBatcher(SlowEngine(0.6), max_items=16, wait_ms=5).start()
    start = threading.Barrier(clients)

    def client(number: int) -> None:
        start.wait(SAFETY)
        for turn in range(turns):
            batcher.synthesize([item(f"client {number} turn {turn}", seed=number)])
            time.sleep(0.003 * number)  # the answer goes out, the next request comes in

    try:
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, range(clients)))
    finally:
        batcher.close()
    sizes = list(batcher.batches)
    assert sum(sizes) == clients * turns
    # the first job runs alone (nothing is expected yet), which can put one client a turn
    # ahead of the rest until the end: the first two batches and the last are left out
    assert len(sizes) <= turns + 2 and sizes[2:-1] == [clients] * (len(sizes) - 3), sizes


def test_a_batch_waits_for_its_company_no_longer_than_its_patience():
    """When the clients of the last batch do not come back, the next job waits at most
    COMPANY_WAIT_SHARE of the last call's time (here 0.1 x 0.2 s), not for ever."""
    batcher = MicroBatcher(SlowEngine(0.2), max_items=16, wait_ms=5).start()
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: batcher.synthesize([item(f"job {n}", seed=n)]), range(4)))
        started = time.monotonic()
        batcher.synthesize([item("a job alone after the others left", seed=9)])
        alone = time.monotonic() - started
    finally:
        batcher.close()
    assert alone < 0.2 + COMPANY_WAIT_SHARE * 0.2 + 0.15, alone  # the call, the patience, scheduling slack


class StampingEngine(SlowEngine):
    """Records when each call began."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.began: list[float] = []

    def synthesize(self, items, **options):
        self.began.append(time.monotonic())
        return super().synthesize(items, **options)


def test_the_first_job_after_a_quiet_spell_does_not_wait_for_clients_gone_away(monkeypatch):
    """Patience runs from the end of the last batch: its clients come back within it or not
    at all. A job arriving after a quiet spell runs at once instead of waiting out the
    patience again for the four jobs of a batch long gone (here 0.8 s of patience)."""
    monkeypatch.setattr(adapters.micro_batcher, "COMPANY_WAIT_SHARE", 1.0)
    monkeypatch.setattr(adapters.micro_batcher, "COMPANY_WAIT_MAX", 10.0)
    engine = StampingEngine(0.8)
    batcher = MicroBatcher(engine, max_items=16, wait_ms=0).start()
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: batcher.synthesize([item(f"job {n}", seed=n)]), range(4)))
        time.sleep(0.9)  # the quiet spell: longer than the patience
        submitted = time.monotonic()
        batcher.synthesize([item("a job after the quiet spell", seed=9)])
    finally:
        batcher.close()
    assert engine.began[-1] - submitted < 0.4, engine.began[-1] - submitted

"""The step scheduler without a model: which rows run at each step (join, leave, the step's
shape, urgency, turns, limits), cancellation, failures, and its thread's life.

A fake row engine stands in for F5: a row's "audio" is its text's fake synthesis, so each
job's result can be checked, and every start, step and finish is logged with the rows it
held. Held steps wait at their end for the test's permit, so a test queues work while the
scheduler cannot choose the next step yet, instead of sleeping."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pytest
import structlog

from adapters.audio_arrays import to_numpy
from adapters.fake_engine import FakeEngine
from adapters.step_scheduler import MAX_PADDING_RATIO, RowEngine, StepScheduler, choose_rows, fill_bucket
from domain.audio import Audio
from domain.cancellation import CancelScope, within
from domain.errors import EngineError, InvalidInput
from domain.synthesis import Reference, SynthesisItem
from ports.tts_engine import EngineCapacity, EngineStatus
from tests.contracts.tts_engine import TtsEngineContract, item

SAFETY = 30  # seconds; a bound on a hang, never how the test synchronises


@dataclass(eq=False)
class FakeRow:
    item: SynthesisItem
    frames: int
    steps: int
    guided: bool = True
    started: bool = False
    steps_done: int = 0

    @property
    def done(self) -> bool:
        return self.steps_done == self.steps

    @property
    def name(self) -> str:
        return self.item.text


class FakeRowEngine:
    """Rows of 10 x the text's length in frames (or what `frames` says for the text),
    `nfe_step` steps each, guided unless cfg_strength is 0. Texts with BAD fail to plan; a
    step holding a row that says BOOM fails. `hold`: each step waits for a permit (`allow`)
    before it returns."""

    sample_rate = 24000
    max_step_frames = 10**6
    step_batch_sizes: tuple[int, ...] = ()

    def __init__(self, hold: bool = False) -> None:
        self.log: list[tuple[str, list[str]]] = []
        self._fake = FakeEngine()
        self._hold = hold
        self._permits = threading.Semaphore(0)
        self._stepped = threading.Condition()
        self.step_count = 0
        self.frames: dict[str, int] = {}
        self._active: set[int] = set()  # rows started and not through their steps
        self.most_active = 0

    @property
    def model_id(self) -> str:
        return self._fake.model_id

    def status(self) -> EngineStatus:
        return self._fake.status()

    def capacity(self) -> EngineCapacity:
        return self._fake.capacity()

    def warm_up(self, reference: Reference | None = None) -> None:
        self._fake.warm_up(reference)

    def plan(self, items: Sequence[SynthesisItem]) -> list[FakeRow]:
        if any("BAD" in i.text for i in items):
            raise InvalidInput("cannot speak BAD")
        return [
            FakeRow(i, self.frames.get(i.text, 10 * len(i.text)), i.params.nfe_step, i.params.cfg_strength > 0)
            for i in items
        ]

    def start(self, rows: Sequence[FakeRow]) -> None:
        if rows:
            self.log.append(("start", [r.name for r in rows]))
        for row in rows:
            row.started = True
        self._active |= {id(row) for row in rows}
        self.most_active = max(self.most_active, len(self._active))

    def step(self, rows: Sequence[FakeRow]) -> None:
        self.log.append(("step", [r.name for r in rows]))
        assert all(r.started and not r.done for r in rows)
        if any("BOOM" in r.name for r in rows):
            raise EngineError("the model failed")
        for row in rows:
            row.steps_done += 1
        self._active -= {id(row) for row in rows if row.done}
        with self._stepped:
            self.step_count += 1
            self._stepped.notify_all()
        if self._hold:
            assert self._permits.acquire(timeout=SAFETY)

    def finish(self, rows: Sequence[FakeRow]) -> list[Audio]:
        self.log.append(("finish", [r.name for r in rows]))
        assert all(r.done for r in rows)
        return self._fake.synthesize([r.item for r in rows])

    # -- test controls ----------------------------------------------------------------------

    def allow(self, steps: int) -> None:
        for _ in range(steps):
            self._permits.release()

    def wait_for_steps(self, count: int) -> None:
        with self._stepped:
            assert self._stepped.wait_for(lambda: self.step_count >= count, SAFETY)

    def steps(self) -> list[list[str]]:
        return [rows for kind, rows in self.log if kind == "step"]


def job(text: str, nfe: int = 4, **params: object) -> SynthesisItem:
    return item(text, seed=len(text), nfe_step=nfe, **params)


@pytest.fixture
def held():
    engine = FakeRowEngine(hold=True)
    scheduler = StepScheduler(engine, max_rows=8).start()
    yield engine, scheduler
    engine.allow(10**4)
    scheduler.close()


def expected(items: list[SynthesisItem]) -> list[np.ndarray]:
    return [to_numpy(a) for a in FakeEngine().synthesize(items)]


def assert_audio(got: list[Audio], items: list[SynthesisItem]) -> None:
    for ours, want in zip(got, expected(items), strict=True):
        np.testing.assert_array_equal(to_numpy(ours), want)


class TestStepSchedulerContract(TtsEngineContract):
    batch_atol = 0.0
    length_tolerance = 0.0

    @pytest.fixture
    def engine(self):
        scheduler = StepScheduler(FakeRowEngine(), max_rows=4).start()
        yield scheduler
        scheduler.close()


def test_the_f5_engine_shape_is_a_row_engine_and_the_fake_is_not() -> None:
    assert isinstance(FakeRowEngine(), RowEngine)
    assert not isinstance(FakeEngine(), RowEngine)


def test_a_job_arriving_mid_batch_joins_at_the_next_step_and_leaves_when_done(held) -> None:
    engine, scheduler = held
    first, second = job("First job.", nfe=4), job("Second.", nfe=2)
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(scheduler.synthesize, [first])
        engine.wait_for_steps(1)  # the first job has run one step of four
        b = pool.submit(scheduler.synthesize, [second])
        assert scheduler.wait_until_queued(1, SAFETY)
        engine.allow(10)
        assert_audio(b.result(SAFETY), [second])
        assert_audio(a.result(SAFETY), [first])
    # the second joined at step 2 and left after step 3, the first ran on alone
    assert engine.steps()[:4] == [["First job."], ["First job.", "Second."], ["First job.", "Second."], ["First job."]]
    finishes = [rows for kind, rows in engine.log if kind == "finish"]
    assert finishes == [["Second."], ["First job."]]


def test_rows_that_finish_at_one_step_are_vocoded_together() -> None:
    engine = FakeRowEngine()
    scheduler = StepScheduler(engine, max_rows=8).start()
    try:
        items = [job("One row."), job("Two rows."), job("Three.", nfe=2)]
        with structlog.testing.capture_logs() as logs:
            assert_audio(scheduler.synthesize(items), items)
    finally:
        scheduler.close()
    assert [rows for kind, rows in engine.log if kind == "finish"] == [["Three."], ["One row.", "Two rows."]]
    # one log line per finish, not per step: the chunks it finished and the steps before it
    events = [(e["items"], e["steps"], e["rows_per_step"]) for e in logs if e["event"] == "engine_batch"]
    assert events == [(1, 2, 3.0), (2, 2, 2.0)]


def test_an_urgent_chunk_runs_at_the_next_step_in_steps_of_its_own() -> None:
    engine = FakeRowEngine(hold=True)
    scheduler = StepScheduler(engine, max_rows=2).start()
    long_job, hello = [job(f"Part {i} of it.", nfe=3) for i in range(2)], [job("Hello?", nfe=2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            batch = pool.submit(scheduler.synthesize, long_job)
            engine.wait_for_steps(1)
            urgent = pool.submit(scheduler.synthesize, hello, urgent=True)
            assert scheduler.wait_until_queued(1, SAFETY)
            engine.allow(3)  # the running step, then the urgent chunk's two
            assert_audio(urgent.result(SAFETY), hello)
            assert not batch.done()  # the batch's rows have two steps to go
            engine.allow(10)
            assert_audio(batch.result(SAFETY), long_job)
    finally:
        engine.allow(100)
        scheduler.close()
    batch_step = ["Part 0 of it.", "Part 1 of it."]
    assert engine.steps() == [batch_step, ["Hello?"], ["Hello?"], batch_step, batch_step]


def test_a_long_job_cannot_starve_a_short_one() -> None:
    """With one row per step, a one-chunk job that came a step after a ten-chunk job runs
    once the chunk in progress is done, not after all ten."""
    engine = FakeRowEngine(hold=True)
    scheduler = StepScheduler(engine, max_rows=1).start()
    long_job = [job(f"Chunk {i}.", nfe=2) for i in range(10)]
    short = [job("Short one.", nfe=2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            long_future = pool.submit(scheduler.synthesize, long_job)
            engine.wait_for_steps(1)
            short_future = pool.submit(scheduler.synthesize, short)
            assert scheduler.wait_until_queued(1, SAFETY)
            engine.allow(10**3)
            assert_audio(short_future.result(SAFETY), short)
            assert_audio(long_future.result(SAFETY), long_job)
    finally:
        engine.allow(10**3)
        scheduler.close()
    steps = [rows[0] for rows in engine.steps()]
    assert len(steps) == 22
    assert steps[:4] == ["Chunk 0.", "Chunk 0.", "Short one.", "Short one."]


def test_at_most_max_rows_run_and_no_step_runs_short_while_rows_wait() -> None:
    engine = FakeRowEngine()
    scheduler = StepScheduler(engine, max_rows=3).start()
    items = [job(f"Row {i}.", nfe=4) for i in range(5)]
    try:
        assert_audio(scheduler.synthesize(items), items)
    finally:
        scheduler.close()
    assert [len(rows) for rows in engine.steps()] == [3, 3, 3, 3, 2, 2, 2, 2]
    started = [rows for kind, rows in engine.log if kind == "start"]
    assert sum(len(rows) for rows in started) == 5


def test_at_most_twice_a_steps_rows_hold_state_at_once() -> None:
    """Urgent chunks arriving while a row runs pause it; of three, one at a time starts
    beside the paused row, not all three."""
    engine = FakeRowEngine(hold=True)
    scheduler = StepScheduler(engine, max_rows=1).start()
    first, urgent = [job("Running.", nfe=3)], [job(f"Urgent {i}.", nfe=2) for i in range(3)]
    try:
        with ThreadPoolExecutor(2) as pool:
            running = pool.submit(scheduler.synthesize, first)
            engine.wait_for_steps(1)
            hurried = pool.submit(scheduler.synthesize, urgent, urgent=True)
            assert scheduler.wait_until_queued(1, SAFETY)
            engine.allow(100)
            assert_audio(hurried.result(SAFETY), urgent)
            assert_audio(running.result(SAFETY), first)
    finally:
        engine.allow(100)
        scheduler.close()
    assert engine.most_active == 2
    names = [rows[0] for rows in engine.steps()]
    assert names == ["Running."] + [f"Urgent {i}." for i in range(3) for _ in range(2)] + ["Running."] * 2


def test_the_step_shape_follows_the_rows_of_each_step(held) -> None:
    """Each step is as wide as its rows and as long as its longest: a long row joining makes
    the step longer, and once it leaves the step is short again."""
    engine, scheduler = held
    shapes: list[tuple[int, int]] = []
    step = engine.step

    def recording(rows):
        shapes.append((len(rows), max(r.frames for r in rows)))
        step(rows)

    engine.step = recording  # type: ignore[method-assign]
    engine.frames = {"Short.": 600, "Longer.": 700}
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(scheduler.synthesize, [job("Short.", nfe=4)])
        engine.wait_for_steps(1)
        b = pool.submit(scheduler.synthesize, [job("Longer.", nfe=2)])
        assert scheduler.wait_until_queued(1, SAFETY)
        engine.allow(10)
        a.result(SAFETY), b.result(SAFETY)
    assert shapes == [(1, 600), (2, 700), (2, 700), (1, 600)]


def test_choose_rows_keeps_one_kind_the_row_and_frame_bounds_and_the_padding_ratio() -> None:
    def row(frames: int, guided: bool = True, started: bool = False) -> FakeRow:
        return FakeRow(job("x"), frames, 4, guided, started)

    short, long, unguided = row(600), row(1700), row(600, guided=False)
    assert choose_rows([short, unguided, row(650)], 8, 10**6)[1].frames == 650  # one kind per step
    assert len(choose_rows([row(500) for _ in range(5)], 3, 10**6)) == 3
    assert len(choose_rows([row(500) for _ in range(5)], 8, 1600)) == 3  # 3 x 500 padded frames fit 1600
    assert choose_rows([long], 8, 100) == [long]  # the first row runs however long
    # a short row may join long ones (one row's padding); a long one does not pad short ones
    assert len(choose_rows([row(700) for _ in range(8)] + [row(450)], 16, 10**6)) == 9
    assert choose_rows([short, long], 8, 10**6) == [short]
    assert choose_rows([long, short], 8, 10**6) == [long]
    assert MAX_PADDING_RATIO * (600 + 1700) < 2 * 1700
    waiting = [row(500) for _ in range(3)]
    assert choose_rows([row(500, started=True), *waiting], 8, 10**6, may_start=1)[1:] == waiting[:1]


def test_an_unlike_long_row_runs_in_steps_of_its_own() -> None:
    engine = FakeRowEngine()
    engine.frames = {"Long.": 1700}
    scheduler = StepScheduler(engine, max_rows=8).start()
    items = [job("Long.", nfe=3), *[job(f"S{i}.", nfe=3) for i in range(3)]]
    try:
        assert_audio(scheduler.synthesize(items), items)
    finally:
        scheduler.close()
    short = ["S0.", "S1.", "S2."]
    assert engine.steps() == [["Long."]] * 3 + [short] * 3


def test_a_step_that_would_fill_little_of_its_captured_size_leaves_its_last_rows_for_the_next() -> None:
    assert [fill_bucket(rows, (1, 2, 4, 8, 16, 24)) for rows in (1, 3, 4, 7, 8, 15, 17, 22, 30)] == [
        1, 2, 4, 4, 8, 15, 16, 22, 30,
    ]  # fmt: skip
    assert fill_bucket(17, ()) == 17  # no captured sizes: every row runs
    engine = FakeRowEngine()
    engine.step_batch_sizes = (1, 2, 4, 8)
    scheduler = StepScheduler(engine, max_rows=8).start()
    items = [job(f"Row {i}.", nfe=2) for i in range(5)]
    try:
        assert_audio(scheduler.synthesize(items), items)
    finally:
        scheduler.close()
    # five rows would pad to eight: four run, and the fifth takes its turn at the next step
    assert [len(rows) for rows in engine.steps()] == [4, 4, 1, 1]


def test_guided_and_unguided_rows_never_share_a_step() -> None:
    engine = FakeRowEngine()
    scheduler = StepScheduler(engine, max_rows=8).start()
    items = [job("Guided one.", nfe=2), job("Unguided.", nfe=2, cfg_strength=0.0), job("Guided two.", nfe=2)]
    try:
        assert_audio(scheduler.synthesize(items), items)
    finally:
        scheduler.close()
    guided = ["Guided one.", "Guided two."]
    assert engine.steps() == [guided, guided, ["Unguided."], ["Unguided."]]


def test_a_cancelled_job_leaves_at_the_next_step_and_the_others_go_on(held) -> None:
    engine, scheduler = held
    staying, leaving = [job("Staying.", nfe=4)], [job("Client left.", nfe=4), job("Its second chunk.", nfe=4)]
    with ThreadPoolExecutor(1) as pool:
        kept = pool.submit(scheduler.synthesize, staying)
        ticket = scheduler.submit(leaving)
        engine.wait_for_steps(1)
        ticket.cancel()
        engine.allow(10)
        with pytest.raises(EngineError, match="cancelled"):
            ticket.result()
        assert_audio(kept.result(SAFETY), staying)
    names = [name for rows in engine.steps()[1:] for name in rows]
    assert "Client left." not in names and "Its second chunk." not in names
    assert not scheduler._slots and not scheduler._results


def test_a_stream_whose_scope_is_cancelled_frees_its_rows_at_the_next_step(held) -> None:
    """The entrypoint's side of cancellation: it pulls the stream within a scope and cancels
    the scope when the client leaves, from another thread, while an engine call is running."""
    engine, scheduler = held
    staying = [job("Staying.", nfe=4)]
    scope = CancelScope()

    def stream():
        yield scheduler.synthesize([job("First chunk.", nfe=2)], urgent=True)
        yield scheduler.synthesize([job("Next chunk.", nfe=4), job("And the last.", nfe=4)])

    with ThreadPoolExecutor(2) as pool:
        events = within(scope, stream())
        engine.allow(2)
        first = pool.submit(next, events).result(SAFETY)  # the urgent chunk's 2 steps
        assert len(first) == 1
        kept = pool.submit(scheduler.synthesize, staying)
        second = pool.submit(next, events)  # the stream's next call, on another thread
        engine.wait_for_steps(3)
        scope.cancel()  # the client hung up
        engine.allow(10)
        with pytest.raises(EngineError, match="cancelled"):
            second.result(SAFETY)
        assert_audio(kept.result(SAFETY), staying)
    names = [name for rows in engine.steps()[3:] for name in rows]
    assert "Next chunk." not in names and "And the last." not in names
    assert not scheduler._slots and not scheduler._results


def test_a_call_made_after_its_scope_was_cancelled_runs_no_step(held) -> None:
    engine, scheduler = held
    scope = CancelScope()
    scope.cancel()
    events = within(scope, (scheduler.synthesize([job("Too late.")]) for _ in range(1)))
    with pytest.raises(EngineError, match="cancelled"):
        next(events)
    engine.allow(1)
    assert scheduler.synthesize([job("Another job.", nfe=1)])  # the scheduler goes on
    assert engine.steps() == [["Another job."]]


def test_a_job_that_cannot_be_planned_fails_alone(held) -> None:
    engine, scheduler = held
    engine.allow(10**3)
    with pytest.raises(InvalidInput):
        scheduler.synthesize([job("BAD text.")])
    assert_audio(scheduler.synthesize([job("Fine.")]), [job("Fine.")])


def test_a_failing_step_with_several_jobs_fails_only_the_job_with_the_bad_row(held) -> None:
    engine, scheduler = held
    with ThreadPoolExecutor(1) as pool:
        good = pool.submit(scheduler.synthesize, [job("Good row.")])
        engine.wait_for_steps(1)
        bad = scheduler.submit([job("BOOM row.")])
        assert scheduler.wait_until_queued(1, SAFETY)
        engine.allow(10**3)
        with pytest.raises(EngineError, match="model failed"):
            bad.result()
        assert_audio(good.result(SAFETY), [job("Good row.")])
    assert engine.steps()[1:4] == [["Good row.", "BOOM row."], ["Good row."], ["BOOM row."]]


def test_an_empty_call_returns_at_once_and_a_closed_or_unstarted_scheduler_refuses() -> None:
    scheduler = StepScheduler(FakeRowEngine(), max_rows=2)
    assert scheduler.synthesize([]) == []
    with pytest.raises(EngineError, match="not started"):
        scheduler.synthesize([job("Too early.")])
    scheduler.start().close()
    with pytest.raises(EngineError, match="shutting down"):
        scheduler.synthesize([job("Too late.")])
    with pytest.raises(RuntimeError):
        scheduler.start()


def test_close_fails_the_jobs_in_hand_and_stops_the_thread() -> None:
    engine = FakeRowEngine(hold=True)
    scheduler = StepScheduler(engine, max_rows=2).start()
    thread = scheduler._thread
    ticket = scheduler.submit([job("Never finished.", nfe=8)])
    engine.wait_for_steps(1)
    closer = threading.Thread(target=scheduler.close)
    closer.start()
    engine.allow(1)  # the step in progress ends; the loop then sees it is closed
    closer.join(SAFETY)
    assert thread is not None and not thread.is_alive()
    with pytest.raises(EngineError, match="shutting down"):
        ticket.result()


def hold_the_vocoder(engine: FakeRowEngine) -> tuple[threading.Event, threading.Event]:
    """(decoding, gate): the engine's vocoder sets `decoding` when it starts, then waits for `gate`."""
    decoding, gate = threading.Event(), threading.Event()
    vocode = engine.finish

    def held_vocoder(rows):
        decoding.set()
        assert gate.wait(SAFETY)
        return vocode(rows)

    engine.finish = held_vocoder  # type: ignore[method-assign]
    return decoding, gate


def test_finished_rows_are_decoded_while_the_next_steps_run() -> None:
    engine = FakeRowEngine()
    decoding, gate = hold_the_vocoder(engine)
    scheduler = StepScheduler(engine, max_rows=8).start()
    items = [job("Done after one step.", nfe=1), job("Six steps.", nfe=6)]
    try:
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(scheduler.synthesize, items)
            assert decoding.wait(SAFETY)
            engine.wait_for_steps(6)  # the other row's five steps ran while the first was decoded
            gate.set()
            assert_audio(future.result(SAFETY), items)
    finally:
        gate.set()
        scheduler.close()


def test_urgent_rows_are_decoded_ahead_of_rows_waiting_for_the_vocoder() -> None:
    engine = FakeRowEngine()
    decoding, gate = hold_the_vocoder(engine)
    scheduler = StepScheduler(engine, max_rows=8).start()
    try:
        with ThreadPoolExecutor(3) as pool:
            first = pool.submit(scheduler.synthesize, [job("Decoded first.", nfe=1)])
            assert decoding.wait(SAFETY)  # the vocoder is busy with it
            waiting = pool.submit(scheduler.synthesize, [job("Waits its turn.", nfe=1)])
            engine.wait_for_steps(2)
            urgent = pool.submit(scheduler.synthesize, [job("Hello?", nfe=1)], urgent=True)
            engine.wait_for_steps(3)
            gate.set()
            for future in (first, waiting, urgent):
                future.result(SAFETY)
    finally:
        gate.set()
        scheduler.close()
    finishes = [rows for kind, rows in engine.log if kind == "finish"]
    assert finishes == [["Decoded first."], ["Hello?"], ["Waits its turn."]]

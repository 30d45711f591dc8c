"""Micro-batching in front of any TTS engine: concurrent jobs share the model's forward passes.

A worker billed per GPU-second wastes most of it running one short chunk at a time. Jobs
call `synthesize` from their own threads; one batching thread gathers every request that
is waiting (up to `max_items` chunks, waiting at most `wait_ms` for company), runs them as
one engine call (the engine buckets them by length and caps padded frames), and hands each
job its own audio. Results do not depend on batch mates (the engine contract guarantees
it), and when a mixed batch fails each job is retried alone, so a bad item fails only its
own job.

Under steady load the clients of one batch come back together: their answers are encoded and
sent, their next requests parsed and planned, and they reach the batcher over some tens of
milliseconds. Waiting only `wait_ms` for company then splits them into a small batch and a
large one, turn after turn (measured with 8 closed-loop clients on the tiny model: batches of
1-2 and 6-7 alternating, 3.8 items on average). So the batcher also expects the jobs of the
last batch, and those that waited beside it, to come back, and waits for them a little longer:
until COMPANY_WAIT_SHARE of the last engine call's time (never over COMPANY_WAIT_MAX) has
passed since that call ended. A lone job still never waits: the last batch was its own. Nor
does the first job after a quiet spell: the clients it would wait for have gone (measured on
the paced H200 model, benchmarks.serve --paced: waiting for sixteen departed clients cost a lone
streamed paragraph 13% of its throughput).

A stream's first chunk is urgent (`urgent=True`), and so are its later calls while little
audio is buffered (domain.streaming): a listener waits on them. Urgent requests never wait
for company and go before other waiting requests. This batcher serves engines that run a
call whole (the fake engine, the aligner); the F5 engine runs behind the step scheduler
(step_scheduler), where an urgent chunk joins the running batch at its next ODE step.

The batching thread is a resource with an owner: `start()` runs it, `close()` stops it and
fails whatever is still waiting, so a container that is shut down leaves no thread behind.

The same gathering serves the forced aligner (`AlignBatcher`): the chunks of concurrent jobs
that asked for word timestamps are aligned in one padded forward pass.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog

from domain.audio import Audio
from domain.errors import EngineError
from domain.synthesis import Reference, SynthesisItem
from domain.word_timing import AlignmentItem, WordSpan
from ports.aligner import Aligner
from ports.tts_engine import EngineCapacity, EngineStatus, TtsEngine

log = structlog.get_logger()
Item = TypeVar("Item")
Result = TypeVar("Result")
#: how long a batch may wait for the jobs expected back, as a share of the last engine call,
#: and at most. The share is about what a batch of one or two costs against a full one (on a
#: GPU with graphs: 6.7 ms per forward at batch 1 against 64 ms at 16; on a CPU, 1/8 of a
#: batch of 8): so waiting never idles the device longer than running the early arrivals
#: alone would have kept it busy, and the late ones then join a full batch for free.
COMPANY_WAIT_SHARE = 0.1
COMPANY_WAIT_MAX = 0.1  # seconds


@dataclass(eq=False)
class _Request:
    items: list[Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: list[Any] | None = None
    error: BaseException | None = None


def _fail_unfinished(batch: list[_Request], exc: BaseException) -> None:
    """Hand `exc` to every request of `batch` still waiting for its result."""
    for request in batch:
        if not request.done.is_set():
            request.error = exc
            request.done.set()


class _Batcher(Generic[Item, Result]):
    """Gathers concurrent calls into one call of `run`, a batch-first model method."""

    def __init__(
        self,
        run: Callable[[list[Item]], list[Result]],
        max_items: int,
        wait_ms: float,
        name: str,
        event: str,
    ) -> None:
        self._call = run
        self._name = name
        self._event = event  # the debug log event of each model call
        self._max_items = max(1, max_items)
        self._wait = max(0.0, wait_ms) / 1000
        self._queue: deque[_Request] = deque()
        self._urgent: deque[_Request] = deque()
        self._ready = threading.Condition()
        self.batches: deque[int] = deque(maxlen=1024)  # items per recent engine call, for tests
        self._last_requests = 0
        self._expected = 0  # jobs expected at the next gathering: the last batch's, and those that waited
        self._last_run = 0.0  # seconds the last engine call took
        self._last_end = 0.0  # when it ended (time.monotonic())
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self) -> _Batcher[Item, Result]:
        with self._ready:
            if self._closed:
                raise RuntimeError(f"a closed {type(self).__name__} cannot start again")
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
        return self

    def close(self) -> None:
        """Stop the batching thread after the batch it is running; waiting jobs fail."""
        with self._ready:
            self._closed = True
            thread, self._thread = self._thread, None
            waiting = [*self._urgent, *self._queue]
            self._queue.clear()
            self._urgent.clear()
            self._ready.notify_all()
        for request in waiting:
            request.error = EngineError("the worker is shutting down")
            request.done.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _submit(self, items: Sequence[Item], urgent: bool = False) -> list[Result]:
        request = _Request(list(items))
        if not request.items:
            return []
        with self._ready:
            if self._thread is None:
                raise EngineError("the worker is shutting down" if self._closed else "the batcher is not started")
            (self._urgent if urgent else self._queue).append(request)
            self._ready.notify_all()
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def wait_until_queued(self, requests: int, timeout: float) -> bool:
        """Block until `requests` jobs wait for the next batch: tests build exact batches with
        it instead of sleeping."""
        with self._ready:
            return self._ready.wait_for(lambda: len(self._queue) + len(self._urgent) >= requests, timeout)

    def _loop(self) -> None:
        while (gathered := self._gather()) is not None:
            batch, urgent = gathered
            try:
                self._run(batch, urgent)
            except BaseException as exc:  # never let the batching thread die
                _fail_unfinished(batch, exc)

    def _gather(self) -> tuple[list[_Request], bool] | None:
        """The waiting urgent requests, if any (they wait for nobody); else the oldest waiting
        request, then whatever else is waiting or arrives within `wait_ms`, up to
        `max_items` chunks; a request is never split across calls. While fewer jobs are in
        hand than came with the last batch (see the module's docstring), it waits for them
        up to its patience; an urgent request arriving meanwhile goes first, and what was
        gathered goes back to the front of the queue. A lone job (the last call served one
        request) does not wait for company that is not coming."""
        with self._ready:
            while not self._queue and not self._urgent:
                if self._closed:
                    return None
                self._ready.wait()
            if self._urgent:
                return self._take_urgent(), True
            batch = [self._queue.popleft()]
            count = len(batch[0].items)
            busy = self._last_requests > 1 or bool(self._queue)
            now = time.monotonic()
            deadline = now + (self._wait if busy else 0.0)
            patience = max(deadline, self._last_end + min(COMPANY_WAIT_MAX, COMPANY_WAIT_SHARE * self._last_run))
            while count < self._max_items:
                if not self._queue:
                    expecting = len(batch) < self._expected
                    remaining = (patience if expecting else deadline) - time.monotonic()
                    if remaining > 0 and self._ready.wait(remaining) and self._urgent:
                        self._queue.extendleft(reversed(batch))
                        return self._take_urgent(), True
                    if remaining <= 0 or not self._queue:
                        break
                if count + len(self._queue[0].items) > self._max_items:
                    break
                request = self._queue.popleft()
                batch.append(request)
                count += len(request.items)
            self._last_requests = len(batch)
        return batch, False

    def _take_urgent(self) -> list[_Request]:
        """The waiting urgent requests, oldest first, up to `max_items` chunks (at least one)."""
        batch = [self._urgent.popleft()]
        count = len(batch[0].items)
        while self._urgent and count + len(self._urgent[0].items) <= self._max_items:
            count += len(self._urgent[0].items)
            batch.append(self._urgent.popleft())
        return batch

    def _run(self, batch: list[_Request], urgent: bool = False) -> None:
        """One model call for `batch`."""
        items = [item for request in batch for item in request.items]
        self.batches.append(len(items))
        started = time.monotonic()
        try:
            audios = self._call(items)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
                batch[0].done.set()
                return
            log.info("batch_failed_retrying_alone", jobs=len(batch), error=type(exc).__name__)
            for request in batch:
                self._run([request], urgent)
            return
        # summed against the wall clock they show how long the device sat idle between calls
        ended = time.monotonic()
        seconds = ended - started
        if not urgent:
            with self._ready:
                self._last_run, self._last_end = seconds, ended
                self._expected = len(batch) + len(self._queue)
        log.debug(self._event, jobs=len(batch), items=len(items), seconds=round(seconds, 4), urgent=urgent)
        start = 0
        for request in batch:
            request.result = audios[start : start + len(request.items)]
            start += len(request.items)
            request.done.set()


class EngineFront:
    """A scheduler in front of an engine answers the rest of the engine port for it."""

    _engine: TtsEngine

    @property
    def sample_rate(self) -> int:
        return self._engine.sample_rate

    @property
    def model_id(self) -> str:
        return self._engine.model_id

    def status(self) -> EngineStatus:
        return self._engine.status()

    def capacity(self) -> EngineCapacity:
        return self._engine.capacity()

    def warm_up(self, reference: Reference | None = None) -> None:
        self._engine.warm_up(reference)


class MicroBatcher(EngineFront, _Batcher[SynthesisItem, Audio]):
    """The engine behind a batcher: concurrent jobs' chunks share forward passes."""

    def __init__(self, engine: TtsEngine, max_items: int, wait_ms: float) -> None:
        self._engine = engine
        super().__init__(
            engine.synthesize,
            max_items,
            wait_ms,
            "micro-batcher",
            "engine_batch",
        )

    @property
    def max_items(self) -> int:
        """The most chunks in one engine call."""
        return self._max_items

    def synthesize(self, items: Sequence[SynthesisItem], *, urgent: bool = False) -> list[Audio]:
        """Queue the items for the next batch (urgent ones first) and wait for their audio."""
        return self._submit(items, urgent)


class AlignBatcher(_Batcher[AlignmentItem, list[WordSpan]]):
    """The aligner behind a batcher. Starting it starts only the thread: the model still
    loads on the first alignment."""

    def __init__(self, aligner: Aligner, max_items: int, wait_ms: float) -> None:
        self._aligner = aligner
        super().__init__(aligner.align, max_items, wait_ms, "align-batcher", "align_batch")

    @property
    def available(self) -> bool:
        return self._aligner.available

    @property
    def detail(self) -> str:
        return self._aligner.detail

    def warm_up(self) -> None:
        self._aligner.warm_up()

    def align(self, items: Sequence[AlignmentItem]) -> list[list[WordSpan]]:
        return self._submit(items)

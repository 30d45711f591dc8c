"""Step-level batching: jobs join a running batch at the next ODE step, as an LLM server's
continuous batching does (vLLM's split: a scheduler decides, per step, which rows run; the
engine's runner executes one step at a fixed shape).

A batch that runs all its steps before the next one starts makes a job that arrives
meanwhile wait for all of them, and a stream's first chunk either waits too or pre-empts the
batch from inside its ODE loop. F5's DiT takes the flow time per row, so rows at different
steps can share one forward pass. Here every item is a row that carries its own ODE state
(the engine's `Row`), and one thread runs a loop: take the requests that arrived, choose
the rows of the next step (`choose_rows`), start the new ones, run the step, vocode the
rows that finished (together), hand each request its audio once all its rows are done.

The policy, per step:
- urgent rows (a stream's first chunk, or one while little audio is buffered) run first, in
  steps of their own, the other rows paused: a listener then waits for the step in progress
  and the urgent rows' own steps, each as cheap as its few rows make it (on the paced H200
  model, sharing the steps of a full batch made a first chunk take 16 steps of 64-96 ms
  instead of 16 of 6.7 ms);
- then every other row, started or waiting, earliest start first: a row's start is the step
  its request arrived at, plus, for the rows of a request longer than one step holds, the
  steps of the waves before its own (row i of a request starts `i // max_rows` waves of
  its NFE steps late, as it would if the request ran alone). So rows run to completion in
  the order they came (first come, first served, as a CPU that runs one row at a time
  needs), yet a long job's later rows cannot starve a short job that arrived after it
  started: the short job's rows start before the long job's later waves;
- the first row chosen sets the step's kind (guided or not: they run different forwards);
  every other row joins if it is of that kind, the step stays within `max_rows` rows
  (BATCH_MAX_ITEMS) and `max_frames` padded frames (BATCH_MAX_FRAMES: rows x the longest
  row), and padding stays within MAX_PADDING_RATIO of the rows' own frames (a short row may
  be padded up to a long batch, which costs one row's padding, but a long row does not pad
  a batch of short ones: it runs in steps of its own, the short ones paused meanwhile);
- where the runner pads a step up to captured batch sizes (CUDA graphs), a step that would
  fill less than BUCKET_FILL of the size it pads up to leaves its last rows for the next
  step, down to the size below (17 rows would run as 24 at the cost of 24 rows: 16 run, and
  the 17th waits for a row to finish);
- at most `2 * max_rows` rows hold device state at once: a waiting row starts only under
  that bound, so a flood of queued chunks costs no memory until its rows run.

A row's audio does not depend on which rows shared its steps (the engine's contract: its
noise, grid and conditioning are its own, and padding is masked), so none of this changes
what anyone hears. A request can be cancelled (`Ticket.cancel`, for a job whose client
left): its rows leave at the next step boundary. `synthesize` cancels its request when the
job's `CancelScope` (domain.cancellation, opened by the entrypoint) is cancelled. When a
step fails with the rows of several requests, each request's rows run that step alone, so a
bad item fails only its own job.

The rows that finish at a step go to a second thread for the vocoder (urgent rows ahead of
the others waiting for it), so the next steps run while they are decoded (on the paced H200
model the tiny checkpoint's vocoder on the host took 16-33% of the wall time when it ran
between steps; on a GPU it is the host's share of launching it). The threads are a resource
with an owner: `start()` runs them, `close()` stops them, lets the decoder finish what it
was handed, and fails whatever is still waiting.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, runtime_checkable

import structlog

from adapters.micro_batcher import EngineFront
from domain.audio import Audio
from domain.cancellation import current_scope
from domain.errors import EngineError
from domain.synthesis import Reference, SynthesisItem
from ports.tts_engine import EngineCapacity, EngineStatus

log = structlog.get_logger()
#: padded frames of a step (rows x its longest row) may exceed its rows' own frames by this
MAX_PADDING_RATIO = 1.3
#: rows that may hold device state at once, as a multiple of the rows of one step
STARTED_ROWS_FACTOR = 2
#: the least share of a captured batch size a step's rows must fill (see the module's docstring)
BUCKET_FILL = 0.9


class StepRow(Protocol):
    """What the scheduler reads of an engine's row."""

    @property
    def frames(self) -> int: ...

    @property
    def guided(self) -> bool: ...

    @property
    def started(self) -> bool: ...

    @property
    def done(self) -> bool: ...

    @property
    def steps(self) -> int:
        """Its ODE steps in all."""
        ...


RowT = TypeVar("RowT", bound=StepRow)


@runtime_checkable
class RowEngine(Protocol[RowT]):
    """An engine that runs items row by row (see adapters.f5.engine.F5Engine)."""

    @property
    def sample_rate(self) -> int: ...

    @property
    def model_id(self) -> str: ...

    @property
    def max_step_frames(self) -> int: ...

    @property
    def step_batch_sizes(self) -> tuple[int, ...]:
        """The batch sizes a step is padded up to (captured graphs), or () where it runs at
        its own size."""
        ...

    def status(self) -> EngineStatus: ...

    def capacity(self) -> EngineCapacity: ...

    def warm_up(self, reference: Reference | None = None) -> None: ...

    def plan(self, items: Sequence[SynthesisItem]) -> list[RowT]: ...

    def start(self, rows: Sequence[RowT]) -> None: ...

    def step(self, rows: Sequence[RowT]) -> None: ...

    def finish(self, rows: Sequence[RowT]) -> list[Audio]: ...


def choose_rows(
    candidates: Sequence[RowT],
    max_rows: int,
    max_frames: int,
    padding_ratio: float | None = None,
    may_start: int | None = None,
) -> list[RowT]:
    """The rows of the next step, from `candidates` in priority order (see the module's
    docstring): the first that may run sets the kind, and each later one joins if the step
    stays within `max_rows`, `max_frames` padded frames (the first row always runs, however
    long) and the padding ratio. `may_start`: how many rows not yet started may join (None:
    any)."""
    ratio = MAX_PADDING_RATIO if padding_ratio is None else padding_ratio
    chosen: list[RowT] = []
    longest = total = 0
    starts = 0
    for row in candidates:
        if len(chosen) >= max_rows:
            break
        if not row.started and may_start is not None and starts >= may_start:
            continue
        if chosen:
            if row.guided != chosen[0].guided:
                continue
            rows, widest = len(chosen) + 1, max(longest, row.frames)
            if rows * widest > max_frames or rows * widest > ratio * (total + row.frames):
                continue
        chosen.append(row)
        longest, total = max(longest, row.frames), total + row.frames
        starts += not row.started
    return chosen


def fill_bucket(rows: int, sizes: Sequence[int]) -> int:
    """How many of `rows` chosen rows to run where steps are padded up to `sizes`: all of
    them if they fill BUCKET_FILL of the size they pad up to (or exceed every size), else
    the size below."""
    larger = [size for size in sizes if size >= rows]
    smaller = [size for size in sizes if size < rows]
    if not larger or not smaller or rows >= BUCKET_FILL * min(larger):
        return rows
    return max(smaller)


@dataclass(eq=False)
class Ticket:
    """One request's place in the scheduler: `result()` waits for its audio; `cancel()`
    takes its rows out at the next step boundary (result() then raises EngineError)."""

    items: list[SynthesisItem]
    urgent: bool
    seq: int
    done: threading.Event = field(default_factory=threading.Event)
    audio: list[Audio] | None = None
    error: BaseException | None = None
    cancelled: bool = False

    def result(self) -> list[Audio]:
        self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.audio is not None
        return self.audio

    def cancel(self) -> None:
        self.cancelled = True

    def fail(self, error: BaseException) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


@dataclass(eq=False)
class _Slot:
    """A row and its request, with its start (see the module's docstring)."""

    row: StepRow
    ticket: Ticket
    index: int  # its place in the request's items
    start: int


class StepScheduler(EngineFront):
    """The `TtsEngine` port in front of a `RowEngine`: concurrent jobs' rows share steps."""

    def __init__(self, engine: RowEngine, max_rows: int) -> None:
        self._engine = engine
        self._max_rows = max(1, max_rows)
        self._ready = threading.Condition()
        self._arrived: list[Ticket] = []
        self._slots: list[_Slot] = []  # planned rows of requests in hand, not yet done
        self._results: dict[int, dict[int, Audio]] = {}  # ticket seq -> decoded rows' audio
        self._results_lock = threading.Lock()  # the decoder fills them, the scheduler drops them
        # (urgent last, order, rows): urgent rows' audio is decoded before the rest waiting
        self._decode: queue.PriorityQueue[tuple[int, int, list[_Slot] | None]] = queue.PriorityQueue()
        self._decodes = itertools.count()
        self._seq = itertools.count()
        self._steps = 0
        self._thread: threading.Thread | None = None
        self._decoder: threading.Thread | None = None
        self._closed = False
        self._since_finish = [0, 0, 0.0]  # steps, rows stepped, seconds since the last logged finish
        self._jobs: set[int] = set()  # requests whose rows ran since then

    # -- the port ---------------------------------------------------------------------------

    @property
    def max_items(self) -> int:
        """The most rows in one step."""
        return self._max_rows

    def synthesize(self, items: Sequence[SynthesisItem], *, urgent: bool = False) -> list[Audio]:
        """Queue the items' rows (urgent ones go first at every step) and wait for their audio;
        the rows leave at the next step if the job's scope is cancelled meanwhile (EngineError)."""
        scope = current_scope()
        if scope is None:
            return self.submit(items, urgent=urgent).result()
        if scope.cancelled:
            raise EngineError("the job was cancelled")
        ticket = self.submit(items, urgent=urgent)
        forget = scope.on_cancel(ticket.cancel)
        try:
            return ticket.result()
        finally:
            forget()

    # -- the scheduler ----------------------------------------------------------------------

    def submit(self, items: Sequence[SynthesisItem], *, urgent: bool = False) -> Ticket:
        """Queue the items; the ticket gives their audio, or cancels them."""
        ticket = Ticket(list(items), urgent, next(self._seq))
        if not ticket.items:
            ticket.audio = []
            ticket.done.set()
            return ticket
        with self._ready:
            if self._thread is None:
                raise EngineError("the worker is shutting down" if self._closed else "the scheduler is not started")
            self._arrived.append(ticket)
            self._ready.notify_all()
        return ticket

    def start(self) -> StepScheduler:
        with self._ready:
            if self._closed:
                raise RuntimeError("a closed StepScheduler cannot start again")
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="step-scheduler", daemon=True)
                self._decoder = threading.Thread(target=self._decode_loop, name="step-decoder", daemon=True)
                self._thread.start()
                self._decoder.start()
        return self

    def close(self) -> None:
        """Stop the threads after the step in progress and the decoding already handed on;
        every other request in hand fails."""
        with self._ready:
            self._closed = True
            thread, self._thread = self._thread, None
            decoder, self._decoder = self._decoder, None
            self._ready.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        if decoder is not None:
            self._decode.put((2, next(self._decodes), None))
            if decoder is not threading.current_thread():
                decoder.join()
        with self._ready:
            tickets = [*self._arrived, *(slot.ticket for slot in self._slots)]
            self._arrived.clear()
            self._slots.clear()
        for ticket in tickets:
            ticket.fail(EngineError("the worker is shutting down"))

    def wait_until_queued(self, requests: int, timeout: float) -> bool:
        """Block until `requests` jobs have arrived and wait for the next step (tests build
        exact steps with it instead of sleeping)."""
        with self._ready:
            return self._ready.wait_for(lambda: len(self._arrived) >= requests, timeout)

    def _loop(self) -> None:
        while True:
            with self._ready:
                while not self._arrived and not self._slots and not self._closed:
                    self._ready.wait()
                if self._closed:
                    return
                arrived, self._arrived = self._arrived, []
            try:
                self._admit(arrived)
                self._drop_cancelled()
                if self._slots:
                    self._run_step()
            except BaseException as exc:  # never let the thread die: fail what is in hand
                log.exception("step_scheduler_failed", error=type(exc).__name__)
                for ticket in {slot.ticket for slot in self._slots} | set(arrived):
                    ticket.fail(exc)
                self._slots = [slot for slot in self._slots if not slot.ticket.done.is_set()]

    def _admit(self, arrived: list[Ticket]) -> None:
        """Plan the new requests' rows; a request whose items cannot be spoken fails alone."""
        for ticket in arrived:
            try:
                rows = self._engine.plan(ticket.items)
            except Exception as exc:
                ticket.fail(exc)
                continue
            with self._results_lock:
                self._results[ticket.seq] = {}
            self._slots.extend(
                _Slot(row, ticket, i, self._steps + i // self._max_rows * row.steps) for i, row in enumerate(rows)
            )

    def _drop_cancelled(self) -> None:
        """Take out the rows of cancelled requests, and of requests that failed meanwhile
        (their vocoder call did)."""
        for ticket in {slot.ticket for slot in self._slots if slot.ticket.cancelled or slot.ticket.done.is_set()}:
            self._forget(ticket)
            if ticket.cancelled and not ticket.done.is_set():
                ticket.fail(EngineError("the job was cancelled"))
                log.info("step_scheduler_cancelled", items=len(ticket.items))

    def _forget(self, ticket: Ticket) -> None:
        self._slots = [slot for slot in self._slots if slot.ticket is not ticket]
        with self._results_lock:
            self._results.pop(ticket.seq, None)

    def _order(self) -> list[_Slot]:
        """The urgent rows if there are any, else every row; earliest start first (see the
        module's docstring)."""
        urgent = [slot for slot in self._slots if slot.ticket.urgent]
        return sorted(urgent or self._slots, key=lambda s: (s.start, s.ticket.seq, s.index))

    def _run_step(self) -> None:
        began = time.monotonic()
        order = self._order()
        started = sum(slot.row.started for slot in self._slots)
        by_row = {id(slot.row): slot for slot in order}
        rows = choose_rows(
            [slot.row for slot in order],
            self._max_rows,
            self._engine.max_step_frames,
            may_start=max(0, STARTED_ROWS_FACTOR * self._max_rows - started),
        )
        chosen = [by_row[id(row)] for row in rows[: fill_bucket(len(rows), self._engine.step_batch_sizes)]]
        try:
            self._advance(chosen)
        except Exception as exc:
            tickets = list(dict.fromkeys(slot.ticket for slot in chosen))
            if len(tickets) > 1:
                log.info("step_failed_retrying_alone", jobs=len(tickets), error=type(exc).__name__)
            for ticket in tickets:
                try:
                    if len(tickets) == 1:
                        raise
                    self._advance([slot for slot in chosen if slot.ticket is ticket])
                except Exception as alone:
                    self._forget(ticket)
                    ticket.fail(alone)
        self._steps += 1
        finished = [slot for slot in chosen if slot.row.done]
        self._finish(finished)
        self._record(chosen, time.monotonic() - began, len(finished))

    def _advance(self, slots: list[_Slot]) -> None:
        """Start the slots' new rows and run one step over all of them."""
        new = [slot.row for slot in slots if not slot.row.started]
        if new:
            self._engine.start(new)
        self._engine.step([slot.row for slot in slots])

    def _finish(self, finished: list[_Slot]) -> None:
        """The finished rows leave the step loop and go to the decoder together."""
        if not finished:
            return
        done = {id(slot) for slot in finished}
        self._slots = [slot for slot in self._slots if id(slot) not in done]
        wanted = [slot for slot in finished if not slot.ticket.done.is_set()]  # not failed meanwhile
        for urgent in (True, False):
            rows = [slot for slot in wanted if slot.ticket.urgent == urgent]
            if rows:
                self._decode.put((0 if urgent else 1, next(self._decodes), rows))

    def _decode_loop(self) -> None:
        while (finished := self._decode.get()[2]) is not None:
            try:
                audios = self._engine.finish([slot.row for slot in finished])
            except BaseException as exc:  # never let the thread die: these jobs fail instead
                for ticket in {slot.ticket for slot in finished}:
                    with self._results_lock:
                        self._results.pop(ticket.seq, None)
                    ticket.fail(exc)
                continue
            for slot, audio in zip(finished, audios, strict=True):
                with self._results_lock:
                    results = self._results.get(slot.ticket.seq)
                    if results is None:  # cancelled or failed meanwhile
                        continue
                    results[slot.index] = audio
                    if len(results) < len(slot.ticket.items):
                        continue
                    del self._results[slot.ticket.seq]
                slot.ticket.audio = [results[i] for i in range(len(results))]
                slot.ticket.done.set()

    def _record(self, chosen: list[_Slot], seconds: float, finished: int) -> None:
        """Count the step; at a finish, log the steps since the last one as one `engine_batch`
        event, not one line per step: the chunks finished (`items`), the jobs whose rows ran,
        the steps, their mean rows and the seconds they kept the engine busy."""
        since = self._since_finish
        since[0] += 1
        since[1] += len(chosen)
        since[2] += seconds
        self._jobs.update(slot.ticket.seq for slot in chosen)
        if finished:
            steps, rows, busy = since
            log.debug(
                "engine_batch",
                jobs=len(self._jobs),
                items=finished,
                steps=steps,
                rows_per_step=round(rows / steps, 2),
                seconds=round(busy, 4),
            )
            self._since_finish, self._jobs = [0, 0, 0.0], set()

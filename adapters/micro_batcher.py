"""Micro-batching in front of any TTS engine: concurrent jobs share the model's forward passes.

A worker billed per GPU-second wastes most of it running one short chunk at a time. Jobs
call `synthesize` from their own threads; one batching thread gathers every request that
is waiting (up to `max_items` chunks, waiting at most `wait_ms` for company), runs them as
one engine call (the engine buckets them by length and caps padded frames), and hands each
job its own audio. Results do not depend on batch mates (the engine contract guarantees
it), and when a mixed batch fails each job is retried alone, so a bad item fails only its
own job.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from domain.audio import Audio
from domain.synthesis import SynthesisItem
from ports.tts_engine import TtsEngine

log = structlog.get_logger()


@dataclass(eq=False)
class _Request:
    items: list[SynthesisItem]
    done: threading.Event = field(default_factory=threading.Event)
    result: list[Audio] | None = None
    error: BaseException | None = None


class MicroBatcher:
    def __init__(self, engine: TtsEngine, max_items: int = 16, wait_ms: float = 5.0) -> None:
        self._engine = engine
        self._max_items = max(1, max_items)
        self._wait = max(0.0, wait_ms) / 1000
        self._queue: deque[_Request] = deque()
        self._ready = threading.Condition()
        self.batches: deque[int] = deque(maxlen=1024)  # items per recent engine call, for tests
        self._last_requests = 0
        threading.Thread(target=self._loop, name="micro-batcher", daemon=True).start()

    @property
    def sample_rate(self) -> int:
        return self._engine.sample_rate

    @property
    def model_id(self) -> str:
        return self._engine.model_id

    def warm_up(self) -> None:
        warm_up = getattr(self._engine, "warm_up", None)
        if callable(warm_up):
            warm_up()

    def synthesize(self, items: Sequence[SynthesisItem]) -> list[Audio]:
        request = _Request(list(items))
        if not request.items:
            return []
        with self._ready:
            self._queue.append(request)
            self._ready.notify()
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _loop(self) -> None:
        while True:
            batch = self._gather()
            try:
                self._run(batch)
            except BaseException as exc:  # never let the batching thread die
                for request in batch:
                    if not request.done.is_set():
                        request.error = exc
                        request.done.set()

    def _gather(self) -> list[_Request]:
        """The oldest waiting request, then whatever else is waiting or arrives within
        `wait_ms`, up to `max_items` chunks; a request is never split across calls. A lone
        job (the last call served one request) does not wait for company that is not coming."""
        with self._ready:
            while not self._queue:
                self._ready.wait()
            batch = [self._queue.popleft()]
            count = len(batch[0].items)
            busy = self._last_requests > 1 or bool(self._queue)
            deadline = time.monotonic() + (self._wait if busy else 0.0)
            while count < self._max_items:
                if not self._queue:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._ready.wait(remaining) or not self._queue:
                        break
                if count + len(self._queue[0].items) > self._max_items:
                    break
                request = self._queue.popleft()
                batch.append(request)
                count += len(request.items)
            self._last_requests = len(batch)
        return batch

    def _run(self, batch: list[_Request]) -> None:
        items = [item for request in batch for item in request.items]
        self.batches.append(len(items))
        try:
            audios = self._engine.synthesize(items)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
                batch[0].done.set()
                return
            log.info("batch_failed_retrying_alone", jobs=len(batch), error=type(exc).__name__)
            for request in batch:
                self._run([request])
            return
        start = 0
        for request in batch:
            request.result = audios[start : start + len(request.items)]
            start += len(request.items)
            request.done.set()

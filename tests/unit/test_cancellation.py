"""A job's cancel scope (domain.cancellation) and the RunPod stream that cancels it when it is
closed early: engine work in flight on another thread learns that its client left."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from domain.cancellation import CancelScope, current_scope, within
from entrypoints.runpod_handler import make_streaming_handler

SAFETY = 30  # seconds; a bound on a hang, never how the test synchronises


def test_callbacks_run_once_at_cancel_and_a_late_one_at_once() -> None:
    scope, calls = CancelScope(), []
    scope.on_cancel(lambda: calls.append("early"))
    forget = scope.on_cancel(lambda: calls.append("forgotten"))
    forget()
    scope.cancel()
    scope.cancel()
    assert calls == ["early"] and scope.cancelled
    scope.on_cancel(lambda: calls.append("late"))
    assert calls == ["early", "late"]


def test_within_makes_the_scope_current_on_whichever_thread_pulls_and_closes_the_stream() -> None:
    scope, seen, closed = CancelScope(), [], threading.Event()

    def events() -> Iterator[int]:
        try:
            for number in range(3):
                seen.append((current_scope(), threading.get_ident()))
                yield number
        finally:
            closed.set()

    stream = within(scope, events())
    with ThreadPoolExecutor(2) as pool:
        assert [pool.submit(next, stream).result(SAFETY) for _ in range(2)] == [0, 1]
    assert [current for current, _ in seen] == [scope, scope]
    assert current_scope() is None  # only the stream's pulls see it
    stream.close()
    assert closed.is_set()


class BlockingService:
    """A job service whose stream sends one answer, then waits inside its "engine call"
    until the job's scope is cancelled."""

    def __init__(self) -> None:
        self.waiting = threading.Event()
        self.cancelled = threading.Event()

    def stream(self, payload: object, job_id: str = "-") -> Iterator[dict[str, Any]]:
        yield {"chunk": 0, "status": "streaming"}
        scope = current_scope()
        assert scope is not None
        scope.on_cancel(self.cancelled.set)
        self.waiting.set()
        if not self.cancelled.wait(SAFETY):
            raise AssertionError("never cancelled")
        yield {"status": "completed"}


def test_a_runpod_stream_cancelled_mid_call_cancels_its_job() -> None:
    service = BlockingService()
    with ThreadPoolExecutor(2) as executor:
        handler = make_streaming_handler(service, executor)  # type: ignore[arg-type]

        async def consume() -> list[dict[str, Any]]:
            return [answer async for answer in handler({"id": "j", "input": {}})]

        async def cancel_midway() -> None:
            task = asyncio.create_task(consume())
            while not service.waiting.is_set() and not task.done():
                await asyncio.sleep(0.01)
            task.cancel()  # runpod gave up on the job: its client left, or it timed out
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(cancel_midway())
        assert service.cancelled.wait(SAFETY)


def test_a_runpod_stream_run_to_its_end_answers_everything() -> None:
    service = BlockingService()
    service.cancelled.set()  # its engine call ends on its own
    handler = make_streaming_handler(service)  # type: ignore[arg-type]

    async def consume() -> list[dict[str, Any]]:
        return [answer async for answer in handler({"id": "j", "input": {}})]

    assert asyncio.run(consume()) == [{"chunk": 0, "status": "streaming"}, {"status": "completed"}]

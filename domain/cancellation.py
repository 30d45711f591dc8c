"""A job's cancellation, reaching the engine work it has in flight on another thread.

A streamed answer is pulled chunk by chunk from worker threads; when its client hangs up, the
entrypoint learns it on its own thread while an engine call for the next chunks is running
on another, and would run to its end for nobody (on a batching engine, its rows keep their
place in every step); so would a one-piece answer's call. The entrypoint opens a `CancelScope`
for the job and pulls the stream `within` it, or makes the call `call_within` it; an engine
that queues work asks for the `current_scope()` when a call arrives and drops that call's work
when the scope is cancelled. Nothing else changes: the use case does not see the scope, and an
engine that cannot stop early ignores it.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
_CURRENT: contextvars.ContextVar[CancelScope | None] = contextvars.ContextVar("cancel_scope", default=None)


class CancelScope:
    """Cancelled once, from any thread; the callbacks registered until then run at that moment,
    one registered later runs at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._next = 0
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            callbacks, self._callbacks = list(self._callbacks.values()), {}
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run `callback` when the scope is cancelled; the function returned unregisters it
        (the work it would stop has ended)."""
        with self._lock:
            if not self._cancelled:
                key, self._next = self._next, self._next + 1
                self._callbacks[key] = callback
                return lambda: self._forget(key)
        callback()
        return lambda: None

    def _forget(self, key: int) -> None:
        with self._lock:
            self._callbacks.pop(key, None)


def current_scope() -> CancelScope | None:
    """The scope of the job this thread works for now, if its entrypoint opened one."""
    return _CURRENT.get()


def _scoped(scope: CancelScope) -> contextvars.Context:
    """A copy of the caller's context with `scope` as the current scope."""
    context = contextvars.copy_context()
    context.run(_CURRENT.set, scope)
    return context


def call_within(scope: CancelScope, call: Callable[..., T], *args: object) -> T:
    """`call(*args)` with `scope` as the current scope (a job answered in one piece)."""
    return _scoped(scope).run(call, *args)


def within(scope: CancelScope, events: Iterator[T]) -> Iterator[T]:
    """`events`, each pulled with `scope` as the current scope, on whichever thread pulls it
    (a server pulls a stream's chunks from a pool of threads); closing this closes `events`."""
    context = _scoped(scope)
    try:
        while True:
            try:
                event = context.run(next, events)
            except StopIteration:
                return
            yield event
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()

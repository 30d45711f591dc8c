"""Deadlines for reading a request, which uvicorn does not have: a client that sends its
headers or its body a byte at a time (slowloris) would otherwise hold a connection, and
the memory and the thread behind it, for as long as it likes.

The headers must arrive within `header_timeout` of the connection opening (or of the
previous answer on a kept-alive connection), then the body within `body_timeout`; a
connection past its deadline is closed. Both are checked in the HTTP protocol itself
(h11, uvicorn's pure-Python one), so they hold before any application code runs.
"""

from __future__ import annotations

import asyncio

import h11
import structlog
from uvicorn.protocols.http.h11_impl import H11Protocol

log = structlog.get_logger("openai_api")


def deadline_protocol(header_timeout: float, body_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with these deadlines (uvicorn takes a class for `http`)."""

    class ReadDeadlines(H11Protocol):
        _timer: asyncio.TimerHandle | None = None
        _phase = ""  # what the running deadline waits for: "headers", "body" or "" (none)

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm("headers", header_timeout)

        def handle_events(self) -> None:
            super().handle_events()
            state = self.conn.their_state
            if state is h11.SEND_BODY and self._phase != "body":
                self._arm("body", body_timeout)
            elif state is h11.IDLE and not self._phase:
                self._arm("headers", header_timeout)  # the next request on a kept-alive connection
            elif state not in (h11.IDLE, h11.SEND_BODY):
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self, phase: str, seconds: float) -> None:
            self._disarm()
            self._phase = phase
            self._timer = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._phase = None, ""

        def _expired(self) -> None:
            if not self.transport.is_closing():
                log.warning("slow_client_dropped", waiting_for=self._phase, client=f"{self.client}")
                self.transport.close()

    return ReadDeadlines

"""What a worker that could not start answers: every job, health included, gets the reason.

A worker that exits on a start-up error is restarted by RunPod again and again, billed for
each try, and its reason is buried in a log nobody is watching. Staying up and answering
`engine_error: worker failed to start: <reason>` makes the failure visible to the client
that sent the job (as runpod-workers/worker-vllm does). `EXIT_ON_STARTUP_FAILURE=1` restores
the crash for platforms that want it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import structlog

from domain.errors import EngineError, TtsError
from entrypoints.endpoints import endpoint_of

log = structlog.get_logger("worker")


def one_line(exc: BaseException) -> str:
    """The first line of an error (a TtsError without its code: the answer's code is
    engine_error), its type when the message is empty, at most 300 characters."""
    message = (exc.message if isinstance(exc, TtsError) else str(exc)).strip()
    text = message.splitlines()[0] if message else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


class FailedStart:
    """Stands in for WorkerService (same `handle` and `stream`) when booting failed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self._answer = {"error": str(EngineError(f"worker failed to start: {reason}"))}

    def handle(self, payload: object, job_id: str = "-", progress: object = None) -> dict[str, Any]:
        log.warning("job_refused", job_id=job_id, endpoint=endpoint_of(payload), reason=self.reason)
        return dict(self._answer)

    def stream(self, payload: object, job_id: str = "-") -> Iterator[dict[str, Any]]:
        yield self.handle(payload, job_id)

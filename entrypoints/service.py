"""One job in, one answer out: dispatch to a use case, render the result, log once.

Every failure becomes `{"error": "<code>: <message>"}`; an unexpected exception is logged
with its traceback on the worker and reaches the client only as `engine_error`.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import structlog

from application.app import App
from domain.errors import EngineError, TtsError
from domain.streaming import min_playback_margin
from domain.timing import StageTimer
from domain.use_cases.synthesize import Progress, StreamChunk, TtsRequest
from entrypoints.endpoints import deliver, endpoint_of, parse, render_tts, tts_extra

log = structlog.get_logger("worker")


@dataclass
class WorkerService:
    """The job API over the App: a RunPod job's `input` in, its answer out."""

    app: App

    def handle(
        self, payload: object, job_id: str = "-", progress: Callable[[Progress], None] | None = None
    ) -> dict[str, Any]:
        """The job's answer; `progress`, when given, hears how far a tts job has come."""
        return next(self._answers(payload, job_id, progress, streaming=False))

    def stream(self, payload: object, job_id: str = "-") -> Iterator[dict[str, Any]]:
        """A streaming worker's answers: for `stream: true`, one dict per audio chunk (its
        `"status": "streaming"`) and then the usual result; for any other job, its usual single
        answer. Nothing follows an answer that is not a chunk (the RunPod handler ends there)."""
        return self._answers(payload, job_id, None, streaming=True)

    def _answers(
        self, payload: object, job_id: str, progress: Callable[[Progress], None] | None, streaming: bool
    ) -> Iterator[dict[str, Any]]:
        start = time.perf_counter()
        fields: dict[str, Any] = {"job_id": job_id, "endpoint": endpoint_of(payload)}
        try:
            endpoint, request = parse(payload, self.app.limits)
        except TtsError as exc:
            yield _failed(exc, start, fields)
            return
        fields.update(endpoint.describe(request))
        if isinstance(request, TtsRequest) and request.stream and streaming:
            yield from self._stream(request, start, fields)
            return
        if progress is not None and isinstance(request, TtsRequest):
            request = replace(request, progress=progress)
        try:
            output, extra = endpoint.run(self.app, request)
        except Exception as exc:
            yield _failed(exc, start, fields)
            return
        log.info("job_done", seconds=_since(start), **fields, **extra)
        yield output

    def _stream(self, request: TtsRequest, start: float, fields: dict[str, Any]) -> Iterator[dict[str, Any]]:
        fields["stream"] = True
        first_chunk = None
        ready_at: list[float] = []
        durations: list[float] = []
        timer = StageTimer()
        # A stored answer's whole file is joined from the chunks' files; an inline one is the
        # chunks themselves, not sent twice (the README's contract), so nothing is kept.
        files = (
            None
            if request.return_base64
            else self.app.encoder.open_chunked(request.format, self.app.synthesize.sample_rate)
        )
        try:
            for event in self.app.synthesize.stream(request):
                if isinstance(event, StreamChunk):
                    first_chunk = first_chunk or _since(start)
                    with timer.stage("encode"):  # each chunk a complete file, the README's contract
                        data = (
                            self.app.encoder.encode(event.audio, request.format)
                            if files is None
                            else files.add(event.audio)
                        )
                    ready_at.append(time.perf_counter())
                    durations.append(event.duration)
                    chunk = {
                        "chunk": event.index,
                        "audio_base64": base64.b64encode(data).decode("ascii"),
                        "duration": event.duration,
                        "format": request.format,
                        "sample_rate": self.app.synthesize.sample_rate,
                        "status": "streaming",
                    }
                    if event.words is not None:
                        chunk["words"] = [word.public() for word in event.words]
                    yield chunk
                else:
                    result = event
            if files is None:
                audio: dict[str, Any] = {"captions": result.captions}
            else:
                with timer.stage("encode"):
                    whole = files.whole()
                audio = deliver(self.app, request, result, whole, timer)
            output = render_tts(result, audio)
        except Exception as exc:
            yield _failed(exc, start, fields)
            return
        margin = min_playback_margin(ready_at, durations)
        log.info(
            "job_done",
            seconds=_since(start),
            first_chunk_seconds=first_chunk,
            min_playback_margin=None if margin is None else round(margin, 3),
            **tts_extra(result, timer),
            **fields,
        )
        yield output


def _failed(exc: Exception, start: float, fields: dict[str, Any]) -> dict[str, Any]:
    """The client's answer for a failed job, logged once: a TtsError as it is, anything
    else (with its traceback in the log) only as engine_error."""
    if isinstance(exc, TtsError):
        log.warning("job_failed", code=exc.code, error=exc.message, seconds=_since(start), **fields)
        return {"error": str(exc)}
    log.error("job_crashed", exc_info=exc, seconds=_since(start), **fields)
    return {"error": str(EngineError("the worker failed unexpectedly; the error was logged"))}


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 4)


def one_line(exc: BaseException) -> str:
    """The first line of an error (a TtsError without its code: the answer's code is
    engine_error), its type when the message is empty, at most 300 characters."""
    message = (exc.message if isinstance(exc, TtsError) else str(exc)).strip()
    text = message.splitlines()[0] if message else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


class FailedStart:
    """Stands in for WorkerService (same `handle` and `stream`) when booting failed: every
    job, health included, gets the reason. A worker that exits on a start-up error is
    restarted by RunPod again and again, billed for each try, and its reason is buried in a
    log nobody is watching. Staying up and answering `engine_error: worker failed to start:
    <reason>` makes the failure visible to the client that sent the job (as
    runpod-workers/worker-vllm does). `EXIT_ON_STARTUP_FAILURE=1` restores the crash for
    platforms that want it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self._answer = {"error": str(EngineError(f"worker failed to start: {reason}"))}

    def handle(self, payload: object, job_id: str = "-", progress: object = None) -> dict[str, Any]:
        log.warning("job_refused", job_id=job_id, endpoint=endpoint_of(payload), reason=self.reason)
        return dict(self._answer)

    def stream(self, payload: object, job_id: str = "-") -> Iterator[dict[str, Any]]:
        yield self.handle(payload, job_id)

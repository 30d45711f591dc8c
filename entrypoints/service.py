"""One job in, one answer out: dispatch to a use case, render the result, log once.

Every failure becomes `{"error": "<code>: <message>"}`; an unexpected exception is logged
with its traceback on the worker and reaches the client only as `engine_error`.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import structlog

from domain.errors import EngineError, InvalidInput, TtsError
from domain.use_cases.synthesize import StreamChunk, Synthesize, TtsRequest, TtsResult
from domain.use_cases.voices import DeleteVoice, ListVoices, UploadRequest, UploadVoice
from entrypoints.jobs import (
    DeleteVoiceRequest,
    HealthRequest,
    Limits,
    ListVoicesRequest,
    Request,
    parse_job,
)
from ports.blob_store import BlobStore

log = structlog.get_logger("worker")


@dataclass
class WorkerService:
    synthesize: Synthesize
    upload_voice: UploadVoice
    list_voices: ListVoices
    delete_voice: DeleteVoice
    store: BlobStore
    limits: Limits

    def handle(self, payload: object, job_id: str = "-") -> dict[str, Any]:
        start = time.perf_counter()
        fields: dict[str, Any] = {"job_id": job_id, "endpoint": _endpoint_of(payload)}
        try:
            request = parse_job(payload, self.limits)
        except TtsError as exc:
            return _failed(exc, start, fields)
        return self._answer(request, start, fields)

    def stream(self, payload: object, job_id: str = "-") -> Iterator[dict[str, Any]]:
        """A streaming worker's answers: for `stream: true`, one dict per audio chunk and then
        the usual result; for any other job, its usual single answer."""
        start = time.perf_counter()
        fields: dict[str, Any] = {"job_id": job_id, "endpoint": _endpoint_of(payload)}
        try:
            request = parse_job(payload, self.limits)
        except TtsError as exc:
            yield _failed(exc, start, fields)
            return
        if not (isinstance(request, TtsRequest) and request.stream):
            yield self._answer(request, start, fields)
            return
        fields.update(_describe(request), stream=True)
        first_chunk = None
        try:
            for event in self.synthesize.stream(request):
                if isinstance(event, StreamChunk):
                    first_chunk = first_chunk or _since(start)
                    yield {
                        "chunk": event.index,
                        "audio_base64": base64.b64encode(event.audio).decode("ascii"),
                        "duration": event.duration,
                        "format": request.format,
                        "sample_rate": self.synthesize.sample_rate,
                        "status": "streaming",
                    }
                else:
                    result = event
        except Exception as exc:
            yield _failed(exc, start, fields)
            return
        log.info("job_done", seconds=_since(start), first_chunk_seconds=first_chunk, **_tts_extra(result), **fields)
        yield _render_tts(result)

    def _answer(self, request: Request, start: float, fields: dict[str, Any]) -> dict[str, Any]:
        fields.update(_describe(request))
        try:
            if isinstance(request, TtsRequest) and request.stream:
                raise InvalidInput("stream: true needs a worker started with STREAMING=1")
            output, extra = self._run(request)
        except Exception as exc:
            return _failed(exc, start, fields)
        log.info("job_done", seconds=_since(start), **fields, **extra)
        return output

    def _run(self, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
        if isinstance(request, TtsRequest):
            result = self.synthesize(request)
            return _render_tts(result), _tts_extra(result)
        if isinstance(request, UploadRequest):
            uploaded = self.upload_voice(request)
            info = uploaded.voice
            output = {"voice": info.public(), "transcribed": uploaded.transcribed, "status": "completed"}
            return output, {"audio_seconds": info.duration, "stages": _rounded(uploaded.timings)}
        if isinstance(request, ListVoicesRequest):
            voices = self.list_voices()
            return {"voices": [v.public() for v in voices], "status": "completed"}, {"voices": len(voices)}
        if isinstance(request, DeleteVoiceRequest):
            return {"deleted": self.delete_voice(request.name), "status": "completed"}, {}
        if isinstance(request, HealthRequest):
            return self.health(), {}
        raise EngineError(f"no handler for {type(request).__name__}")

    def health(self) -> dict[str, Any]:
        checks = [
            {"check": c.name, "ok": c.ok, "seconds": round(c.seconds, 4), "detail": c.detail}
            for c in self.store.check()
        ]
        ok = all(c["ok"] for c in checks)
        return {"store": checks, "healthy": ok, "status": "completed" if ok else "degraded"}


def _failed(exc: Exception, start: float, fields: dict[str, Any]) -> dict[str, Any]:
    """The client's answer for a failed job, logged once: a TtsError as it is, anything
    else (with its traceback in the log) only as engine_error."""
    if isinstance(exc, TtsError):
        log.warning("job_failed", code=exc.code, error=exc.message, seconds=_since(start), **fields)
        return {"error": str(exc)}
    log.error("job_crashed", exc_info=exc, seconds=_since(start), **fields)
    return {"error": str(EngineError("the worker failed unexpectedly; the error was logged"))}


def _tts_extra(result: TtsResult) -> dict[str, Any]:
    return {"audio_seconds": result.duration, "chunks": result.chunks, "stages": _rounded(result.timings)}


def _render_tts(result: TtsResult) -> dict[str, Any]:
    output: dict[str, Any] = {
        "duration": result.duration,
        "text": result.text,
        "voice": result.voice,
        "sample_rate": result.sample_rate,
        "format": result.format,
        "seed": result.seed,
        "status": "completed",
    }
    if result.audio is not None:
        output["audio_base64"] = base64.b64encode(result.audio).decode("ascii")
    else:
        output["audio_url"] = result.audio_url
    return output


def _describe(request: Request) -> dict[str, Any]:
    """What a job is about, for the log line: never the text itself, only its size."""
    if isinstance(request, TtsRequest):
        return {"voice": request.voice, "text_chars": len(request.text), "format": request.format}
    if isinstance(request, UploadRequest):
        return {"voice": request.name, "source": "url" if request.url else "base64"}
    if isinstance(request, DeleteVoiceRequest):
        return {"voice": request.name}
    return {}


def _endpoint_of(payload: object) -> str:
    endpoint = payload.get("endpoint", "tts") if isinstance(payload, dict) else None
    return endpoint if isinstance(endpoint, str) and len(endpoint) <= 32 else "?"


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 4) for name, value in timings.items()}


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 4)

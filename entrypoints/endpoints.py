"""The job API's endpoints, one table: name -> input model, request builder, runner, log fields.

Adding an endpoint is one `Endpoint(...)` entry here (plus its input model and builder in
`jobs.py` when it takes fields). The parser, the service and the error message that lists
the endpoints all read this table.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from application.app import App
from application.fields import validation_error
from application.limits import Limits
from domain.errors import InvalidInput
from domain.timing import StageTimer
from domain.use_cases.synthesize import TtsRequest, TtsResult
from domain.use_cases.voices import UploadRequest
from domain.voice import voice_name
from entrypoints import jobs
from entrypoints.jobs import DeleteVoiceRequest, HealthRequest, ListModelsRequest, ListVoicesRequest

R = TypeVar("R")
Answer = tuple[dict[str, Any], dict[str, Any]]  # (the client's output, extra fields for the log line)


@dataclass(frozen=True)
class Endpoint(Generic[R]):
    name: str
    model: type[jobs._Job]
    build: Callable[[Any, Limits], R]
    run: Callable[[App, R], Answer]
    describe: Callable[[R], dict[str, Any]] = lambda request: {}


# --- runners: call the use case, render the client's answer -------------------------------


def render_tts(result: TtsResult, audio: dict[str, Any]) -> dict[str, Any]:
    """The job's answer, with its `audio` (from `deliver`) in the README's order of fields."""
    output: dict[str, Any] = {
        "duration": result.duration,
        "text": result.text,
        "voice": result.voice,
        "sample_rate": result.sample_rate,
        "format": result.format,
        "seed": result.seed,
        "spoken_text": result.spoken_text,
        "segments": [
            {"voice": segment.voice, "text": segment.text, "start": segment.start, "end": segment.end}
            for segment in result.segments
        ],
        "status": "completed",
    }
    output.update((name, value) for name, value in audio.items() if name.startswith("audio"))
    if result.words is not None:
        output["words"] = [word.public() for word in result.words]
    output.update((name, value) for name, value in audio.items() if name.startswith("captions") and value is not None)
    if result.model is not None:
        output["model"] = result.model
    if result.notes:
        output["notes"] = list(result.notes)
    return output


def deliver(use: App, request: TtsRequest, result: TtsResult, data: bytes, timer: StageTimer) -> dict[str, Any]:
    """The encoded answer as the job asked for it: inline (base64, the captions' text beside
    it) or stored, by URL (the captions stored beside it)."""
    if request.return_base64:
        return {"audio_base64": base64.b64encode(data).decode("ascii"), "captions": result.captions}
    with timer.stage("store"):
        url, captions_url = use.store_output(data, request.format, result.captions, request.captions)
    return {"audio_url": url, "captions_url": captions_url}


def tts_extra(result: TtsResult, timer: StageTimer) -> dict[str, Any]:
    stages = rounded({**result.timings, **timer.seconds})
    return {"audio_seconds": result.duration, "chunks": result.chunks, "stages": stages}


def _run_tts(use: App, request: TtsRequest) -> Answer:
    if request.stream:
        raise InvalidInput("stream: true needs a worker started with STREAMING=1")
    result, timer = use.synthesize(request), StageTimer()
    with timer.stage("encode"):
        data = use.encoder.encode(result.audio, request.format)
    return render_tts(result, deliver(use, request, result, data, timer)), tts_extra(result, timer)


def _run_upload(use: App, request: UploadRequest) -> Answer:
    uploaded = use.upload_voice(request)
    info = uploaded.voice
    output = {"voice": info.public(), "transcribed": uploaded.transcribed, "status": "completed"}
    return output, {"audio_seconds": info.duration, "stages": rounded(uploaded.timings)}


def _run_list(use: App, request: ListVoicesRequest) -> Answer:
    voices = use.list_voices()
    return {"voices": [v.public() for v in voices], "status": "completed"}, {"voices": len(voices)}


def _run_list_models(use: App, request: ListModelsRequest) -> Answer:
    models = use.synthesize.models()
    listed = [{**asdict(info), "languages": list(info.languages)} for info in models]
    return {"models": listed, "status": "completed"}, {"models": len(models)}


def _run_delete(use: App, request: DeleteVoiceRequest) -> Answer:
    return {"deleted": use.delete_voice(request.name), "status": "completed"}, {}


def _run_health(use: App, request: HealthRequest) -> Answer:
    return use.health(), {}


def rounded(timings: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 4) for name, value in timings.items()}


# --- the table ------------------------------------------------------------------------------

ENDPOINTS: dict[str, Endpoint[Any]] = {
    endpoint.name: endpoint
    for endpoint in (
        Endpoint(
            "tts",
            jobs._TtsJob,
            jobs._tts,
            _run_tts,
            lambda r: {  # never the text
                "voice": r.voice,
                "text_chars": len(r.text),
                "format": r.format,
                "timestamps": r.timestamps,
                "captions": r.captions,
                "model": r.model,
                "language": r.language,
            },
        ),
        Endpoint(
            "upload",
            jobs._UploadJob,
            jobs._upload,
            _run_upload,
            lambda r: {"voice": r.name, "source": "url" if r.url else "base64"},
        ),
        Endpoint("list_voices", jobs._ListJob, lambda job, limits: ListVoicesRequest(), _run_list),
        Endpoint("list_models", jobs._ListModelsJob, lambda job, limits: ListModelsRequest(), _run_list_models),
        Endpoint(
            "delete_voice",
            jobs._DeleteJob,
            lambda job, limits: DeleteVoiceRequest(voice_name(job.voice_name)),
            _run_delete,
            lambda r: {"voice": r.name},
        ),
        Endpoint("health", jobs._HealthJob, lambda job, limits: HealthRequest(), _run_health),
    )
}


@dataclass(frozen=True)
class ParsedJob(Generic[R]):
    endpoint: Endpoint[R]
    request: R

    def run(self, use: App) -> Answer:
        return self.endpoint.run(use, self.request)

    def describe(self) -> dict[str, Any]:
        return self.endpoint.describe(self.request)


def parse(payload: object, limits: Limits | None = None) -> ParsedJob[Any]:
    """The job's endpoint and domain request, or InvalidInput saying what to fix. Never any other exception."""
    if not isinstance(payload, dict):
        raise InvalidInput("input must be a JSON object")
    name = payload.get("endpoint", "tts")
    if not isinstance(name, str) or name not in ENDPOINTS:
        raise InvalidInput(f"unknown endpoint {_show(name)}; use one of {', '.join(ENDPOINTS)}")
    endpoint = ENDPOINTS[name]
    try:
        job = endpoint.model.model_validate(payload)
    except ValidationError as exc:
        raise validation_error(exc) from None
    return ParsedJob(endpoint, endpoint.build(job, limits or Limits.defaults()))


def parse_job(payload: object, limits: Limits | None = None) -> Any:
    """Only the domain request: what the parser's own tests look at."""
    return parse(payload, limits).request


def endpoint_of(payload: object) -> str:
    """The endpoint a payload names, for the log line even when it does not parse."""
    name = payload.get("endpoint", "tts") if isinstance(payload, dict) else None
    return name if isinstance(name, str) and len(name) <= 32 else "?"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."

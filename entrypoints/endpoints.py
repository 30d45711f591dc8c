"""The job API's endpoints, one table: name -> input model, request builder, runner, log fields.

The inputs are pydantic models (strict types, unknown fields refused), their findings folded
into one `invalid_input` message a client can act on; parsing is pure, so tested without HTTP.
Adding an endpoint is one `Endpoint(...)` entry in the table (plus its input model and builder
when it takes fields). The parser, the service and the error message that lists the endpoints
all read this table.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import Field, create_model

from application.app import App
from application.fields import Fields, TtsOptions, UploadOptions, bounded, tts_request, upload_request, validated
from application.limits import Limits
from domain.errors import InvalidInput
from domain.timing import StageTimer
from domain.use_cases.synthesize import TtsRequest, TtsResult
from domain.use_cases.voices import UploadRequest
from domain.voice import voice_name
from ports.audio_encoder import FORMAT_NAMES

Answer = tuple[dict[str, Any], dict[str, Any]]  # (the client's output, extra fields for the log line)


@dataclass(frozen=True)
class Endpoint:
    """`build` makes the domain request from the validated input (None: the endpoint takes no fields)."""

    model: type[Fields]
    run: Callable[[App, Any], Answer]
    build: Callable[[Any, Limits], Any] = lambda job, limits: None
    describe: Callable[[Any], dict[str, Any]] = lambda request: {}


# --- the inputs ---------------------------------------------------------------------------


class _TtsJob(TtsOptions):
    """The shared tts fields (application/fields.py) and the job API's own."""

    endpoint: Literal["tts"] = "tts"
    text: str | None = None
    local_voice: str | None = None
    voice: str | None = None
    format: Literal[FORMAT_NAMES] = "wav"
    return_: Literal["url", "base64"] = Field(default="url", alias="return")
    stream: bool = False


class _UploadJob(UploadOptions):
    endpoint: Literal["upload"]
    voice_name: str
    voice_file_url: str | None = None
    voice_file_base64: str | None = None


class _DeleteJob(Fields):
    endpoint: Literal["delete_voice"]
    voice_name: str


def _bare(endpoint: str) -> type[Fields]:
    """The input of an endpoint that takes no fields beside its name."""
    return create_model(f"_{endpoint}", __base__=Fields, endpoint=(Literal[endpoint], ...))


def _tts(job: _TtsJob, limits: Limits) -> TtsRequest:
    own = {"format": job.format, "return_base64": job.return_ == "base64", "stream": job.stream}
    return tts_request(limits, job, job.text, job.voice, job.local_voice, **own)


def _upload(job: _UploadJob, limits: Limits) -> UploadRequest:
    voice_name(job.voice_name)  # a bad name is refused before a large payload is decoded
    if (job.voice_file_url is None) == (job.voice_file_base64 is None):
        raise InvalidInput("send exactly one of voice_file_url and voice_file_base64")
    encoded = job.voice_file_base64
    source = _decode_base64(encoded, limits.max_voice_bytes) if encoded is not None else job.voice_file_url or ""
    return upload_request(job.voice_name, source, limits, job)


def _decode_base64(text: str, max_bytes: int) -> bytes:
    """Size is checked on the encoded text first, so a huge payload is never decoded.
    Line breaks (as `base64` writes them without -w0) are allowed. Each refusal is a new
    exception raised where it is made: one kept in a local would form a frame -> exception ->
    traceback -> frame cycle holding the whole payload until a full garbage collection."""
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    if len(text) > ((max_bytes + 2) // 3 * 4) * 77 // 76 + 4:
        raise _too_big(max_bytes)
    compact = "".join(text.split())
    if len(compact) > (max_bytes + 2) // 3 * 4:
        raise _too_big(max_bytes)
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("voice_file_base64 is not valid base64") from None
    if len(data) > max_bytes:
        raise _too_big(max_bytes)
    return data


def _too_big(max_bytes: int) -> InvalidInput:
    return InvalidInput(f"voice_file_base64 is larger than {max_bytes} bytes")


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
        "segments": [asdict(segment) for segment in result.segments],
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
        url, captions_url = use.store_answer(data, request.format, result.captions, request.captions)
    return {"audio_url": url, "captions_url": captions_url}


def tts_extra(result: TtsResult, timer: StageTimer) -> dict[str, Any]:
    stages = _rounded({**result.timings, **timer.seconds})
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
    return output, {"audio_seconds": info.duration, "stages": _rounded(uploaded.timings)}


def _run_list(use: App, request: None) -> Answer:
    voices = use.voices.list()
    return {"voices": [v.public() for v in voices], "status": "completed"}, {"voices": len(voices)}


def _run_list_models(use: App, request: None) -> Answer:
    models = use.synthesize.models()
    listed = [{**asdict(info), "languages": list(info.languages)} for info in models]
    return {"models": listed, "status": "completed"}, {"models": len(models)}


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 4) for name, value in timings.items()}


# --- the table ------------------------------------------------------------------------------

ENDPOINTS: dict[str, Endpoint] = {
    "tts": Endpoint(
        _TtsJob,
        _run_tts,
        _tts,
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
    "upload": Endpoint(
        _UploadJob, _run_upload, _upload, lambda r: {"voice": r.name, "source": "url" if r.url else "base64"}
    ),
    "list_voices": Endpoint(_bare("list_voices"), _run_list),
    "list_models": Endpoint(_bare("list_models"), _run_list_models),
    "delete_voice": Endpoint(
        _DeleteJob,
        lambda use, name: ({"deleted": use.voices.delete(name), "status": "completed"}, {}),
        lambda job, limits: voice_name(job.voice_name),
        lambda name: {"voice": name},
    ),
    "health": Endpoint(_bare("health"), lambda use, request: (use.health(), {})),
}


def parse(payload: object, limits: Limits | None = None) -> tuple[Endpoint, Any]:
    """The job's endpoint and domain request, or InvalidInput saying what to fix. Never any other exception."""
    if not isinstance(payload, dict):
        raise InvalidInput("input must be a JSON object")
    name = payload.get("endpoint", "tts")
    if not isinstance(name, str) or name not in ENDPOINTS:
        raise InvalidInput(f"unknown endpoint {bounded(name)}; use one of {', '.join(ENDPOINTS)}")
    endpoint = ENDPOINTS[name]
    return endpoint, endpoint.build(validated(endpoint.model, payload), limits or Limits.defaults())


def endpoint_of(payload: object) -> str:
    """The endpoint a payload names, for the log line even when it does not parse."""
    name = payload.get("endpoint", "tts") if isinstance(payload, dict) else None
    return name if isinstance(name, str) and len(name) <= 32 else "?"

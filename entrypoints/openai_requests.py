"""OpenAI's speech and voice requests turned into this worker's domain requests: pure, so
they are tested without HTTP, and the errors a client gets rendered as OpenAI error objects.

A speech request's extension fields (`seed`, `nfe_step` and every other shared tts field)
are validated by the shared field rules (application/fields.py), as every way in's are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from application.fields import TtsOptions, tts_request, validated
from application.limits import Limits
from domain.errors import (
    InvalidAudio,
    InvalidInput,
    InvalidVoiceName,
    TtsError,
    UnknownField,
    VoiceExists,
    VoiceNotFound,
)
from domain.use_cases.synthesize import TtsRequest
from domain.voice import DEFAULT_VOICE, VoiceInfo
from ports.audio_encoder import FORMAT_NAMES

SERVED_MODEL = "f5-tts"
# OpenAI's model names are accepted too, so clients with a fixed model list work unchanged.
MODELS = (SERVED_MODEL, "tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15")
# OpenAI's built-in voice names speak in the default voice unless a voice of that name was uploaded.
OPENAI_VOICES = frozenset(
    ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar", "fable", "onyx", "nova")
)
_STATUS = {
    "invalid_input": 400,
    "invalid_audio": 400,
    "download_failed": 400,
    "voice_not_found": 404,
    "voice_exists": 409,
    "storage_error": 500,
    "engine_error": 500,
}


class ApiError(Exception):
    """An error with its HTTP status, rendered as OpenAI renders errors."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param

    def body(self) -> dict[str, Any]:
        kind = "server_error" if self.status >= 500 else "invalid_request_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}


#: the field an error is about in a speech request, in a voice upload: by its type, or by the field it names
SPEECH_PARAMS = {InvalidVoiceName: "voice", VoiceNotFound: "voice", "text": "input"}
UPLOAD_PARAMS = {InvalidVoiceName: "name", VoiceExists: "name", InvalidAudio: "audio_sample"}


def api_error(exc: TtsError, params: Mapping[type[TtsError] | str, str] | None = None) -> ApiError:
    """`exc` as OpenAI answers it: `param` is the request field it is about, found by its
    type or by the field it names (both as `params` call them); a field there is no place for
    is the body's shape (422, its name as the client sent it), as pydantic's findings on
    OpenAI's own fields are."""
    params = params or {}
    param = next((name for kind, name in params.items() if isinstance(kind, type) and isinstance(exc, kind)), None)
    if param is None and isinstance(exc, InvalidInput) and exc.field is not None:
        param = exc.field if isinstance(exc, UnknownField) else params.get(exc.field, exc.field)
    status = 422 if isinstance(exc, UnknownField) else _STATUS.get(exc.code, 500)
    return ApiError(status, exc.code, exc.message, param)


class _VoiceRef(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    id: str


class SpeechBody(BaseModel):
    """OpenAI's `POST /v1/audio/speech` body. Unknown fields are this worker's extensions and
    go on to the shared field rules, which refuse the ones they do not know."""

    model_config = ConfigDict(extra="allow", strict=True)
    model: str
    input: str
    voice: str | _VoiceRef = DEFAULT_VOICE
    response_format: Literal[FORMAT_NAMES] = "mp3"
    speed: float = 1.0
    stream_format: Literal["audio", "sse"] = "audio"
    stream: bool = True
    instructions: Annotated[str, Field(max_length=4096)] | None = None


@dataclass(frozen=True)
class SpeechRequest:
    tts: TtsRequest
    stream_format: Literal["audio", "sse"]
    stream: bool
    openai_voice: bool  # an OpenAI built-in name: falls back to the default voice when none is stored


def parse_speech(payload: object, limits: Limits, served: Sequence[str] = ()) -> SpeechRequest:
    """A speech request, or ApiError (422 for a body of the wrong shape, 400 for bad values).
    `served` are the worker's own model names (TTS_MODELS); OpenAI's names mean the default."""
    if not isinstance(payload, dict):
        raise ApiError(422, "invalid_input", "the body must be a JSON object")
    try:
        body = SpeechBody.model_validate(payload)
    except ValidationError as exc:
        raise _schema_error(exc) from None
    if body.model not in MODELS and body.model not in served:
        choices = ", ".join((*MODELS, *served))
        raise ApiError(400, "invalid_input", f"unknown model {clipped(body.model)}; use one of {choices}", "model")
    if not body.input.strip():
        raise ApiError(400, "invalid_input", "input must not be empty", "input")
    voice = body.voice.id if isinstance(body.voice, _VoiceRef) else body.voice
    model = None if body.model in MODELS else body.model
    try:  # the worker's own fields beside OpenAI's: shared with every way in
        options = validated(TtsOptions, {**(body.model_extra or {}), "speed": body.speed, "model": model})
        request = tts_request(limits, options, body.input, voice, format=body.response_format, return_base64=True)
    except TtsError as exc:
        raise api_error(exc, SPEECH_PARAMS) from None
    if request.captions is not None:
        raise refuse("captions are answered by the job API (runsync), not the OpenAI API", "captions")
    if request.timestamps and body.stream_format != "sse":
        raise refuse('timestamps come as speech.words.delta events: send stream_format "sse"', "timestamps")
    return SpeechRequest(request, body.stream_format, body.stream, voice in OPENAI_VOICES)


def voice_object(info: VoiceInfo) -> dict[str, Any]:
    """A voice as OpenAI's `audio.voice` object, with this worker's fields beside it."""
    try:
        created = int(datetime.fromisoformat(info.created_at).timestamp())
    except ValueError:
        created = 0
    return {
        "id": info.name,
        "object": "audio.voice",
        "name": info.name,
        "type": "audio_sample",
        "created_at": created,
        "duration": round(info.duration, 3),
        "ref_text": info.ref_text,
    } | {key: value for key, value in (("model", info.model), ("language", info.language)) if value}


def form_flag(value: object, name: str) -> bool:
    """A multipart form's boolean field ("true"/"false", "1"/"0")."""
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ApiError(400, "invalid_input", f"{name} must be true or false", name)


def _schema_error(exc: ValidationError) -> ApiError:
    error = exc.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in error["loc"]) or None
    message = f"{field!r} is required" if error["type"] == "missing" else f"{field!r}: {error['msg']}"
    return ApiError(422, "invalid_input", message, field.split(".")[0] if field else None)


def clipped(value: str, limit: int = 64) -> str:
    """A client's value quoted in an error (and so in the log) at most `limit` characters long."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}... ({len(value)} characters)"


def refuse(message: str, param: str | None = None) -> ApiError:
    return api_error(InvalidInput(message, param))

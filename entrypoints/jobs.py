"""The job inputs (pydantic models) and their domain requests: pure, so tested without HTTP.

Validation is pydantic's (strict types, unknown fields refused); its findings are folded
into one `invalid_input` message a client can act on.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from application.fields import LANGUAGE_PATTERN, MAX_MODEL_CHARS, MAX_REF_TEXT_CHARS, spoken
from application.limits import Limits
from domain.errors import InvalidInput, UnknownField
from domain.synthesis import SynthesisParams
from domain.use_cases.synthesize import MAX_SEED, TtsRequest
from domain.use_cases.voices import UploadRequest
from domain.voice import voice_name
from ports.audio_encoder import FORMAT_NAMES

MAX_URL_CHARS = 8192


@dataclass(frozen=True)
class ListVoicesRequest:
    pass


@dataclass(frozen=True)
class DeleteVoiceRequest:
    name: str


@dataclass(frozen=True)
class HealthRequest:
    pass


@dataclass(frozen=True)
class ListModelsRequest:
    pass


class _Job(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


MAX_SEGMENTS = 200


class _SegmentJob(_Job):
    voice: str | None = None
    text: str


class _TtsJob(_Job):
    endpoint: Literal["tts"] = "tts"
    text: str | None = None
    segments: Annotated[list[_SegmentJob], Field(min_length=1, max_length=MAX_SEGMENTS)] | None = None
    local_voice: str | None = None
    voice: str | None = None
    speed: Annotated[float, Field(ge=0.3, le=3.0)] = 1.0
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None
    nfe_step: Annotated[int, Field(ge=4, le=64)] = 32
    cfg_strength: Annotated[float, Field(ge=0.0, le=10.0)] = 2.0
    sway_sampling_coef: Annotated[float, Field(ge=-1.0, le=1.0)] = -1.0
    cross_fade_duration: Annotated[float, Field(ge=0.0, le=1.0)] = 0.15
    remove_silence: bool = False
    format: Literal[FORMAT_NAMES] = "wav"
    return_: Literal["url", "base64"] = Field(default="url", alias="return")
    stream: bool = False
    normalize: bool = True
    timestamps: bool = False
    captions: Literal["srt", "vtt"] | None = None
    model: Annotated[str, Field(max_length=MAX_MODEL_CHARS)] | None = None
    language: Annotated[str, Field(pattern=LANGUAGE_PATTERN)] | None = None


class _UploadJob(_Job):
    endpoint: Literal["upload"]
    voice_name: str
    voice_file_url: str | None = None
    voice_file_base64: str | None = None
    ref_text: Annotated[str, Field(max_length=MAX_REF_TEXT_CHARS)] | None = None
    overwrite: bool = False
    model: Annotated[str, Field(max_length=MAX_MODEL_CHARS)] | None = None
    language: Annotated[str, Field(pattern=LANGUAGE_PATTERN)] | None = None


class _ListJob(_Job):
    endpoint: Literal["list_voices"]


class _ListModelsJob(_Job):
    endpoint: Literal["list_models"]


class _DeleteJob(_Job):
    endpoint: Literal["delete_voice"]
    voice_name: str


class _HealthJob(_Job):
    endpoint: Literal["health"]


def _tts(job: _TtsJob, limits: Limits) -> TtsRequest:
    pieces = None if job.segments is None else [(segment.voice, segment.text) for segment in job.segments]
    text, voice, segments = spoken(limits, text=job.text, segments=pieces, voice=job.voice, local_voice=job.local_voice)
    params = SynthesisParams(
        speed=job.speed,
        nfe_step=job.nfe_step,
        cfg_strength=job.cfg_strength,
        sway_sampling_coef=job.sway_sampling_coef,
        cross_fade_duration=job.cross_fade_duration,
        remove_silence=job.remove_silence,
    )
    return TtsRequest(
        text=text,
        voice=voice,
        segments=segments,
        params=params,
        seed=job.seed,
        format=job.format,
        return_base64=job.return_ == "base64",
        stream=job.stream,
        normalize=job.normalize,
        timestamps=job.timestamps,
        captions=job.captions,
        model=job.model,
        language=job.language,
    )


def _upload(job: _UploadJob, limits: Limits) -> UploadRequest:
    name = voice_name(job.voice_name)
    if (job.voice_file_url is None) == (job.voice_file_base64 is None):
        raise InvalidInput("send exactly one of voice_file_url and voice_file_base64")
    data = None
    if job.voice_file_base64 is not None:
        data = _decode_base64(job.voice_file_base64, limits.max_voice_bytes)
    else:
        _check_url(job.voice_file_url or "")
    return UploadRequest(
        name=name,
        url=job.voice_file_url,
        data=data,
        ref_text=job.ref_text,
        overwrite=job.overwrite,
        model=job.model,
        language=job.language,
    )


def _check_url(url: str) -> None:
    """Malformed URLs (`http://[::1`, a port past 65535) are the client's mistake, found
    here rather than as an exception deep in the download."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"voice_file_url is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is what validates it
    except ValueError:
        raise InvalidInput("voice_file_url is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput("voice_file_url must be an http or https URL with a host")


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


def validation_error(exc: ValidationError) -> InvalidInput:
    """pydantic's findings as one error: its message lists the first few, its type and field
    are the first's (an unknown field is the request's shape, any other a value)."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0] if errors else None
    field = ".".join(str(part) for part in first["loc"])[:64] if first else None
    kind = UnknownField if first and first["type"] == "extra_forbidden" else InvalidInput
    return kind(_describe(errors), field or None)


def _describe(errors: list[Any]) -> str:
    problems = []
    for error in errors:
        field = ".".join(str(part) for part in error["loc"]) or "input"
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown field {_bounded(field)}")
        elif error["type"] == "missing":
            problems.append(f"{_bounded(field)} is required")
        else:
            problems.append(f"{_bounded(field)}: {_bounded(error['msg'], 200, quote=False)}")
    return "; ".join(problems[:5])


def _bounded(text: str, limit: int = 40, quote: bool = True) -> str:
    """A client's field name (or pydantic's note on it) in a message: names can be megabytes."""
    shown = repr(text) if quote else text
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."

"""The job inputs (pydantic models) and their domain requests: pure, so tested without HTTP.

Validation is pydantic's (strict types, unknown fields refused); its findings are folded
into one `invalid_input` message a client can act on.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from application.fields import Fields, TtsOptions, UploadOptions, tts_request, upload_request
from application.limits import Limits
from domain.errors import InvalidInput
from domain.use_cases.synthesize import TtsRequest
from domain.use_cases.voices import UploadRequest
from domain.voice import voice_name
from ports.audio_encoder import FORMAT_NAMES


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


class _Job(Fields):
    pass


class _TtsJob(TtsOptions, _Job):
    """The shared tts fields (application/fields.py) and the job API's own."""

    endpoint: Literal["tts"] = "tts"
    text: str | None = None
    local_voice: str | None = None
    voice: str | None = None
    format: Literal[FORMAT_NAMES] = "wav"
    return_: Literal["url", "base64"] = Field(default="url", alias="return")
    stream: bool = False


class _UploadJob(UploadOptions, _Job):
    endpoint: Literal["upload"]
    voice_name: str
    voice_file_url: str | None = None
    voice_file_base64: str | None = None


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

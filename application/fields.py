"""The field rules every way in shares: the ranges and formats a request's values must keep,
and the typed request a way in builds from its own wire format (no way in translates its
request into another's payload to reach these rules)."""

from __future__ import annotations

import re

from application.limits import Limits
from domain.errors import InvalidInput
from domain.use_cases.voices import UploadRequest
from domain.voice import voice_name

MAX_REF_TEXT_CHARS = 2000
MAX_MODEL_CHARS = 64
LANGUAGE_PATTERN = r"^[a-z]{2,3}$"


def upload_request(
    name: str,
    data: bytes,
    limits: Limits,
    *,
    ref_text: str | None = None,
    overwrite: bool = False,
    model: str | None = None,
    language: str | None = None,
) -> UploadRequest:
    """A voice upload of a recording's bytes, or InvalidInput naming the field at fault
    (`voice_file`, `ref_text`, `model`, `language`; a bad name is InvalidVoiceName)."""
    voice = voice_name(name)
    if len(data) > limits.max_voice_bytes:
        raise InvalidInput(f"the recording is larger than {limits.max_voice_bytes} bytes", "voice_file")
    if ref_text is not None and len(ref_text) > MAX_REF_TEXT_CHARS:
        raise InvalidInput(f"ref_text is longer than {MAX_REF_TEXT_CHARS} characters", "ref_text")
    if model is not None and len(model) > MAX_MODEL_CHARS:
        raise InvalidInput(f"model is longer than {MAX_MODEL_CHARS} characters", "model")
    if language is not None and not re.fullmatch(LANGUAGE_PATTERN, language):
        raise InvalidInput("language must be 2-3 lowercase letters (an ISO 639 code)", "language")
    return UploadRequest(
        name=voice, url=None, data=data, ref_text=ref_text, overwrite=overwrite, model=model, language=language
    )

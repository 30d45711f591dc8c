"""The field rules every way in shares: the ranges and formats a request's values must keep,
and the typed request a way in builds from its own wire format (no way in translates its
request into another's payload to reach these rules)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from application.limits import Limits
from domain.errors import InvalidInput
from domain.text.script import VoiceText
from domain.use_cases.voices import UploadRequest
from domain.voice import DEFAULT_VOICE, voice_name

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


def spoken(
    limits: Limits,
    *,
    text: str | None,
    segments: Sequence[tuple[str | None, str]] | None = None,
    voice: str | None = None,
    local_voice: str | None = None,
) -> tuple[str, str, tuple[VoiceText, ...]]:
    """What a speech request says and in which voice: (text, voice, segments), within the
    text limits, or InvalidInput naming the field at fault. `segments` are (voice, text)
    pairs, each in its own voice (None: `voice`); `local_voice` is the job API's older name
    for `voice`."""
    if local_voice is not None and voice is not None and local_voice != voice:
        raise InvalidInput("local_voice and voice name different voices; send one")
    name = local_voice if local_voice is not None else voice
    default = voice_name(name) if name is not None else DEFAULT_VOICE
    if text is None and segments is None:
        raise InvalidInput("'text' is required (or 'segments', a list of {voice, text})", "text")
    if text is not None and segments is not None:
        raise InvalidInput("send text or segments, not both")
    pieces = tuple(_segment(index, piece, default) for index, piece in enumerate(segments or ()))
    said = " ".join(piece.text for piece in pieces) if pieces else (text or "").strip()
    if not said:
        raise InvalidInput("text must not be empty", "text")
    size = len(_utf8(said, "text"))
    if len(said) > limits.max_text_chars or size > limits.max_text_bytes:
        raise InvalidInput(
            f"text is {len(said)} characters, {size} UTF-8 bytes; the limits are {limits.max_text_chars} characters "
            f"and {limits.max_text_bytes} bytes (speech length follows the bytes)",
            "text",
        )
    return said, default, pieces


def _segment(index: int, piece: tuple[str | None, str], default_voice: str) -> VoiceText:
    """One `segments` entry; a voice name that breaks the naming rule is refused with its index."""
    name, raw = piece
    text = raw.strip()
    if not text:
        raise InvalidInput(f"segments[{index}].text must not be empty")
    if name is None:
        return VoiceText(default_voice, text)
    try:
        return VoiceText(voice_name(name), text)
    except InvalidInput as exc:
        raise InvalidInput(f"segments[{index}].voice: {exc.message}") from None


def _utf8(text: str, field: str) -> bytes:
    """JSON may carry lone surrogates (`"\\ud800"`), which are not text and cannot be encoded."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        message = f"{field} holds lone surrogates (half of a UTF-16 pair); send valid Unicode"
        raise InvalidInput(message, field) from None

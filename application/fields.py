"""The field rules every way in shares (names, ranges, formats, caps; pydantic models, as the
settings are) and the typed requests each way in builds with them from its own wire format:
no way in translates its request into another's payload to reach these rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from application.limits import Limits
from domain.errors import InvalidInput, UnknownField
from domain.synthesis import SynthesisParams
from domain.text.script import VoiceText
from domain.use_cases.synthesize import MAX_SEED, TtsRequest
from domain.use_cases.voices import UploadRequest
from domain.voice import DEFAULT_VOICE, voice_name

MAX_REF_TEXT_CHARS = 2000
MAX_URL_CHARS = 8192


class Fields(BaseModel):
    """Strict types, unknown fields refused: a way in's wire model derives from it."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


F = TypeVar("F", bound=Fields)


class Segment(Fields):
    voice: str | None = None
    text: str


ModelName = Annotated[str, Field(max_length=64)]  # a model of TTS_MODELS
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]  # how numbers are read: an ISO 639 code


class TtsOptions(Fields):
    """The tts fields every way in takes beside its text, voice and output format."""

    segments: Annotated[list[Segment], Field(min_length=1, max_length=200)] | None = None
    speed: Annotated[float, Field(ge=0.3, le=3.0)] = 1.0
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None
    nfe_step: Annotated[int, Field(ge=4, le=64)] = 32
    cfg_strength: Annotated[float, Field(ge=0.0, le=10.0)] = 2.0
    sway_sampling_coef: Annotated[float, Field(ge=-1.0, le=1.0)] = -1.0
    cross_fade_duration: Annotated[float, Field(ge=0.0, le=1.0)] = 0.15
    remove_silence: bool = False
    normalize: bool = True
    timestamps: bool = False
    captions: Literal["srt", "vtt"] | None = None
    model: ModelName | None = None
    language: Language | None = None


class UploadOptions(Fields):
    """The voice upload fields every way in takes beside the name and the recording."""

    ref_text: Annotated[str, Field(max_length=MAX_REF_TEXT_CHARS)] | None = None
    overwrite: bool = False
    model: ModelName | None = None
    language: Language | None = None


_PARAMS = frozenset(field.name for field in fields(SynthesisParams))
_AS_GIVEN = frozenset(TtsOptions.model_fields) - _PARAMS - {"segments"}
_UPLOAD = frozenset(UploadOptions.model_fields)


def validated(kind: type[F], values: Mapping[str, Any]) -> F:
    """`values` as `kind` (TtsOptions, UploadOptions), or InvalidInput naming the field at
    fault (UnknownField for a field there is no place for)."""
    try:
        return kind.model_validate(values)
    except ValidationError as exc:
        raise validation_error(exc) from None


def tts_request(
    limits: Limits, options: TtsOptions, text: str | None, voice: str | None, local_voice: str | None = None, **own: Any
) -> TtsRequest:
    """A tts request from a way in's text and voice, the shared `options`, and the fields each
    way in decides itself (`own`: format, return_base64, stream)."""
    pieces = None if options.segments is None else [(segment.voice, segment.text) for segment in options.segments]
    said, default, segments = spoken(limits, text=text, segments=pieces, voice=voice, local_voice=local_voice)
    params = SynthesisParams(**{name: getattr(options, name) for name in _PARAMS})
    shared = {name: getattr(options, name) for name in _AS_GIVEN}
    return TtsRequest(text=said, voice=default, segments=segments, params=params, **shared, **own)


def upload_request(name: str, source: bytes | str, limits: Limits, options: UploadOptions) -> UploadRequest:
    """A voice upload of a recording's bytes, or of the http(s) URL it is fetched from; else
    InvalidInput naming the field at fault (a bad name is InvalidVoiceName)."""
    voice = voice_name(name)
    if isinstance(source, str):
        check_url(source)
    elif len(source) > limits.max_voice_bytes:
        raise InvalidInput(f"the recording is larger than {limits.max_voice_bytes} bytes", "voice_file")
    url, data = (source, None) if isinstance(source, str) else (None, source)
    return UploadRequest(name=voice, url=url, data=data, **{key: getattr(options, key) for key in _UPLOAD})


def check_url(url: str) -> None:
    """Malformed URLs (`http://[::1`, a port past 65535) are the client's mistake, found
    here rather than as an exception deep in the download."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"voice_file_url is longer than {MAX_URL_CHARS} characters", "voice_file_url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is what validates it
    except ValueError:
        raise InvalidInput("voice_file_url is not a valid URL", "voice_file_url") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput("voice_file_url must be an http or https URL with a host", "voice_file_url")


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
            problems.append(f"unknown field {bounded(field)}")
        elif error["type"] == "missing":
            problems.append(f"{bounded(field)} is required")
        else:
            problems.append(f"{bounded(field)}: {bounded(error['msg'], 200, quote=False)}")
    return "; ".join(problems[:5])


def bounded(text: object, limit: int = 40, quote: bool = True) -> str:
    """A client's value (a field name, an endpoint, pydantic's note on it) in a message: they can be megabytes."""
    shown = repr(text) if quote else str(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."

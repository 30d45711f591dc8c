"""Errors a job can end with; each carries the stable code clients match on."""

from __future__ import annotations

MAX_MESSAGE_CHARS = 500


class TtsError(Exception):
    """Base of every error a client may see; `code` is part of the public API. The message
    is bounded (MAX_MESSAGE_CHARS), whatever client input went into it."""

    code = "engine_error"

    def __init__(self, message: str) -> None:
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 3] + "..."
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidInput(TtsError):
    """`field`, where known, is the request field at fault in the job API's names: each way in
    maps it to its own (OpenAI's `param`, a form field) by value, never from the message."""

    code = "invalid_input"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownField(InvalidInput):
    """A field the request has no place for: the request's shape is wrong, not a value."""


class InvalidVoiceName(InvalidInput):
    """A voice name that breaks the naming rule, whichever field carried it."""


class VoiceNotFound(TtsError):
    code = "voice_not_found"


class VoiceExists(TtsError):
    code = "voice_exists"


class InvalidAudio(TtsError):
    code = "invalid_audio"


class DownloadFailed(TtsError):
    code = "download_failed"


class StorageError(TtsError):
    code = "storage_error"


class EngineError(TtsError):
    code = "engine_error"


ERROR_CODES = frozenset(
    cls.code
    for cls in (InvalidInput, VoiceNotFound, VoiceExists, InvalidAudio, DownloadFailed, StorageError, EngineError)
)

"""The request limits every way in enforces, read once from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from settings import Settings


@dataclass(frozen=True)
class Limits:
    """The settings the parsers enforce; their defaults live in `settings.py` only."""

    max_text_chars: int
    max_text_bytes: int
    max_voice_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_text_chars=settings.max_text_chars,
            max_text_bytes=settings.max_text_bytes,
            max_voice_bytes=settings.max_voice_bytes,
        )

    @classmethod
    def defaults(cls) -> Limits:
        return cls.from_settings(Settings.defaults())

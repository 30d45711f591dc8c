"""The request limits every way in enforces, read once from the settings."""

from __future__ import annotations

from dataclasses import dataclass, fields

from settings import Settings


@dataclass(frozen=True)
class Limits:
    """The settings the parsers enforce; their defaults live in `settings.py` only."""

    max_text_chars: int
    max_text_bytes: int
    max_voice_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(**{field.name: getattr(settings, field.name) for field in fields(cls)})

    @classmethod
    def defaults(cls) -> Limits:
        return cls.from_settings(Settings.defaults())

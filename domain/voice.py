"""Voices: the name rule and the metadata that makes a stored voice complete."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from domain.errors import InvalidVoiceName

DEFAULT_VOICE = "default"
MAX_NAME_LENGTH = 64
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def voice_name(raw: object) -> str:
    """Canonical voice name: `my-voice` and `my-voice.wav` name the same voice.

    Names are refused rather than sanitised, so nothing a client sends can be turned into
    a different key (or a path outside `voices/`). A leading dot is refused to keep names
    like `..` or hidden files out.
    """
    if not isinstance(raw, str):
        raise InvalidVoiceName("voice name must be a string")
    name = raw[:-4] if raw.lower().endswith(".wav") else raw
    if not name or len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise InvalidVoiceName(
            f"voice name must be 1-{MAX_NAME_LENGTH} letters, digits, '.', '_' or '-' and must not start with '.'"
        )
    return name


def audio_key(name: str) -> str:
    return f"voices/{name}.wav"


def metadata_key(name: str) -> str:
    return f"voices/{name}.json"


@dataclass(frozen=True)
class VoiceInfo:
    """What the store keeps beside a voice's audio; written last, it marks the voice complete."""

    name: str
    ref_text: str
    duration: float
    sample_rate: int
    sha256: str
    created_at: str
    model: str | None = None  # the model that speaks it when a job names none (TTS_MODELS)
    language: str | None = None  # how numbers are read when a job names none

    def to_json(self) -> bytes:
        """Unset optional fields are left out, so a voice reads the same to an older worker."""
        fields = {key: value for key, value in asdict(self).items() if value is not None}
        return json.dumps(fields, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> VoiceInfo:
        return cls.from_dict(json.loads(data))

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> VoiceInfo:
        return cls(
            name=str(raw["name"]),
            ref_text=str(raw["ref_text"]),
            duration=float(raw["duration"]),  # type: ignore[arg-type]
            sample_rate=int(raw["sample_rate"]),  # type: ignore[call-overload]
            sha256=str(raw["sha256"]),
            created_at=str(raw["created_at"]),
            model=str(raw["model"]) if raw.get("model") is not None else None,
            language=str(raw["language"]) if raw.get("language") is not None else None,
        )

    def public(self) -> dict[str, object]:
        """The fields a client sees in `upload` and `list_voices` answers."""
        shown: dict[str, object] = {
            "name": self.name,
            "duration": round(self.duration, 3),
            "ref_text": self.ref_text,
            "created_at": self.created_at,
        }
        return shown | {key: value for key, value in (("model", self.model), ("language", self.language)) if value}

"""The `default` voice: the English reference clip that ships inside the f5-tts package.

Located with `importlib.util.find_spec` so nothing of f5-tts is imported for it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from domain.errors import VoiceNotFound
from domain.voice_library import BuiltinVoice

DEFAULT_REF_TEXT = "Some call me nature, others call me mother nature."
_RELATIVE = Path("infer/examples/basic/basic_ref_en.wav")


def packaged_reference_path() -> Path | None:
    spec = importlib.util.find_spec("f5_tts")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / _RELATIVE
        if candidate.is_file():
            return candidate
    return None


def _read() -> bytes:
    path = packaged_reference_path()
    if path is None:
        raise VoiceNotFound("the built-in voice 'default' is missing: the f5-tts package is not installed")
    return path.read_bytes()


def default_voice() -> BuiltinVoice:
    return BuiltinVoice(ref_text=DEFAULT_REF_TEXT, load=_read)

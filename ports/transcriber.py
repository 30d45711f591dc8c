from __future__ import annotations

from typing import Protocol

from domain.audio import Audio


class Transcriber(Protocol):
    """Speech recognition, used once per uploaded voice that came without a transcript."""

    def transcribe(self, audio: Audio) -> str:
        """The words spoken in `audio`.

        Raises InvalidInput when no recogniser is available (the client should send
        `ref_text`), EngineError when recognition itself fails.
        """
        ...

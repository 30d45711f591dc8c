"""Transcriber stand-in: answers a fixed transcript and records what it heard; or, with
`unavailable` set, behaves as a worker whose recogniser cannot be loaded."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.audio import Audio
from domain.errors import InvalidInput


@dataclass
class FakeTranscriber:
    text: str = "This is a transcript of the uploaded voice."
    unavailable: str | None = None
    calls: list[Audio] = field(default_factory=list)

    def transcribe(self, audio: Audio) -> str:
        if self.unavailable is not None:
            raise InvalidInput(
                f"no speech recogniser available ({self.unavailable}); send ref_text with the voice", "ref_text"
            )
        self.calls.append(audio)
        return self.text.strip()

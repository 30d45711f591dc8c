"""Transcriber stand-in: answers a fixed transcript and records what it heard."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.audio import Audio


@dataclass
class FakeTranscriber:
    text: str = "This is a transcript of the uploaded voice."
    calls: list[Audio] = field(default_factory=list)

    def transcribe(self, audio: Audio) -> str:
        self.calls.append(audio)
        return self.text

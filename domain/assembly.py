"""Putting the engine's parts and the silences between them into one waveform, and timing
every segment of it exactly.

A layout lists, in output order, one `SpeechSlot` per engine item and the `SilenceSlot`s
between them (explicit pauses, and the short gap where the voice changes). Consecutive
speech of one voice is cross-faded as upstream F5-TTS does; across a pause or a voice
change nothing overlaps, so a pause is exactly its length of digital zeros.

Segment times come from sample counts, not estimates. Where two parts cross-fade, the
boundary is put in the middle of the overlap, so segments tile the output: each starts
where the previous ends, the first at 0 and the last at the output's end, and their
durations add up to the output's duration.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from domain.audio import Audio, CrossFader


@dataclass(frozen=True)
class SpeechSlot:
    """Where the next engine part goes; `fade_in` cross-fades it with the part before."""

    voice: str
    text: str
    fade_in: bool


@dataclass(frozen=True)
class SilenceSlot:
    seconds: float


Slot = SpeechSlot | SilenceSlot


@dataclass(frozen=True)
class TimedSegment:
    """A stretch of the output: speech (`voice`, the text spoken) or silence (`voice` None,
    empty text), `start`/`end` in seconds from the output's start."""

    voice: str | None
    text: str
    start: float
    end: float


class Assembler:
    """Takes the engine's parts in layout order and returns, after each, the samples that
    are final, so a stream can send them at once and the pieces concatenate to the whole.
    After the last part everything has been returned and `segments` is complete.
    `part_starts` (samples) says where each part begins in the output, cross-fade included,
    for anything that times words inside a part."""

    def __init__(self, layout: Sequence[Slot], cross_fade_seconds: float, sample_rate: int) -> None:
        if not any(isinstance(slot, SpeechSlot) for slot in layout):
            raise ValueError("a layout needs at least one speech slot")
        self._layout = list(layout)
        self._rate = sample_rate
        self._fader = CrossFader(cross_fade_seconds, sample_rate)
        self._overlap = max(0, int(cross_fade_seconds * sample_rate))
        self._next = 0  # index into the layout
        self._end = 0  # samples of output so far, the fader's held tail included
        self._bounds: list[list[int]] = []  # [start, end] in samples, per layout slot
        self.part_starts: list[int] = []  # output sample where each pushed part's first sample lands

    @property
    def segments(self) -> list[TimedSegment]:
        out = []
        for slot, (start, end) in zip(self._layout, self._bounds, strict=False):
            voice, text = (slot.voice, slot.text) if isinstance(slot, SpeechSlot) else (None, "")
            out.append(TimedSegment(voice, text, round(start / self._rate, 3), round(end / self._rate, 3)))
        return out

    def segment_start(self, slot: int) -> float:
        """Where layout slot `slot` (pushed already) starts, as `segments[slot].start` gives it,
        without building every segment: word timing asks once per part."""
        return round(self._bounds[slot][0] / self._rate, 3)

    def push(self, part: Audio) -> Audio:
        if part.sample_rate != self._rate:
            raise ValueError("cannot join audio of different sample rates")
        out = array("f")
        self._silences(out)
        if self._next >= len(self._layout):
            raise ValueError("more parts than the layout has speech slots")
        slot = self._layout[self._next]
        assert isinstance(slot, SpeechSlot)
        if slot.fade_in and self._fader.pending:
            overlap = min(self._overlap, self._fader.pending, part.num_samples)
            boundary = self._end - overlap + overlap // 2
            self._bounds[-1][1] = boundary
            start = boundary
            self.part_starts.append(self._end - overlap)
            self._end += part.num_samples - overlap
        else:
            out.extend(self._flush())
            start = self._end
            self.part_starts.append(self._end)
            self._end += part.num_samples
        pushed = self._fader.push(part).samples  # its own new array: taken as it is when nothing is before it
        if out:
            out.extend(pushed)
        else:
            out = pushed
        self._bounds.append([start, self._end])
        self._next += 1
        following = self._layout[self._next] if self._next < len(self._layout) else None
        if not (isinstance(following, SpeechSlot) and following.fade_in):
            out.extend(self._flush())
        self._silences(out)
        return Audio(out, self._rate)

    def _silences(self, out: array) -> None:
        """Silence slots from here to the next speech slot (or the end) are already final."""
        while self._next < len(self._layout) and isinstance(silence := self._layout[self._next], SilenceSlot):
            count = round(silence.seconds * self._rate)
            out.extend(array("f", bytes(4 * count)))
            self._bounds.append([self._end, self._end + count])
            self._end += count
            self._next += 1

    def _flush(self) -> array:
        return self._fader.finish().samples

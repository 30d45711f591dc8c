"""Captions (SubRip and WebVTT) from word timings, grouped into readable lines.

Written here rather than with a caption library so the domain stays standard-library only;
both formats are a few lines of text, and the tests read what this writes back with real
parsers (`srt`, `webvtt-py`). Lines follow common subtitle guidance: at most ~42 characters
and ~6 seconds, a new line after a sentence ends or where the speaker pauses.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from domain.word_timing import WordTiming

FORMATS = ("srt", "vtt")
CONTENT_TYPES = {"srt": "application/x-subrip", "vtt": "text/vtt"}
MAX_LINE_CHARS = 42
MAX_LINE_SECONDS = 6.0
PAUSE_SECONDS = 0.6
_SENTENCE_END = (".", "!", "?", "。", "！", "？", "…")
_CJK_START = 0x3000
_ARROW = re.compile(r"-{2,}>")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def _joined(words: Sequence[str]) -> str:
    """Words rejoined: a space between them, except around CJK characters. An arrow inside
    a word would read as a cue timing line, so every run of dashes before a `>` becomes one
    dash ("a--->b" -> "a->b"): no arrow is left, however many dashes it had."""
    out = ""
    for word in words:
        if out and not (ord(out[-1]) >= _CJK_START and ord(word[0]) >= _CJK_START):
            out += " "
        out += word
    return _ARROW.sub("->", out)


def _vtt_text(text: str) -> str:
    """Cue text as WebVTT reads it: `&`, `<` and `>` escaped, so a word like `<v Bob>`,
    `<c.red>` or `<script>` is shown as written rather than taken as cue markup."""
    return html.escape(text, quote=False)


def cues(words: Sequence[WordTiming]) -> list[Cue]:
    """Words grouped into caption lines, in order, each line's time from its first word's
    start to its last word's end."""
    out: list[Cue] = []
    line: list[WordTiming] = []
    for word in words:
        if line:
            text = _joined([w.word for w in line] + [word.word])
            too_long = len(text) > MAX_LINE_CHARS or word.end - line[0].start > MAX_LINE_SECONDS
            paused = word.start - line[-1].end >= PAUSE_SECONDS
            if too_long or paused or line[-1].word.endswith(_SENTENCE_END):
                out.append(Cue(line[0].start, line[-1].end, _joined([w.word for w in line])))
                line = []
        line.append(word)
    if line:
        out.append(Cue(line[0].start, line[-1].end, _joined([w.word for w in line])))
    return out


def _clock(seconds: float, decimal: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def render(words: Sequence[WordTiming], fmt: str) -> str:
    """The caption file's text in `fmt` ("srt" or "vtt")."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown caption format {fmt!r}")
    decimal = "," if fmt == "srt" else "."
    blocks = []
    for number, cue in enumerate(cues(words), start=1):
        timing = f"{_clock(cue.start, decimal)} --> {_clock(max(cue.end, cue.start), decimal)}"
        blocks.append(f"{number}\n{timing}\n{cue.text}\n" if fmt == "srt" else f"{timing}\n{_vtt_text(cue.text)}\n")
    body = "\n".join(blocks)
    return body if fmt == "srt" else "WEBVTT\n\n" + body

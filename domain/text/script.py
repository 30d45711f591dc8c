"""Tags in the text: pauses and voice changes, parsed into a script of speech and silence.

`[pause:1.5s]`, `[pause:300ms]` and SSML's `<break time="500ms"/>` insert exact silence;
`[voice:name]` switches the voice for the text that follows. A bracket that does not open
a tag (`[1]`, `[sic]`, `[note: see below]`, `[x:]`) is ordinary text; a bracket that does
must be a known, well-formed tag, so a typo is reported instead of being read aloud. A tag
opens with a known name and a colon, whatever spacing follows (`[pause: 1s]`), or with any
`[word:` directly followed by a value (`[speed:2]`, refused as unknown).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from domain.errors import InvalidInput
from domain.voice import voice_name

MAX_PAUSE_SECONDS = 10.0
KNOWN_TAGS = '[pause:1.5s], [pause:300ms], <break time="500ms"/> or [voice:name]'
MAX_QUOTED_CHARS = 40  # of a bad tag, in its error message: the message and the log never carry long text
_TAG_START = re.compile(r"\[(?:pause|voice)\s*:|\[[A-Za-z_]+:(?=[^\s\]])|<break\b", re.IGNORECASE)
_BRACKET = re.compile(r"\[([A-Za-z_]+)\s*:([^\]\[\n]*)\]")
_BREAK = re.compile(r"""<break\s+time\s*=\s*(["'])([^"'<>]*)\1\s*/?>""", re.IGNORECASE)
_DURATION = re.compile(r"(-?[0-9]+(?:\.[0-9]+)?)\s*(ms|s)", re.IGNORECASE)


@dataclass(frozen=True)
class VoiceText:
    """Text for one voice: a `segments` entry of a request, or the whole text in its voice."""

    voice: str
    text: str


@dataclass(frozen=True)
class Speech:
    """Text between tags, in one voice; `offset` is where it starts in its request text."""

    voice: str
    text: str
    offset: int


@dataclass(frozen=True)
class Pause:
    seconds: float


def parse_script(parts: list[VoiceText]) -> list[Speech | Pause]:
    """The speech and pauses of `parts` in order, tags resolved; InvalidInput names a bad
    tag, where it is (`text` or `segments[i].text`) and its character position there."""
    events = (event for index, part in enumerate(parts) for event in _events(part, _where(index, parts)))
    return [event for event in events if isinstance(event, Pause) or (isinstance(event, Speech) and event.text.strip())]


def named_voices(parts: list[VoiceText]) -> list[str]:
    """Every voice the parts name (their own and those of [voice:] tags), once each in order
    of mention: all are looked up before synthesis, even one that no text follows."""
    names = [part.voice for part in parts]
    names += [event for index, part in enumerate(parts) for event in _events(part, _where(index, parts))
              if isinstance(event, str)]  # fmt: skip
    return list(dict.fromkeys(names))


def _where(index: int, parts: list[VoiceText]) -> str:
    return "text" if len(parts) == 1 else f"segments[{index}].text"


def _events(part: VoiceText, where: str) -> Iterator[Speech | Pause | str]:
    """Speech, pauses and voice switches (the new voice's name) in order."""
    text, voice = part.text, part.voice
    position = 0
    for start in (m.start() for m in _TAG_START.finditer(text)):
        if start < position:
            continue
        if start > position:
            yield Speech(voice, text[position:start], position)
        tag, element = _tag_at(text, start, where)
        if isinstance(element, str):
            voice = element
        yield element
        position = start + len(tag)
    if position < len(text):
        yield Speech(voice, text[position:], position)


def _tag_at(text: str, start: int, where: str) -> tuple[str, Pause | str]:
    """The tag starting at `start` and what it means: a Pause or the new voice's name."""
    bracket = _BRACKET.match(text, start)
    ssml = _BREAK.match(text, start)
    if bracket is None and ssml is None:
        found = text[start : start + 24].split("\n")[0]
        problem = "malformed <break> tag" if found.lower().startswith("<break") else "unclosed tag"
        raise _bad(where, found, start, f"{problem}; write {KNOWN_TAGS}")
    if ssml is not None:
        return ssml.group(), _pause(ssml.group(2), ssml.group(), start, where)
    assert bracket is not None
    name, value = bracket.group(1).lower(), bracket.group(2).strip()
    if name == "pause":
        return bracket.group(), _pause(value, bracket.group(), start, where)
    if name == "voice":
        try:
            return bracket.group(), voice_name(value)
        except InvalidInput as exc:
            raise _bad(where, bracket.group(), start, exc.message) from None
    raise _bad(where, bracket.group(), start, f"unknown tag; use {KNOWN_TAGS}")


def _pause(value: str, tag: str, start: int, where: str) -> Pause:
    match = _DURATION.fullmatch(value.strip())
    if match is None:
        raise _bad(where, tag, start, "a pause is a number of seconds or milliseconds, like 1.5s or 300ms")
    seconds = float(match.group(1)) / (1000.0 if match.group(2).lower() == "ms" else 1.0)
    if not 0.0 <= seconds <= MAX_PAUSE_SECONDS:
        raise _bad(where, tag, start, f"a pause must be 0 to {MAX_PAUSE_SECONDS:g} seconds")
    return Pause(seconds)


def _bad(where: str, tag: str, start: int, problem: str) -> InvalidInput:
    shown = tag if len(tag) <= MAX_QUOTED_CHARS else tag[:MAX_QUOTED_CHARS] + "..."
    return InvalidInput(f"{where}: bad tag {shown!r} at position {start}: {problem}")

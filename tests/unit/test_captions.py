"""Captions written by the domain, read back with real caption parsers."""

from __future__ import annotations

import io
import itertools
from datetime import timedelta

import pytest
import srt
import webvtt

from domain.captions import MAX_LINE_CHARS, MAX_LINE_SECONDS, cues, render
from domain.word_timing import WordTiming


def _words(text: str, step: float = 0.4, gap: float = 0.05) -> list[WordTiming]:
    out, t = [], 0.0
    for word in text.split():
        out.append(WordTiming(word, t, t + step - gap))
        t += step
    return out


WORDS = _words(
    "Hello, world! This is a caption test with enough words to need several lines, "
    "because no line may be longer than forty-two characters. Done."
)


def test_srt_parses_and_keeps_every_word_in_order_and_time() -> None:
    subs = list(srt.parse(render(WORDS, "srt")))
    assert " ".join(s.content for s in subs).split() == [w.word for w in WORDS]
    assert subs[0].start == timedelta(0) and subs[-1].end == timedelta(seconds=round(WORDS[-1].end, 3))
    assert all(a.end <= b.start for a, b in itertools.pairwise(subs))
    assert [s.index for s in subs] == list(range(1, len(subs) + 1))


def test_vtt_parses_with_the_same_cues() -> None:
    captions = webvtt.from_buffer(io.StringIO(render(WORDS, "vtt")))
    expected = cues(WORDS)
    assert [c.text for c in captions] == [c.text for c in expected]
    assert [round(c.start_in_seconds + c.start_time.milliseconds / 1000, 3) for c in captions] == [
        round(c.start, 3) for c in expected
    ]


def test_lines_are_readable() -> None:
    lines = cues(WORDS)
    assert len(lines) > 3
    assert all(len(c.text) <= MAX_LINE_CHARS and c.end - c.start <= MAX_LINE_SECONDS for c in lines)
    assert lines[0].text == "Hello, world!"  # a sentence end closes the line


def test_a_pause_starts_a_new_line() -> None:
    words = [WordTiming("one", 0.0, 0.3), WordTiming("two", 0.35, 0.6), WordTiming("three", 2.0, 2.4)]
    assert [c.text for c in cues(words)] == ["one two", "three"]


def test_chinese_is_joined_without_spaces_and_hours_are_written() -> None:
    words = [WordTiming("你", 3600.0, 3600.2), WordTiming("好", 3600.2, 3600.5)]
    subs = list(srt.parse(render(words, "srt")))
    assert subs[0].content == "你好" and subs[0].start == timedelta(hours=1)


def test_an_arrow_inside_a_word_cannot_break_the_file() -> None:
    subs = list(srt.parse(render([WordTiming("a-->b", 0.0, 0.5)], "srt")))
    assert len(subs) == 1 and "-->" not in subs[0].content


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError):
        render(WORDS, "ass")

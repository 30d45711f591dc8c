"""Captions written by the domain, read back with real caption parsers."""

from __future__ import annotations

import html
import io
import itertools
import re
from datetime import timedelta

import pytest
import srt
import webvtt
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- injection (issue 32, item 5) ----------------------------------------------------------

_TIMING = re.compile(r"[0-9:.,]+ --> [0-9:.,]+")
HOSTILE = ["a--->b", "x---->", "<c.red>red</c>", "<v", "Bob>", "<script>alert(1)</script>", "&amp;", "-->", "1", "<b>"]


@pytest.mark.parametrize("word", HOSTILE)
def test_no_arrow_is_left_however_many_dashes(word: str) -> None:
    """One `replace` left "a-->b" of "a--->b", and webvtt-py then read that cue as empty."""
    words = [WordTiming(word, 0.0, 0.5), WordTiming("next.", 0.6, 0.9)]
    for fmt in ("srt", "vtt"):
        lines = [line for line in render(words, fmt).splitlines() if not _TIMING.fullmatch(line)]
        assert not any("-->" in line for line in lines)
    subs = list(srt.parse(render(words, "srt")))
    assert len(subs) == 1 and subs[0].content.split() == [cues(words)[0].text.split()[0], "next."]


def test_vtt_cue_text_is_escaped_and_reads_back_as_written() -> None:
    words = [
        WordTiming(w, i * 0.3, i * 0.3 + 0.2) for i, w in enumerate(["<v", "Bob>", "<c.red>x</c>", "&", "<script>"])
    ]
    captions = list(webvtt.from_buffer(io.StringIO(render(words, "vtt"))))
    assert len(captions) == 1
    assert "<" not in captions[0].raw_text and ">" not in captions[0].raw_text
    assert captions[0].voice is None  # "<v Bob>" was not taken for a voice span
    assert html.unescape(captions[0].raw_text) == "<v Bob> <c.red>x</c> & <script>" == cues(words)[0].text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="-<>&a.v\u4f60", min_size=1, max_size=12), min_size=1, max_size=30))
def test_arrows_and_markup_always_read_back_as_the_cues(words: list[str]) -> None:
    """Both parsers find exactly the cues written, each with its text, whatever the words hold."""
    timed = [WordTiming(w, i * 0.5, i * 0.5 + 0.4) for i, w in enumerate(words)]
    expected = cues(timed)
    assert all("-->" not in cue.text for cue in expected)
    subs = list(srt.parse(render(timed, "srt")))
    assert [s.content for s in subs] == [cue.text for cue in expected]
    captions = list(webvtt.from_buffer(io.StringIO(render(timed, "vtt"))))
    assert [html.unescape(c.raw_text) for c in captions] == [cue.text for cue in expected]

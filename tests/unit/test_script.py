"""Pause and voice tags: what they mean, and the errors a bad one gets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.text.script import MAX_QUOTED_CHARS, Pause, Speech, VoiceText, named_voices, parse_script


def script(text: str, voice: str = "default"):
    return parse_script([VoiceText(voice, text)])


def test_pauses_in_seconds_milliseconds_and_ssml():
    assert script("One [pause:1.5s] two [pause:300ms] three <break time=\"500ms\"/> four <BREAK time='2s' >") == [
        Speech("default", "One ", 0),
        Pause(1.5),
        Speech("default", " two ", 16),
        Pause(0.3),
        Speech("default", " three ", 34),
        Pause(0.5),
        Speech("default", " four ", 62),
        Pause(2.0),
    ]


def test_a_voice_tag_switches_the_voice_for_what_follows():
    assert script("Hi. [voice:bob.wav] Hello. [Voice:anna] Hey.", "carl") == [
        Speech("carl", "Hi. ", 0),
        Speech("bob", " Hello. ", 19),
        Speech("anna", " Hey.", 39),
    ]


def test_every_named_voice_is_listed_once_even_one_that_no_text_follows():
    parts = [VoiceText("anna", "Hi. [voice:bob] Yo. [voice:anna] Hm."), VoiceText("carl", "Bye. [voice:dora]")]
    assert named_voices(parts) == ["anna", "carl", "bob", "dora"]


def test_segments_each_start_in_their_own_voice_and_may_hold_tags():
    parts = [VoiceText("anna", "Hi Bob."), VoiceText("bob", "[pause:1s] Hi Anna. [voice:carl] Me too.")]
    assert parse_script(parts) == [
        Speech("anna", "Hi Bob.", 0),
        Pause(1.0),
        Speech("bob", " Hi Anna. ", 10),
        Speech("carl", " Me too.", 32),
    ]


@pytest.mark.parametrize(
    "text",
    ["Footnote [1] and [sic] stay.", "A [note: see below] too.", "x < y > z", "[10:30]", "a[b", "[", "<br/>", "[x:]",
     "An empty [x:] and [note:] stay.", "[speed: 2] has a space, so it is text"],
)  # fmt: skip
def test_brackets_that_open_no_tag_are_ordinary_text(text):
    assert script(text) == [Speech("default", text, 0)]


@pytest.mark.parametrize(
    ("text", "tag", "position", "problem"),
    [
        ("Wait [pause:1s and go", "[pause:1s and go", 5, "unclosed tag"),
        ("Go [speed:2] now", "[speed:2]", 3, "unknown tag"),
        ("Go [pause:-1s] now", "[pause:-1s]", 3, "0 to 10 seconds"),
        ("Go [pause:11s] now", "[pause:11s]", 3, "0 to 10 seconds"),
        ("Go [pause:99999ms] now", "[pause:99999ms]", 3, "0 to 10 seconds"),
        ("Go [pause:soon] now", "[pause:soon]", 3, "seconds or milliseconds"),
        ("Go [pause:5] now", "[pause:5]", 3, "seconds or milliseconds"),
        ("Hi [voice:../etc/passwd] there", "[voice:../etc/passwd]", 3, "voice name"),
        ("Hi [voice:a b] there", "[voice:a b]", 3, "voice name"),
        ('Hi <break time="1s" there', '<break time="1s" there', 3, "malformed <break> tag"),
        ('Hi <break time="20s"/>', '<break time="20s"/>', 3, "0 to 10 seconds"),
    ],
)
def test_bad_tags_are_invalid_input_naming_the_tag_and_its_position(text, tag, position, problem):
    with pytest.raises(InvalidInput) as caught:
        script(text)
    message = str(caught.value)
    assert message.startswith("invalid_input: text: bad tag ")
    assert repr(tag) in message and f"at position {position}" in message and problem in message


@pytest.mark.parametrize("tag", ["[pause: 1s]", "[pause:  1s]", "[Pause : 1s]", "[PAUSE:1s]", "[pause:\t1s]"])
def test_a_known_tag_may_have_spaces_after_its_colon(tag):
    """`[pause: 1s]` was read aloud ("pause one second") because only `[word:value` opened a tag."""
    expected = [Speech("default", "Wait ", 0), Pause(1.0), Speech("default", " go", 5 + len(tag))]
    assert script(f"Wait {tag} go") == expected


def test_a_voice_tag_may_have_a_space_after_its_colon():
    assert script("Hi [voice: bob] there") == [Speech("default", "Hi ", 0), Speech("bob", " there", 15)]


@pytest.mark.parametrize("tag", ["[pause:]", "[pause: ]", "[voice: ]"])
def test_a_known_tag_with_no_value_is_refused(tag):
    with pytest.raises(InvalidInput, match="bad tag"):
        script(f"a {tag} b")


@pytest.mark.parametrize(
    "tag", ["[pause:" + "1" * 5000 + "s]", "[voice:" + "a" * 5000 + "]", "[speed:" + "9" * 5000 + "]",
            "[pause:1s " + "x" * 5000, '<break time="' + "1" * 5000 + 's"/>']
)  # fmt: skip
def test_a_huge_bad_tag_is_quoted_only_in_part(tag):
    """The message (and so the log) quoted a 5,000-digit pause whole."""
    with pytest.raises(InvalidInput) as caught:
        script("Go " + tag + " now")
    message = str(caught.value)
    assert "at position 3" in message
    quoted = message.split("bad tag ", 1)[1].split(" at position")[0]
    assert len(quoted) <= MAX_QUOTED_CHARS + 5 and len(message) < 400


def test_a_bad_tag_in_a_segment_names_the_segment():
    with pytest.raises(InvalidInput, match=r"segments\[1\]\.text: bad tag '\[pause:x\]' at position 0"):
        parse_script([VoiceText("a", "fine"), VoiceText("b", "[pause:x]")])


@given(st.text(alphabet=st.characters(exclude_characters="[<"), min_size=1))
def test_text_without_tags_is_one_speech_as_written(text):
    expected = [Speech("v", text, 0)] if text.strip() else []
    assert script(text, "v") == expected


@given(st.lists(st.floats(min_value=0, max_value=10, allow_nan=False).map(lambda x: round(x, 3)), max_size=5))
def test_every_pause_is_kept_in_order(seconds):
    text = " word ".join(f"[pause:{s}s]" for s in seconds) + " end"
    pauses = [part.seconds for part in script(text) if isinstance(part, Pause)]
    assert pauses == pytest.approx(seconds)

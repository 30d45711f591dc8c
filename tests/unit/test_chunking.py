import re

from hypothesis import given
from hypothesis import strategies as st

from domain.chunking import chunk_budget, normalize_text, split_text

texts = st.text(
    alphabet=st.sampled_from(list("abc xyz ÄÖ漢字。，！？ ,.!?;:\n\t")) | st.characters(codec="utf-8"),
    max_size=600,
)


@given(texts, st.integers(min_value=4, max_value=300))
def test_chunks_rejoin_to_the_normalized_text(text, limit):
    assert "".join(split_text(text, limit)) == normalize_text(text)


@given(texts, st.integers(min_value=4, max_value=300))
def test_every_chunk_is_within_the_budget_and_not_blank(text, limit):
    for chunk in split_text(text, limit):
        assert chunk.strip()
        assert len(chunk.strip().encode("utf-8")) <= limit


@given(st.lists(st.from_regex(r"[a-z]{1,12}", fullmatch=True), min_size=1, max_size=80), st.integers(12, 200))
def test_words_are_never_cut_when_each_fits(words, limit):
    chunks = split_text(" ".join(words), limit)
    assert [w for chunk in chunks for w in chunk.split()] == words


def test_sentences_are_kept_together_when_they_fit():
    text = "First sentence here. Second one follows! A third? Yes."
    assert split_text(text, 25) == ["First sentence here. ", "Second one follows! ", "A third? Yes."]


def test_cjk_splits_after_cjk_punctuation():
    assert split_text("你好。今天天气很好！", 21) == ["你好。", "今天天气很好！"]


def test_whitespace_is_collapsed():
    assert normalize_text("  a\n\n b\t c  ") == "a b c"
    assert split_text("   ", 10) == []


def test_budget_follows_upstream_rule():
    # upstream: bytes(ref_text) / ref_seconds * (22 - ref_seconds) * speed
    assert chunk_budget("x" * 50, 5.0, 1.0) == int(50 / 5.0 * 17.0)
    assert chunk_budget("x" * 50, 5.0, 2.0) == int(50 / 5.0 * 17.0 * 2)


def test_a_word_longer_than_the_budget_is_cut_alone():
    chunks = split_text("short " + "x" * 30 + " end", 10)
    assert all(len(c.strip()) <= 10 for c in chunks)
    assert re.sub(" ", "", "".join(chunks)) == "short" + "x" * 30 + "end"


@given(texts, st.integers(min_value=4, max_value=300), st.integers(min_value=4, max_value=80))
def test_a_short_first_chunk_keeps_every_property(text, limit, first):
    chunks = split_text(text, limit, first_max_bytes=first)
    assert "".join(chunks) == normalize_text(text)
    for index, chunk in enumerate(chunks):
        assert chunk.strip()
        assert len(chunk.strip().encode("utf-8")) <= (min(first, limit) if index == 0 else limit)

"""Word-timing bookkeeping: which words each chunk speaks, where chunks sit in the output."""

from __future__ import annotations

import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.chinese_numbers import ChineseNumbers
from adapters.english_numbers import EnglishNumbers
from domain.chunking import normalize_text, split_text
from domain.text.normalize import TextNormalizer
from domain.text.spoken import SpokenText
from domain.word_timing import ChunkWords, Token, WordClock, WordSpan, chunk_words, spoken_tokens, trace_to_written


def test_spoken_tokens_are_written_words_with_their_punctuation() -> None:
    words = [t.text for t in spoken_tokens("Hello, world! — It costs $4.50... 你好，世界。 ok")]
    assert words == ["Hello,", "world!", "It", "costs", "$4.50...", "你", "好，", "世", "界。", "ok"]


def test_each_chunk_gets_its_words_and_a_cut_word_is_in_both() -> None:
    text = "One two. Supercalifragilistic end"
    tokens, chunks = chunk_words(text, ["One two.", "Supercali", "fragilistic end"])
    assert [t.text for t in tokens] == ["One", "two.", "Supercalifragilistic", "end"]
    assert [c.indices for c in chunks] == [(0, 1), (2,), (2, 3)]
    assert chunks[2].pieces == ("fragilistic", "end")


@settings(deadline=None)  # a shared CPU: timing is the benchmarks' business
@given(st.lists(st.integers(min_value=200, max_value=3000), min_size=1, max_size=5), st.data())
def test_words_are_ordered_non_overlapping_and_inside_their_segment(lengths: list[int], data) -> None:
    """Whatever the aligner answers, each word lands inside its chunk's segment, in order."""
    texts = [f"chunk{n} has some words" for n in range(len(lengths))]
    text = " ".join(texts)
    tokens, chunks = chunk_words(text, texts)
    clock = WordClock(tokens, chunks)
    words, offset = [], 0.0
    for chunk, n in zip(chunks, lengths, strict=True):
        seconds = n / 1000
        bounds = sorted(data.draw(st.lists(st.floats(0, seconds), min_size=2 * len(chunk.pieces),
                                           max_size=2 * len(chunk.pieces))))  # fmt: skip
        spans = [WordSpan(bounds[2 * i], bounds[2 * i + 1]) for i in range(len(chunk.pieces))]
        start, end = offset + 0.05, offset + seconds - 0.05  # a cross-fade trims both ends
        got = clock.add(spans, offset, start, end)
        assert all(start - 1e-9 <= w.start <= w.end <= end + 1e-9 for w in got)
        words.extend(got)
        offset += seconds - 0.1
    assert [w.word for w in words] == [t.text for t in tokens]
    assert all(a.end <= b.start for a, b in itertools.pairwise(words))


def test_a_word_cut_across_chunks_comes_with_the_chunk_that_ends_it() -> None:
    tokens, chunks = chunk_words("ab cdefgh ij", ["ab cde", "fgh ij"])
    clock = WordClock(tokens, chunks)
    first = clock.add([WordSpan(0.1, 0.3), WordSpan(0.5, 0.9)], 0.0, 0.0, 1.0)
    second = clock.add([WordSpan(0.0, 0.2), WordSpan(0.4, 0.6)], 1.0, 1.0, 2.0)
    assert [(w.word, w.start, w.end) for w in first] == [("ab", 0.1, 0.3)]
    assert [(w.word, round(w.start, 3), round(w.end, 3)) for w in second] == [("cdefgh", 0.5, 1.2), ("ij", 1.4, 1.6)]


def test_written_words_span_everything_said_for_them() -> None:
    """ "$4.50" said as four words is one written word from the first to the last."""
    from domain.text.spoken import SpokenPiece

    written = "Pay $4.50 now"
    pieces = [SpokenPiece(0, 3, "Pay", "Pay"), SpokenPiece(3, 4, " ", " "),
              SpokenPiece(4, 9, "$4.50", "four dollars fifty cents"), SpokenPiece(9, 10, " ", " "),
              SpokenPiece(10, 13, "now", "now")]  # fmt: skip
    spoken = "".join(p.spoken for p in pieces)
    tokens, chunks = chunk_words(spoken, [spoken])
    words, owners = trace_to_written(spoken, pieces, tokens, written)
    assert [w.text for w in words] == ["Pay", "$4.50", "now"]
    assert owners == [(0,), (1,), (1,), (1,), (1,), (2,)]
    clock = WordClock(tokens, chunks, words, owners)
    spans = [WordSpan(i, i + 0.5) for i in range(6)]
    timed = clock.add(spans, 0.0, 0.0, 10.0)
    assert [(w.word, w.start, w.end) for w in timed] == [("Pay", 0, 0.5), ("$4.50", 1, 4.5), ("now", 5, 5.5)]


def test_chunk_words_matches_the_planner_on_real_chunking() -> None:
    text = "First sentence here.   Second one,\n with a newline! " + "word " * 60
    chunks = [c.strip() for c in split_text(text, 80, 30)]
    tokens, per_chunk = chunk_words(normalize_text(text), chunks)
    assert len(tokens) == len(text.split())
    assert sorted({i for c in per_chunk for i in c.indices}) == list(range(len(tokens)))


# --- the linear bookkeeping gives what the plain definitions give (issue 32, item 1) ---------

_normalize = TextNormalizer(EnglishNumbers(), ChineseNumbers())
_texts = st.lists(
    st.sampled_from(["Pay", "$4.50", "now", "0/0.io", "第3名", "你好", "1/2", "https://a.io/1", "St.", "Dr.", "a--->b",
                     "  ", " ", "\n", "555-0142", "1" * 40, "x" * 90, "-", "1st", "&", ".5"]),
    min_size=1, max_size=25,
).map(" ".join)  # fmt: skip


def _plain_chunk_words(text: str, chunks: list[str]) -> list[ChunkWords]:
    """Every token checked against every chunk: what chunk_words answers, by definition."""
    tokens, out, cursor = spoken_tokens(text), [], 0
    for chunk in chunks:
        start = text.index(chunk, cursor) if chunk else cursor
        end = cursor = start + len(chunk)
        hits = [(i, t) for i, t in enumerate(tokens) if max(t.start, start) < min(t.end, end)]
        out.append(
            ChunkWords(tuple(i for i, _ in hits), tuple(text[max(t.start, start) : min(t.end, end)] for _, t in hits))
        )
    return out


def _plain_owners(spoken: SpokenText, tokens: list[Token], written_text: str, offset: int) -> list[tuple[int, ...]]:
    """Each spoken token's written words, character by character: a rewritten piece owns every
    written word it overlaps, a piece said as written the word at the same place."""
    written = spoken_tokens(written_text)
    at = {p: i for i, w in enumerate(written) for p in range(w.start, w.end)}
    by_position = [(piece, inside) for piece in spoken.pieces for inside in range(len(piece.spoken))]
    kept = [i for m in re.finditer(r"\S+", spoken.text) for i in (*range(m.start(), m.end()), -1)][:-1]
    owners = []
    for token in tokens:
        found = set()
        for position in (p for p in kept[token.start : token.end] if p >= 0):
            piece, inside = by_position[position]
            lo = piece.start - offset
            span = range(lo + inside, lo + inside + 1) if not piece.rewritten else range(lo, piece.end - offset)
            found.update(at[p] for p in span if p in at)
        owners.append(tuple(sorted(found)))
    return owners


@settings(deadline=None, max_examples=150)
@given(_texts, st.integers(min_value=8, max_value=120), st.integers(min_value=0, max_value=50))
def test_chunk_words_and_tracing_match_their_plain_definitions(text: str, budget: int, offset: int) -> None:
    spoken = _normalize(text, offset)
    chunks = [c.strip() for c in split_text(spoken.text, budget)]
    tokens, per_chunk = chunk_words(normalize_text(spoken.text), chunks)
    assert per_chunk == _plain_chunk_words(normalize_text(spoken.text), chunks)
    written, owners = trace_to_written(spoken.text, spoken.pieces, tokens, text, offset)
    assert written == spoken_tokens(text)
    assert owners == _plain_owners(spoken, tokens, text, offset)

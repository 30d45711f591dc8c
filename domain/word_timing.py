"""Word timestamps of a spoken answer, assembled from per-chunk forced alignment.

The worker knows exactly what it spoke, so timing is forced alignment, not recognition:
each engine chunk's audio is aligned to that chunk's words, and the spans are moved to
where the chunk sits in the cross-faded output. This module does the bookkeeping (which
words each chunk speaks, where each chunk starts in the output, and the rules every answer
keeps: one entry per written word, in order, non-overlapping, inside its chunk's audio);
the acoustic part is behind the Aligner port.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from domain.audio import Audio
from domain.text.spoken import SpokenPiece

# One CJK character (with the punctuation that follows it) is one word: Chinese and
# Japanese text has no spaces between words.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}][^\s\w{_CJK}]*|[^\s{_CJK}]+")


@dataclass(frozen=True)
class WordSpan:
    """Seconds from the start of one aligned clip."""

    start: float
    end: float


@dataclass(frozen=True)
class WordTiming:
    """A word as the user wrote it and where it is spoken, in seconds of the output."""

    word: str
    start: float
    end: float

    def public(self) -> dict[str, object]:
        return {"word": self.word, "start": round(self.start, 3), "end": round(self.end, 3)}


@dataclass(frozen=True, eq=False)
class AlignmentItem:
    """One clip and the words spoken in it, in order; the aligner answers one span per word."""

    audio: Audio
    words: tuple[str, ...]


@dataclass(frozen=True)
class Token:
    """A written word: its text and its character range in the text it came from."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class ChunkWords:
    """What one engine chunk speaks: `pieces[i]` is the part of word `indices[i]` inside the
    chunk (a whole word, unless the chunker had to cut an over-long word)."""

    indices: tuple[int, ...]
    pieces: tuple[str, ...]


def spoken_tokens(text: str) -> list[Token]:
    """The words of `text` that are spoken: whitespace-separated runs (each CJK character on
    its own) that hold at least one letter or digit. Punctuation stays attached to its word
    ("world!"); a lone dash or ellipsis is not a word."""
    return [
        Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text) if any(char.isalnum() for char in m.group())
    ]


def chunk_words(text: str, chunks: Sequence[str]) -> tuple[list[Token], list[ChunkWords]]:
    """The words of `text` and, for each chunk, the words (or word pieces) it speaks.

    `chunks` are consecutive, non-overlapping slices of `text` in order, each possibly with
    surrounding whitespace removed (as the planner strips them)."""
    tokens = spoken_tokens(text)
    out: list[ChunkWords] = []
    cursor = first = 0  # tokens are in order: each chunk's scan starts at the first one not yet behind it
    for chunk in chunks:
        start = text.index(chunk, cursor) if chunk else cursor
        end = start + len(chunk)
        cursor = end
        while first < len(tokens) and tokens[first].end <= start:
            first += 1
        indices, pieces = [], []
        for index in range(first, len(tokens)):
            token = tokens[index]
            if token.start >= end:
                break
            indices.append(index)
            pieces.append(text[max(token.start, start) : min(token.end, end)])
        out.append(ChunkWords(tuple(indices), tuple(pieces)))
    return tokens, out


def trace_to_written(
    spoken_text: str, pieces: Sequence[SpokenPiece], tokens: Sequence[Token], written_text: str, offset: int = 0
) -> tuple[list[Token], list[tuple[int, ...]]]:
    """The written words of `written_text` and, for each spoken token (of
    `normalize_text(spoken_text)`, as `chunk_words` gives them), the written words it was
    said for: "four", "dollars", "fifty", "cents" all trace to "$4.50". Inside a piece said as
    written, a token traces to the word at the same place ("你" of "你好" to "你").

    `pieces` are the normaliser's, in order: their spoken texts join to `spoken_text` and
    each `written_text[piece.start - offset:piece.end - offset]` is what it was said for
    (`offset`: where `written_text` starts in the request's text)."""
    written = spoken_tokens(written_text)
    written_at = [-1] * (len(written_text) + 1)  # written position -> its word, -1 between words
    for index, token in enumerate(written):
        written_at[token.start : token.end] = [index] * (token.end - token.start)
    # A rewritten piece is said for every written word it overlaps: one range per piece,
    # found once, so a long piece costs its length once rather than once per spoken character.
    spans: list[range] = []
    rewritten = [piece.rewritten for piece in pieces]
    word = 0
    for piece in pieces:
        start, end = piece.start - offset, piece.end - offset
        while word < len(written) and written[word].end <= start:
            word += 1
        last = word
        while last < len(written) and written[last].start < end:
            last += 1
        spans.append(range(word, last))
    # normalised position -> (piece, position inside its spoken text); spaces map to nothing
    piece_of: list[tuple[int, int]] = []
    for number, piece in enumerate(pieces):
        piece_of.extend((number, inside) for inside in range(len(piece.spoken)))
    kept = [i for match in re.finditer(r"\S+", spoken_text) for i in (*range(match.start(), match.end()), -1)][:-1]
    owners: list[tuple[int, ...]] = []
    for token in tokens:
        found: set[int] = set()
        seen = -1  # the rewritten piece whose words are already in `found`
        for position in kept[token.start : token.end]:
            if position < 0:
                continue
            number, inside = piece_of[position]
            if not rewritten[number]:
                at = written_at[pieces[number].start - offset + inside]
                if at >= 0:
                    found.add(at)
            elif number != seen:
                found.update(spans[number])
                seen = number
        owners.append(tuple(sorted(found)))
    return written, owners


class WordClock:
    """Turns per-chunk alignments into word timings in seconds of the joined output, chunk
    by chunk in order, so a streamed answer carries each chunk's words with that chunk.

    Alignment times the spoken tokens; the answer times the written words. A spoken token
    cut across chunks runs from its first piece's start to its last piece's end; a written
    word runs from the first to the last spoken token said for it ("$4.50" from "four" to
    "cents"), and a spoken token said for several written words is shared out between them
    in order. A word is given out with the chunk that completes it. Each spoken token is
    kept inside its chunk's segment of the output, and every word after the one before it (a
    cross-fade lets neighbouring chunks overlap), so the list is in order and non-overlapping."""

    def __init__(
        self,
        tokens: Sequence[Token],
        chunks: Sequence[ChunkWords],
        written: Sequence[Token] | None = None,
        owners: Sequence[tuple[int, ...]] | None = None,
    ) -> None:
        self._tokens = list(tokens)
        self._chunks = list(chunks)
        self._written = list(written) if written is not None else list(tokens)
        self._owners = list(owners) if owners is not None else [(i,) for i in range(len(tokens))]
        self._added = 0
        self._first: dict[int, float] = {}
        self._last: dict[int, tuple[float, float]] = {}
        self._done_after = {index: c for c, chunk in enumerate(chunks) for index in chunk.indices}
        self._last_owner = [-1] * len(self._written)
        for index, owned in enumerate(self._owners):
            for word in owned:
                self._last_owner[word] = max(self._last_owner[word], index)
        self._bounds: dict[int, tuple[float, float]] = {}
        self._next = 0  # next spoken token to time
        self._next_word = 0  # next written word to give out
        self._previous = 0.0

    def add(self, spans: Sequence[WordSpan], offset: float, start: float, end: float) -> list[WordTiming]:
        """The next chunk's word spans (one per piece, seconds from the chunk's first sample),
        where that first sample lands in the output (`offset`) and the chunk's segment of the
        output (`start`..`end`); returns the words it completes."""
        chunk = self._chunks[self._added]
        if len(spans) != len(chunk.pieces):
            raise ValueError("the aligner must answer one span per word")
        self._added += 1
        for index, span in zip(chunk.indices, spans, strict=True):
            first = min(max(offset + span.start, start), end)
            self._first.setdefault(index, first)
            self._last[index] = (min(max(offset + span.end, first), end), end)
        while self._next < len(self._tokens) and self._done_after[self._next] < self._added:
            self._share(self._next, self._first[self._next], self._last[self._next][0])
            self._next += 1
        return self._completed()

    def _share(self, token: int, start: float, end: float) -> None:
        owned = self._owners[token]
        for j, word in enumerate(owned):
            lo = start + (end - start) * j / len(owned)
            hi = start + (end - start) * (j + 1) / len(owned)
            old = self._bounds.get(word)
            self._bounds[word] = (min(old[0], lo), max(old[1], hi)) if old else (lo, hi)

    def _completed(self) -> list[WordTiming]:
        out = []
        while self._next_word < len(self._written) and self._last_owner[self._next_word] < self._next:
            start, end = self._bounds.get(self._next_word, (self._previous, self._previous))
            start = max(start, self._previous)
            end = max(end, start)
            out.append(WordTiming(self._written[self._next_word].text, start, end))
            self._previous = end
            self._next_word += 1
        return out

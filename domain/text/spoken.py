"""What is said for a written text, piece by piece, so every spoken word can be traced back.

Normalisation rewrites "$4.50" as "four dollars fifty cents". Word timestamps and captions
(which time words of the *spoken* text) must still be able to show the client the token it
wrote, so the normaliser returns this mapping rather than a bare string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\s+|\S+")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class SpokenPiece:
    """One stretch of the written text and what is said for it.

    `start`/`end` are character offsets of `written` in the request's text (tags included),
    so `request_text[start:end] == written`. A piece that is not rewritten has
    `spoken == written`; whitespace between tokens is a piece of its own.
    """

    start: int
    end: int
    written: str
    spoken: str

    @property
    def rewritten(self) -> bool:
        return self.spoken != self.written


@dataclass(frozen=True)
class SpokenText:
    """A written text as pieces in their original order.

    Invariants (checked by the tests): the pieces are contiguous, `written` is the joined
    written pieces, `text` the joined spoken ones, and `words()` gives the words of `text.split()` in
    order, each with its written pieces, so a consumer that times the words of `text`
    (after any whitespace collapsing) can find each word's written token.
    """

    pieces: tuple[SpokenPiece, ...]

    @property
    def written(self) -> str:
        return "".join(piece.written for piece in self.pieces)

    @property
    def text(self) -> str:
        return "".join(piece.spoken for piece in self.pieces)

    def words(self) -> list[tuple[str, tuple[SpokenPiece, ...]]]:
        """Each spoken word, as `text.split()` gives them, with the written pieces it was
        said for: "Pay $4.50" gives ("Pay", (p0,)), ("four", (p2,)), ("dollars", (p2,)), ...
        with p2.written == "$4.50". A word can span pieces where Chinese is written without
        spaces ("第3名" is one word said for "第", "3" and "名")."""
        out: list[tuple[str, tuple[SpokenPiece, ...]]] = []
        spans: list[tuple[int, int, SpokenPiece]] = []
        position = 0
        for piece in self.pieces:
            spans.append((position, position + len(piece.spoken), piece))
            position += len(piece.spoken)
        index = 0
        for match in _WORD.finditer(self.text):
            while spans[index][1] <= match.start():
                index += 1
            covering = []
            for start, end, piece in spans[index:]:
                if start >= match.end():
                    break
                if end > start:
                    covering.append(piece)
            out.append((match.group(), tuple(covering)))
        return out

    @classmethod
    def verbatim(cls, text: str, offset: int = 0) -> SpokenText:
        """The text said as written (normalisation off), one piece per word and per space run."""
        return cls(tuple(plain_pieces(text, offset)))


def plain_pieces(text: str, offset: int = 0) -> list[SpokenPiece]:
    """Unchanged pieces for `text`: one per word and one per run of whitespace."""
    return [SpokenPiece(offset + m.start(), offset + m.end(), m.group(), m.group()) for m in _TOKEN.finditer(text)]

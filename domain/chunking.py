"""Splitting long text into chunks the model can speak, without cutting words.

F5-TTS conditions on reference audio + text and generates up to ~22 s per forward pass,
so long text is split at sentence and clause boundaries, packed greedily up to a budget
measured in UTF-8 bytes (the unit upstream's duration rule uses).
"""

from __future__ import annotations

import re

# Split after sentence/clause punctuation followed by a space, or after CJK punctuation.
_SENTENCE_END = re.compile(r"(?<=[;:,.!?])(?= )|(?<=[；：，。！？])")
_WHITESPACE = re.compile(r"\s+")
MAX_SECONDS_PER_CHUNK = 22.0
MIN_BUDGET = 4  # one UTF-8 character of any width always fits


def normalize_text(text: str) -> str:
    """Collapse every run of whitespace (newlines, tabs) into one space and trim."""
    return _WHITESPACE.sub(" ", text).strip()


def _nbytes(text: str) -> int:
    return len(text.strip().encode("utf-8"))


def _pieces(text: str) -> list[str]:
    """Sentences, each keeping the whitespace that follows it, so pieces rejoin exactly."""
    out: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        while end < len(text) and text[end] == " ":
            end += 1
        if end > start:
            out.append(text[start:end])
            start = end
    if start < len(text):
        out.append(text[start:])
    return out


def _split_long(piece: str, limit: int) -> list[str]:
    """Split one over-long sentence at spaces; only a single word over the limit is cut."""
    words = re.findall(r"\S+ *", piece)
    out: list[str] = []
    current = ""
    for word in words:
        if _nbytes(word) > limit:
            if current:
                out.append(current)
                current = ""
            out.extend(_split_word(word, limit))
        elif _nbytes(current + word) <= limit:
            current += word
        else:
            out.append(current)
            current = word
    if current:
        out.append(current)
    return out


def _split_word(word: str, limit: int) -> list[str]:
    out: list[str] = []
    current = ""
    for char in word:
        if current and _nbytes(current + char) > limit:
            out.append(current)
            current = ""
        current += char
    if current:
        out.append(current)
    return out


def split_text(text: str, max_bytes: int, first_max_bytes: int | None = None) -> list[str]:
    """Chunks of the normalized text: `"".join(chunks) == normalize_text(text)`.

    Each chunk, stripped, is at most `max_bytes` UTF-8 bytes (for `max_bytes` of at least
    MIN_BUDGET, since a character is never split); boundaries fall after punctuation where
    possible, else between words, and inside a word only when that word alone is longer
    than the budget. `first_max_bytes` caps the first chunk alone: streaming speaks a short
    first chunk so the first audio comes early.
    """
    if max_bytes < 1 or (first_max_bytes is not None and first_max_bytes < 1):
        raise ValueError("budgets must be positive")
    normalized = normalize_text(text)
    if first_max_bytes is None or first_max_bytes >= max_bytes:
        return _pack(normalized, max_bytes)
    head = _pack(normalized, first_max_bytes)[:1]
    if not head:
        return []
    return head + _pack(normalized[len(head[0]) :], max_bytes)


def _pack(normalized: str, max_bytes: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for piece in _pieces(normalized):
        if _nbytes(current + piece) <= max_bytes:
            current += piece
            continue
        if current:
            chunks.append(current)
            current = ""
        if _nbytes(piece) <= max_bytes:
            current = piece
        else:
            *full, current = _split_long(piece, max_bytes)
            chunks.extend(full)
    if current:
        chunks.append(current)
    return chunks


def chunk_budget(ref_text: str, ref_seconds: float, speed: float) -> int:
    """Upstream's per-chunk budget: as many bytes as fit in ~22 s together with the reference."""
    ref_bytes = max(1, len(ref_text.encode("utf-8")))
    room = max(MAX_SECONDS_PER_CHUNK - ref_seconds, 1.0)
    return max(MIN_BUDGET, int(ref_bytes / max(ref_seconds, 1e-3) * room * speed))

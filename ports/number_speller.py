from __future__ import annotations

from typing import Protocol


class NumberSpeller(Protocol):
    """One language's number grammar: how numbers are said in words.

    Only the grammar sits behind this port (libraries such as num2words and cn2an know it);
    finding numbers in text, and the words around them (units, currencies, "percent"), is
    the domain's text normaliser. Every method returns words only, never a digit, and
    raises nothing for inputs of the documented shape.
    """

    def number(self, text: str) -> str:
        """A number written as `-?\\d+(\\.\\d+)?` with at most 15 integer digits (no grouping
        commas, no leading zeros): "-3.5" -> "minus three point five"."""
        ...

    def ordinal(self, value: int) -> str:
        """A positive integer as an ordinal: 3 -> "third"."""
        ...

    def year(self, value: int) -> str:
        """A year from 1 to 9999 the way years are read: 1998 -> "nineteen ninety-eight"."""
        ...

    def digits(self, text: str) -> str:
        """A string of digits read one by one, space-separated where the language uses
        spaces: "0138" -> "zero one three eight"."""
        ...

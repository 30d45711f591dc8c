"""English number words from num2words (a well-kept grammar for cardinals, ordinals and
years).

Two adjustments: its list commas are dropped ("one thousand, two hundred" would make the
model pause where a reader does not), and decimals are split here, because num2words reads
a decimal through a float and loses digits ("999999999999999.99" came back "... point zero")."""

from __future__ import annotations

from num2words import num2words

_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _plain(words: str) -> str:
    return words.replace(",", "")


class EnglishNumbers:
    def number(self, text: str) -> str:
        negative = text.startswith("-")
        integer, _, fraction = text.lstrip("-").partition(".")
        words = _plain(num2words(int(integer), lang="en"))
        if fraction:
            words += " point " + self.digits(fraction)
        return "minus " + words if negative else words

    def ordinal(self, value: int) -> str:
        return _plain(num2words(value, lang="en", to="ordinal"))

    def year(self, value: int) -> str:
        return _plain(num2words(value, lang="en", to="year"))

    def digits(self, text: str) -> str:
        return " ".join(_DIGITS[int(char)] for char in text)

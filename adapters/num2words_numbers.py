"""Number words in any language num2words knows, for the languages beyond English and Chinese.

num2words owns the grammar (cardinals, ordinals, years); two things are done here, as for
English: decimals are split and their places read digit by digit (num2words reads a decimal
through a float and loses places), and list commas are dropped. Where num2words has no
ordinal for a language (Latvian, Arabic), `ordinal` is the cardinal: the normaliser has no
ordinal rule for those languages, so it never asks."""

from __future__ import annotations

from num2words import CONVERTER_CLASSES, num2words

# the word read between a number's integer part and its places ("3,5" in French is "trois virgule cinq")
POINT_WORDS: dict[str, str] = {
    "fr": "virgule",
    "de": "Komma",
    "es": "coma",
    "it": "virgola",
    "pt": "vírgula",
    "nl": "komma",
    "pl": "przecinek",
    "ru": "запятая",
    "ja": "点",
    "fi": "pilkku",
    "lv": "komats",
    "ar": "فاصلة",
}
# the word before a negative number (num2words has none for some languages, and Polish fails on -1)
MINUS_WORDS: dict[str, str] = {
    "fr": "moins",
    "de": "minus",
    "es": "menos",
    "it": "meno",
    "pt": "menos",
    "nl": "min",
    "pl": "minus",
    "ru": "минус",
    "ja": "マイナス",
    "fi": "miinus",
    "lv": "mīnus",
    "ar": "سالب",
}
# languages written without spaces between number words
_UNSPACED = {"ja"}
# years num2words reads in another system (Japanese: the imperial era), read as cardinals instead
_CARDINAL_YEARS = {"ja"}


def languages() -> tuple[str, ...]:
    """The languages this adapter reads: num2words knows them and their decimal word is known."""
    return tuple(lang for lang in POINT_WORDS if lang in CONVERTER_CLASSES)


class Num2WordsNumbers:
    def __init__(self, language: str) -> None:
        if language not in languages():
            raise ValueError(f"no number words for {language!r}; known: {', '.join(languages())}")
        self.language = language
        self._join = "" if language in _UNSPACED else " "
        self._minus = MINUS_WORDS[language] + self._join
        self._digits = tuple(_words(digit, language) for digit in range(10))

    def number(self, text: str) -> str:
        negative = text.startswith("-")
        integer, _, fraction = text.lstrip("-").partition(".")
        words = _words(int(integer), self.language)
        if fraction:
            words += self._join + POINT_WORDS[self.language] + self._join + self.digits(fraction)
        return self._minus + words if negative else words

    def ordinal(self, value: int) -> str:
        try:
            return _words(value, self.language, to="ordinal")
        except NotImplementedError:
            return _words(value, self.language)

    def year(self, value: int) -> str:
        if self.language in _CARDINAL_YEARS:
            return _words(value, self.language)
        return _words(value, self.language, to="year")

    def digits(self, text: str) -> str:
        return self._join.join(self._digits[int(char)] for char in text)


def _words(value: int, language: str, to: str = "cardinal") -> str:
    return num2words(value, lang=language, to=to).replace(",", "")

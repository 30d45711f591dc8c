"""Both number spellers pass the port's contract, and say the numbers a reader would."""

import pytest

from adapters.chinese_numbers import ChineseNumbers
from adapters.english_numbers import EnglishNumbers
from adapters.num2words_numbers import Num2WordsNumbers, languages
from tests.contracts.number_speller import DIGIT, NumberSpellerContract


class TestEnglishNumbersContract(NumberSpellerContract):
    @pytest.fixture
    def speller(self):
        return EnglishNumbers()


class TestChineseNumbersContract(NumberSpellerContract):
    @pytest.fixture
    def speller(self):
        return ChineseNumbers()


@pytest.mark.parametrize(
    ("call", "english", "chinese"),
    [
        (("number", "1234"), "one thousand two hundred and thirty-four", "一千二百三十四"),
        (("number", "-3.5"), "minus three point five", "负三点五"),
        (("number", "999999999999999.99"),
         "nine hundred and ninety-nine trillion nine hundred and ninety-nine billion nine hundred and ninety-nine "
         "million nine hundred and ninety-nine thousand nine hundred and ninety-nine point nine nine",
         "九百九十九万九千九百九十九亿九千九百九十九万九千九百九十九点九九"),
        (("number", "100000000"), "one hundred million", "一亿"),
        (("ordinal", 3), "third", "第三"),
        (("ordinal", 21), "twenty-first", "第二十一"),
        (("year", 1998), "nineteen ninety-eight", "一九九八"),
        (("year", 2024), "twenty twenty-four", "二零二四"),
        (("digits", "0138"), "zero one three eight", "零一三八"),
    ],
)  # fmt: skip
def test_golden_readings(call, english, chinese):
    method, argument = call
    assert getattr(EnglishNumbers(), method)(argument) == english
    assert getattr(ChineseNumbers(), method)(argument) == chinese


NO_ORDINALS = ("lv", "ar")  # num2words has none (Latvian) or says some as cardinals (Arabic 20)


@pytest.mark.parametrize("language", [lang for lang in languages() if lang not in NO_ORDINALS])
class TestNum2WordsNumbersContract(NumberSpellerContract):
    """Every language the num2words adapter reads; those without ordinals are checked apart (below)."""

    @pytest.fixture
    def speller(self, language):
        return Num2WordsNumbers(language)


@pytest.mark.parametrize("language", NO_ORDINALS)
class TestNoOrdinalsNumbersContract(NumberSpellerContract):
    @pytest.fixture
    def speller(self, language):
        return Num2WordsNumbers(language)

    def test_ordinals_are_words_and_differ_from_cardinals(self, speller) -> None:
        """The normaliser has no ordinal rule for these languages, so it never asks for one
        (tests/unit/test_languages.py); the adapter still answers words, never a digit."""
        assert not DIGIT.search(speller.ordinal(21)) and speller.ordinal(21).strip()


def test_an_unknown_language_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="fr, de"):
        Num2WordsNumbers("xx")


@pytest.mark.parametrize(
    ("language", "number", "spoken"),
    [
        ("fr", "-12.05", "moins douze virgule zéro cinq"),
        ("de", "3.5", "drei Komma fünf"),
        ("pl", "-1", "minus jeden"),
        ("ja", "-3.5", "マイナス三点五"),
    ],
)
def test_num2words_golden_readings(language, number, spoken):
    assert Num2WordsNumbers(language).number(number) == spoken

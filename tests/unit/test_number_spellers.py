"""Both number spellers pass the port's contract, and say the numbers a reader would."""

import pytest

from adapters.chinese_numbers import ChineseNumbers
from adapters.english_numbers import EnglishNumbers
from tests.contracts.number_speller import NumberSpellerContract


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

"""The one contract every number speller passes; subclass it with a `speller` fixture.

The properties run hypothesis inside each test (a fresh `@given` function per call), since
hypothesis refuses one decorated method shared by several subclasses."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

DIGIT = re.compile(r"[0-9]")
numbers = st.builds(
    lambda sign, whole, fraction: sign + str(whole) + ("." + fraction if fraction else ""),
    st.sampled_from(["", "-"]),
    st.integers(min_value=0, max_value=10**15 - 1),
    st.text(alphabet="0123456789", max_size=30),
)


class NumberSpellerContract:
    @pytest.fixture
    def speller(self):  # pragma: no cover - subclasses provide it
        raise NotImplementedError

    def test_any_number_of_the_documented_shape_is_words(self, speller) -> None:
        @given(numbers)
        def check(number: str) -> None:
            words = speller.number(number)
            assert words.strip() and not DIGIT.search(words)

        check()

    def test_a_negative_number_is_the_positive_one_with_a_minus_word_in_front(self, speller) -> None:
        minus = speller.number("-1").removesuffix(speller.number("1"))
        assert minus.strip()

        @given(numbers)
        def check(number: str) -> None:
            positive = number.lstrip("-")
            assert speller.number("-" + positive) == minus + speller.number(positive)

        check()

    def test_every_decimal_place_is_said(self, speller) -> None:
        """No precision is lost: each place is read, however many there are."""

        @given(numbers)
        def check(number: str) -> None:
            whole, _, fraction = number.lstrip("-").partition(".")
            if fraction:
                assert speller.number(f"{whole}.{fraction}").endswith(speller.digits(fraction))

        check()

    def test_ordinals_are_words_and_differ_from_cardinals(self, speller) -> None:
        @given(st.integers(min_value=1, max_value=10**6))
        def check(value: int) -> None:
            words = speller.ordinal(value)
            assert words.strip() and not DIGIT.search(words) and words != speller.number(str(value))

        check()

    def test_years_are_words(self, speller) -> None:
        @given(st.integers(min_value=1, max_value=9999))
        def check(value: int) -> None:
            words = speller.year(value)
            assert words.strip() and not DIGIT.search(words)

        check()

    def test_digits_are_read_one_by_one(self, speller) -> None:
        @given(st.text(alphabet="0123456789", min_size=1, max_size=40))
        def check(text: str) -> None:
            words = speller.digits(text)
            assert not DIGIT.search(words)
            assert words.replace(" ", "") == "".join(speller.digits(char).replace(" ", "") for char in text)

        check()

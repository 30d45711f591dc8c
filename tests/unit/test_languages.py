"""Numbers read in the request's language beyond English and Chinese: a written -> spoken
table per language, each spoken number taken from num2words' own output, and properties
over arbitrary text in every language the normaliser reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from num2words import num2words

from adapters.chinese_numbers import ChineseNumbers
from adapters.english_numbers import EnglishNumbers
from adapters.num2words_numbers import Num2WordsNumbers, languages
from domain.text.languages import WORDS
from domain.text.normalize import TextNormalizer

normalize = TextNormalizer(EnglishNumbers(), ChineseNumbers(), {lang: Num2WordsNumbers(lang) for lang in languages()})


def n(language: str, value: int, to: str = "cardinal") -> str:
    return num2words(value, lang=language, to=to)


TABLE = [
    # language, written, spoken (numbers as num2words says them)
    ("fr", "J'ai 21 pommes et 1.234 poires.", f"J'ai {n('fr', 21)} pommes et {n('fr', 1234)} poires."),
    ("fr", "Il fait -7 et 3,5 %.", f"Il fait moins {n('fr', 7)} et {n('fr', 3)} virgule {n('fr', 5)} pour cent."),
    ("fr", "Le 3e, le 2024-03-05.", f"Le {n('fr', 3, 'ordinal')}, le {n('fr', 5)} mars {n('fr', 2024, 'year')}."),
    ("fr", "Ça coûte 12,50 € à 14:30.", f"Ça coûte {n('fr', 12)} euros {n('fr', 50)} à {n('fr', 14)} heures "
                                        f"{n('fr', 30)}."),
    ("de", "Ich habe 21 Äpfel und 1.000 km.", f"Ich habe {n('de', 21)} Äpfel und {n('de', 1000)} Kilometer."),
    ("de", "Am 05.03.2024 um 9:00.", f"Am {n('de', 5)} März {n('de', 2024, 'year')} um {n('de', 9)} Uhr."),
    ("de", "Es kostet 3,50 € (12 %).", f"Es kostet {n('de', 3)} Euro {n('de', 50)} ({n('de', 12)} Prozent)."),
    ("es", "Tengo 21 años y 2,5 kg.", f"Tengo {n('es', 21)} años y {n('es', 2)} coma {n('es', 5)} kilos."),
    ("es", "El 1º de 2024: $5.", f"El {n('es', 1, 'ordinal')} de {n('es', 2024)}: {n('es', 5)} dólares."),
    ("es", "El 2024-03-05.", f"El {n('es', 5)} de marzo de {n('es', 2024, 'year')}."),
    ("it", "Ho 21 anni, il 3° posto, 20 %.", f"Ho {n('it', 21)} anni, il {n('it', 3, 'ordinal')} posto, "
                                            f"{n('it', 20)} per cento."),
    ("it", "Costa 1.500 €.", f"Costa {n('it', 1500)} euro."),
    ("ru", "У меня 21 яблоко и 5-й дом.", f"У меня {n('ru', 21)} яблоко и {n('ru', 5, 'ordinal')} дом."),
    ("ru", "Скидка 15 %, -3,5.", f"Скидка {n('ru', 15)} процентов, минус {n('ru', 3)} запятая {n('ru', 5)}."),
    ("ja", "りんごが21個、第3回。", f"りんごが{n('ja', 21)}個、第{n('ja', 3)}回。"),
    ("ja", "2024-03-05に¥500、3.5%。", f"{n('ja', 2024)}年三月{n('ja', 5)}日に{n('ja', 500)}円、"
                                      f"{n('ja', 3)}点{n('ja', 5)}パーセント。"),
    ("fi", "Minulla on 21 omenaa.", f"Minulla on {n('fi', 21)} omenaa."),
    ("lv", "Man ir 21 ābols.", f"Man ir {n('lv', 21)} ābols."),
    ("ar", "لدي 21 تفاحة", f"لدي {n('ar', 21)} تفاحة"),
]  # fmt: skip


@pytest.mark.parametrize(("language", "written", "spoken"), TABLE)
def test_numbers_are_read_in_the_requests_language(language, written, spoken):
    result = normalize(written, language=language)
    assert result.text == spoken
    assert result.written == written


def test_at_least_the_issues_languages_are_read():
    assert {"fr", "de", "es", "it", "ru", "ja", "fi", "lv", "ar"} <= set(normalize.languages)


def test_a_language_without_rules_is_spoken_as_written():
    """Hindi: num2words has no Hindi, so the text is said as written, digits and all."""
    assert not normalize.reads("hi")
    assert normalize("मेरे पास 21 सेब हैं", language="hi").text == "मेरे पास 21 सेब हैं"


def test_no_language_and_english_keep_todays_reading():
    text = "I paid $4.50 for 3 apples, 数字123."
    assert normalize(text, language=None).text == normalize(text).text == normalize(text, language="en").text


def test_pieces_carry_request_offsets():
    result = normalize("Il a 21 ans", offset=10, language="fr")
    piece = next(piece for piece in result.pieces if piece.rewritten)
    assert (piece.start, piece.end, piece.written, piece.spoken) == (15, 17, "21", n("fr", 21))


@pytest.mark.parametrize("language", sorted(WORDS))
def test_any_text_keeps_its_written_pieces_and_loses_its_digits(language):
    @settings(max_examples=150, deadline=None)
    @given(st.text(alphabet=st.sampled_from("0123456789 .,:-/%€$°Ckmhé第ºe"), max_size=40) | st.text(max_size=30))
    def check(text: str) -> None:
        result = normalize(text, language=language)
        assert result.written == text
        assert not re.search(r"[0-9]", result.text)
        assert normalize(result.text, language=language).text == result.text

    check()


def test_the_readme_language_table_is_what_the_normaliser_says():
    section = (Path(__file__).parents[2] / "README.md").read_text().split("### Languages and models", 1)[1]
    rows = re.findall(r"^\| `([a-z]{2})` \| `([^`]+)` \| `([^`]+)` \|$", section.split("\n### ", 1)[0], re.MULTILINE)
    assert {language for language, _, _ in rows} >= {"fr", "de", "es", "it", "ru", "ja"}
    assert [normalize(written, language=language).text for language, written, _ in rows] == [s for _, _, s in rows]

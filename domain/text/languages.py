"""Numbers, dates, times, money, percentages and a few units read in languages other than
English and Chinese, through a `NumberSpeller` of that language (num2words' grammar).

English and Chinese keep their own, richer rules (`domain.text.normalize`); these rules are
deliberately fewer, one table per language, since each needs the words a reader of that
language says around a number. A language with no table here is spoken as written, and the
answer says so (`TextNormalizer.reads`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from domain.text.spoken import SpokenPiece, SpokenText, plain_pieces
from ports.number_speller import NumberSpeller


@dataclass(frozen=True)
class LanguageWords:
    """What a language says around numbers. `date` and `clock` are templates: {day} {month}
    {year} (words), {hour} {minute}; `clock[1]` is used on the hour. `ordinal` is a pattern
    whose group 1 is the digits ("3e" in French), absent where the language marks ordinals
    in a way a rule cannot read safely ("3." in German is also a sentence end)."""

    percent: str
    months: tuple[str, ...]
    currencies: Mapping[str, tuple[str, str]]  # sign or code -> (one, many)
    units: Mapping[str, str]
    date: str
    clock: tuple[str, str]
    ordinal: str | None = None
    ordinal_prefix: str = ""  # an ordinal said as this word and the cardinal (Japanese 第三)
    decimal_comma: bool = True
    space: str = " "
    one: frozenset[str] = field(default_factory=frozenset)  # the integer strings taking the singular

    def currency(self, sign: str, amount: str) -> str:
        one, many = self.currencies[sign]
        return one if amount in self.one else many


_EURO_DOLLAR = ("€", "EUR", "$", "USD", "£", "GBP")

WORDS: dict[str, LanguageWords] = {
    "fr": LanguageWords(
        percent="pour cent",
        months=("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
                "novembre", "décembre"),
        currencies=dict(zip(_EURO_DOLLAR, [("euro", "euros")] * 2 + [("dollar", "dollars")] * 2
                            + [("livre", "livres")] * 2, strict=True)),
        units={"km/h": "kilomètres heure", "km": "kilomètres", "kg": "kilos", "cm": "centimètres",
               "°C": "degrés Celsius"},
        date="{day} {month} {year}",
        clock=("{hour} heures {minute}", "{hour} heures"),
        ordinal=r"([0-9]+)(?:er|re|e|ème)",
        one=frozenset({"0", "1"}),
    ),
    "de": LanguageWords(
        percent="Prozent",
        months=("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
                "November", "Dezember"),
        currencies=dict(zip(_EURO_DOLLAR, [("Euro", "Euro")] * 2 + [("Dollar", "Dollar")] * 2
                            + [("Pfund", "Pfund")] * 2, strict=True)),
        units={"km/h": "Kilometer pro Stunde", "km": "Kilometer", "kg": "Kilogramm", "cm": "Zentimeter",
               "°C": "Grad Celsius"},
        date="{day} {month} {year}",
        clock=("{hour} Uhr {minute}", "{hour} Uhr"),
        one=frozenset({"1"}),
    ),
    "es": LanguageWords(
        percent="por ciento",
        months=("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
                "noviembre", "diciembre"),
        currencies=dict(zip(_EURO_DOLLAR, [("euro", "euros")] * 2 + [("dólar", "dólares")] * 2
                            + [("libra", "libras")] * 2, strict=True)),
        units={"km/h": "kilómetros por hora", "km": "kilómetros", "kg": "kilos", "cm": "centímetros",
               "°C": "grados Celsius"},
        date="{day} de {month} de {year}",
        clock=("{hour} y {minute}", "{hour} en punto"),
        ordinal=r"([0-9]+)[ºª°]",
        one=frozenset({"1"}),
    ),
    "it": LanguageWords(
        percent="per cento",
        months=("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre",
                "ottobre", "novembre", "dicembre"),
        currencies=dict(zip(_EURO_DOLLAR, [("euro", "euro")] * 2 + [("dollaro", "dollari")] * 2
                            + [("sterlina", "sterline")] * 2, strict=True)),
        units={"km/h": "chilometri orari", "km": "chilometri", "kg": "chili", "cm": "centimetri",
               "°C": "gradi Celsius"},
        date="{day} {month} {year}",
        clock=("{hour} e {minute}", "{hour} in punto"),
        ordinal=r"([0-9]+)[ºª°]",
        one=frozenset({"1"}),
    ),
    "pt": LanguageWords(
        percent="por cento",
        months=("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro",
                "outubro", "novembro", "dezembro"),
        currencies=dict(zip(_EURO_DOLLAR, [("euro", "euros")] * 2 + [("dólar", "dólares")] * 2
                            + [("libra", "libras")] * 2, strict=True)),
        units={"km/h": "quilômetros por hora", "km": "quilômetros", "kg": "quilos", "cm": "centímetros",
               "°C": "graus Celsius"},
        date="{day} de {month} de {year}",
        clock=("{hour} e {minute}", "{hour} horas"),
        ordinal=r"([0-9]+)[ºª°]",
        one=frozenset({"1"}),
    ),
    "nl": LanguageWords(
        percent="procent",
        months=("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
                "november", "december"),
        currencies=dict(zip(_EURO_DOLLAR, [("euro", "euro")] * 2 + [("dollar", "dollar")] * 2
                            + [("pond", "pond")] * 2, strict=True)),
        units={"km/h": "kilometer per uur", "km": "kilometer", "kg": "kilo", "cm": "centimeter",
               "°C": "graden Celsius"},
        date="{day} {month} {year}",
        clock=("{hour} uur {minute}", "{hour} uur"),
        ordinal=r"([0-9]+)(?:ste|de|e)",
    ),
    "pl": LanguageWords(
        percent="procent",
        months=("stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia", "września",
                "października", "listopada", "grudnia"),
        currencies=dict(zip(_EURO_DOLLAR, [("euro", "euro")] * 2 + [("dolar", "dolarów")] * 2
                            + [("funt", "funtów")] * 2, strict=True)),
        units={"km/h": "kilometrów na godzinę", "km": "kilometrów", "kg": "kilogramów", "cm": "centymetrów",
               "°C": "stopni Celsjusza"},
        date="{day} {month} {year}",
        clock=("{hour} {minute}", "{hour}"),
        one=frozenset({"1"}),
    ),
    "ru": LanguageWords(
        percent="процентов",
        months=("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
                "ноября", "декабря"),
        currencies=dict(zip(_EURO_DOLLAR, [("евро", "евро")] * 2 + [("доллар", "долларов")] * 2
                            + [("фунт", "фунтов")] * 2, strict=True)),
        units={"km/h": "километров в час", "km": "километров", "kg": "килограммов", "cm": "сантиметров",
               "°C": "градусов Цельсия", "км": "километров", "кг": "килограммов"},
        date="{day} {month} {year} года",
        clock=("{hour} {minute}", "{hour} часов"),
        ordinal=r"([0-9]+)-(?:й|я|е|го|му|м|ое|ая|ый|ий)",
        one=frozenset({"1"}),
    ),
    "ja": LanguageWords(
        percent="パーセント",
        months=tuple(f"{m}月" for m in ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二")),
        currencies={"¥": ("円", "円"), "￥": ("円", "円"), "JPY": ("円", "円"), "$": ("ドル", "ドル"),
                    "USD": ("ドル", "ドル"), "€": ("ユーロ", "ユーロ"), "EUR": ("ユーロ", "ユーロ")},
        units={"km/h": "キロメートル毎時", "km": "キロメートル", "kg": "キログラム", "cm": "センチメートル",
               "°C": "度"},
        date="{year}年{month}{day}日",
        clock=("{hour}時{minute}分", "{hour}時"),
        ordinal=r"第([0-9]+)",
        ordinal_prefix="第",
        decimal_comma=False,
        space="",
    ),
    "fi": LanguageWords(
        percent="prosenttia",
        months=("tammikuuta", "helmikuuta", "maaliskuuta", "huhtikuuta", "toukokuuta", "kesäkuuta", "heinäkuuta",
                "elokuuta", "syyskuuta", "lokakuuta", "marraskuuta", "joulukuuta"),
        currencies=dict(zip(_EURO_DOLLAR, [("euro", "euroa")] * 2 + [("dollari", "dollaria")] * 2
                            + [("punta", "puntaa")] * 2, strict=True)),
        units={"km/h": "kilometriä tunnissa", "km": "kilometriä", "kg": "kiloa", "cm": "senttimetriä",
               "°C": "astetta"},
        date="{day} {month} {year}",
        clock=("{hour} {minute}", "{hour}"),
        one=frozenset({"1"}),
    ),
    "lv": LanguageWords(
        percent="procenti",
        months=("janvāris", "februāris", "marts", "aprīlis", "maijs", "jūnijs", "jūlijs", "augusts", "septembris",
                "oktobris", "novembris", "decembris"),
        currencies=dict(zip(_EURO_DOLLAR, [("eiro", "eiro")] * 2 + [("dolārs", "dolāri")] * 2
                            + [("mārciņa", "mārciņas")] * 2, strict=True)),
        units={"km/h": "kilometri stundā", "km": "kilometri", "kg": "kilogrami", "cm": "centimetri",
               "°C": "grādi pēc Celsija"},
        date="{year} gada {day} {month}",
        clock=("{hour} {minute}", "{hour}"),
        one=frozenset({"1"}),
    ),
    "ar": LanguageWords(
        percent="بالمئة",
        months=("يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر",
                "ديسمبر"),
        currencies=dict(zip(_EURO_DOLLAR, [("يورو", "يورو")] * 2 + [("دولار", "دولار")] * 2
                            + [("جنيه", "جنيه")] * 2, strict=True)),
        units={"km/h": "كيلومتر في الساعة", "km": "كيلومتر", "kg": "كيلوغرام", "cm": "سنتيمتر",
               "°C": "درجة مئوية"},
        date="{day} {month} {year}",
        clock=("{hour} و{minute} دقيقة", "{hour}"),
        decimal_comma=False,
    ),
}  # fmt: skip

MAX_SPELLED_DIGITS = 15  # the port's limit; longer integer parts are read digit by digit
_DAY = r"(?:0?[1-9]|[12][0-9]|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"


class LanguageNormalizer:
    """`normalizer(text, offset)` -> SpokenText in one language; never raises for any string."""

    def __init__(self, speller: NumberSpeller, words: LanguageWords) -> None:
        self._speller, self._words = speller, words
        if words.decimal_comma:  # 1.234,5 or 1 234,5 (no-break spaces); 3.5 still reads as a decimal
            number = r"[0-9]{1,3}(?:[.\u00a0\u202f][0-9]{3})+(?:,[0-9]+)?|[0-9]+(?:[.,][0-9]+)?"
        else:
            number = r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?"
        signs = "|".join(re.escape(s) for s in sorted(words.currencies, key=len, reverse=True))
        units = "|".join(re.escape(u) for u in sorted(words.units, key=len, reverse=True))
        num = rf"(?:{number})(?![0-9])"
        rules = [
            ("iso_date", rf"(?<![0-9])([0-9]{{4}})-({_MONTH})-({_DAY})(?![0-9])"),
            ("dmy_date", rf"(?<![0-9.,/])({_DAY})[./]({_MONTH})[./]([0-9]{{4}})(?![0-9])"),
            ("clock", r"(?<![0-9:.,])([01]?[0-9]|2[0-3])[:h]([0-5][0-9])(?![0-9:])"),
            ("money_before", rf"(?<![0-9.,])(-?)({signs})\s?({num})"),
            ("money_after", rf"(?<![0-9.,])(-?)({num})\s?({signs})(?![A-Za-z])"),
            ("percent", rf"(?<![0-9.,])(-?)({num})\s?[%％]"),
            ("unit", rf"(?<![0-9.,])(-?)({num})\s?({units})(?![^\W\d_])"),
        ]
        if words.ordinal:
            rules.append(("ordinal", rf"(?<![0-9.,]){words.ordinal}(?![^\W\d_])"))
        rules += [
            ("code", r"(?<![0-9.,])0[0-9]+(?![0-9])"),  # 007, a code or a phone number: digit by digit
            ("number", rf"(?<![0-9.,])(?:(?<![^\W\d_])-)?{num}"),
            ("leftover", r"[0-9]+"),
        ]
        self._rules = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in rules))
        starts = sorted((index, name) for name, index in self._rules.groupindex.items())
        ends = [index for index, _ in starts[1:]] + [self._rules.groups + 1]
        self._inner = {name: range(index + 1, end) for (index, name), end in zip(starts, ends, strict=True)}
        self._say: dict[str, Callable[[re.Match[str]], str]] = {
            name: getattr(self, f"_say_{name}") for name, _ in rules
        }

    def __call__(self, text: str, offset: int = 0) -> SpokenText:
        pieces: list[SpokenPiece] = []
        position = 0
        for match in self._rules.finditer(text):
            spoken = self._say[match.lastgroup or ""](match)
            pieces.extend(plain_pieces(text[position : match.start()], offset + position))
            pieces.append(SpokenPiece(offset + match.start(), offset + match.end(), match.group(), spoken))
            position = match.end()
        pieces.extend(plain_pieces(text[position:], offset + position))
        return SpokenText(tuple(pieces))

    def _groups(self, match: re.Match[str]) -> list[str]:
        """The capture groups of the rule that matched, in order ("" for an absent minus)."""
        return [match.group(i) or "" for i in self._inner[match.lastgroup or ""]]

    def _canonical(self, written: str) -> tuple[str, str]:
        """(integer, places) of an unsigned written number: grouping dropped, leading zeros too."""
        if self._words.decimal_comma:
            if re.fullmatch(r"[0-9]{1,3}(?:[.\u00a0\u202f][0-9]{3})+(?:,[0-9]+)?", written):
                written = re.sub(r"[.\u00a0\u202f]", "", written)
            written = written.replace(",", ".")
        else:
            written = written.replace(",", "")
        integer, _, fraction = written.partition(".")
        return integer.lstrip("0") or "0", fraction

    def number(self, written: str) -> str:
        """A written number as words, in the language's decimal and grouping signs."""
        negative = written.startswith("-")
        integer, fraction = self._canonical(written.lstrip("-"))
        if len(integer) > MAX_SPELLED_DIGITS:  # past what a grammar names: digit by digit, as in English
            places = self._speller.number("0." + fraction).removeprefix(self._speller.number("0")) if fraction else ""
            words = self._speller.digits(integer) + places
            return self._speller.number("-1").removesuffix(self._speller.number("1")) + words if negative else words
        return self._speller.number(("-" if negative else "") + integer + ("." + fraction if fraction else ""))

    def _join(self, *parts: str) -> str:
        return self._words.space.join(part for part in parts if part)

    def _date(self, year: str, month: str, day: str) -> str:
        return self._words.date.format(
            day=self.number(day), month=self._words.months[int(month) - 1], year=self._speller.year(int(year))
        )

    def _say_iso_date(self, match: re.Match[str]) -> str:
        year, month, day = self._groups(match)
        return self._date(year, month, day)

    def _say_dmy_date(self, match: re.Match[str]) -> str:
        day, month, year = self._groups(match)
        return self._date(year, month, day)

    def _say_clock(self, match: re.Match[str]) -> str:
        hour, minute = self._groups(match)
        with_minutes, on_the_hour = self._words.clock
        if int(minute) == 0:
            return on_the_hour.format(hour=self.number(hour))
        return with_minutes.format(hour=self.number(hour), minute=self.number(minute))

    def _money(self, minus: str, amount: str, sign: str) -> str:
        integer, fraction = self._canonical(amount)
        if len(fraction) == 2 and len(integer) <= MAX_SPELLED_DIGITS:  # 3,50 € is "three euros fifty"
            main = self._join(self.number(minus + integer), self._words.currency(sign, integer))
            return self._join(main, self.number(fraction)) if int(fraction) else main
        return self._join(self.number(minus + amount), self._words.currency(sign, "" if fraction else integer))

    def _say_money_before(self, match: re.Match[str]) -> str:
        minus, sign, amount = self._groups(match)
        return self._money(minus, amount, sign)

    def _say_money_after(self, match: re.Match[str]) -> str:
        minus, amount, sign = self._groups(match)
        return self._money(minus, amount, sign)

    def _say_percent(self, match: re.Match[str]) -> str:
        minus, amount = self._groups(match)
        return self._join(self.number(minus + amount), self._words.percent)

    def _say_unit(self, match: re.Match[str]) -> str:
        minus, amount, unit = self._groups(match)
        return self._join(self.number(minus + amount), self._words.units[unit])

    def _say_ordinal(self, match: re.Match[str]) -> str:
        (digits,) = self._groups(match)
        value = digits.lstrip("0") or "0"
        if len(value) > MAX_SPELLED_DIGITS or value == "0":
            return self._speller.digits(digits)
        if self._words.ordinal_prefix:
            return self._words.ordinal_prefix + self._speller.number(value)
        return self._speller.ordinal(int(value))

    def _say_number(self, match: re.Match[str]) -> str:
        return self.number(match.group())

    def _say_code(self, match: re.Match[str]) -> str:
        return self._speller.digits(match.group())

    def _say_leftover(self, match: re.Match[str]) -> str:
        """Digits no rule claimed (inside a token, after a sign): never left as digits."""
        return self._speller.digits(match.group())

"""Written text to what a reader says: numbers, dates, money, units, symbols and
abbreviations in words, in English or Chinese.

Why the split with the number speller port: how a number is said (grammar) is a solved
problem that libraries (num2words, cn2an) own, so it sits behind `ports.number_speller`;
*finding* numbers in running text, deciding which language reads them and which words go
around them ("dollars", "percent", "百分之") is this product's own rule set, pure text
processing, so it lives here in the domain, tested without any adapter-specific stand-in.

Design rules, each checked by the tests:
- only what is matched is rewritten; plain words and unknown tokens pass through as written;
- the output holds no digit or symbol a rule matches, so normalising twice changes nothing;
- language follows the token's neighbours: a number next to CJK text is read in Chinese,
  next to Latin letters in English, elsewhere in the text's dominant language;
- every rewrite is a `SpokenPiece`, so each spoken word maps back to its written token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from domain.text.languages import WORDS, LanguageNormalizer
from domain.text.spoken import SpokenPiece, SpokenText, plain_pieces
from domain.text.vocabulary import (
    ABBREVIATIONS,
    CURRENCIES,
    MONTH_ABBREVIATIONS,
    MONTHS,
    SCALES,
    SCALES_ZH,
    SYMBOLS,
    TITLES,
    UNITS,
    URL_WORDS,
)
from ports.number_speller import NumberSpeller

EN, ZH = "en", "zh"
MAX_SPELLED_DIGITS = 15  # longer integer parts are read digit by digit
MAX_PASSES = 4
_NUM = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"
_MINUS = r"[-−]"
_TAIL = r"(?![0-9]|[.,][0-9])"  # a number ends here, not inside "1.5" or "1,000"
_DAY = r"(?:0?[1-9]|[12][0-9]|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_MONTH_NAME = "|".join(sorted(MONTH_ABBREVIATIONS, key=len, reverse=True))
_UNIT = "|".join(re.escape(unit) for unit in sorted(UNITS, key=len, reverse=True))
_CURRENCY_SIGN = "|".join(re.escape(sign) for sign in sorted(CURRENCIES, key=len, reverse=True) if not sign.isalpha())
_CURRENCY_CODE = "|".join(code for code in CURRENCIES if code.isalpha())
_SCALE = "|".join(sorted(SCALES, key=len, reverse=True))
_ABBREVIATION = "|".join(re.escape(a) for a in sorted({*TITLES, *ABBREVIATIONS, "St.", "No."}, key=len, reverse=True))
_TLD = "com|org|net|io|dev|ai|edu|gov|cn|uk|de|fr|jp"
_URL_END = r"[^\s<>\"'，。！？、.,;:!?)\]\u4e00-\u9fff]"
_URL_CHARS = r"[^\s<>\"'，。！？、\u4e00-\u9fff]"

# Rules in priority order: at any position the first that matches wins.
_RULES: list[tuple[str, str]] = [
    ("email", r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
    ("url", rf"(?:https?://|www\.)(?:{_URL_CHARS}*{_URL_END})?"),
    ("domain", rf"(?<![A-Za-z0-9@./-])[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:{_TLD})(?:/{_URL_CHARS}*{_URL_END})?"
               r"(?![A-Za-z0-9])"),
    ("iso_date", rf"(?<![0-9])[0-9]{{4}}-{_MONTH}-{_DAY}(?![0-9])"),
    ("ymd_date", rf"(?<![0-9/])[0-9]{{4}}/{_MONTH}/{_DAY}(?![0-9/])"),
    ("mdy_date", rf"(?<![0-9/]){_MONTH}/{_DAY}/[0-9]{{4}}(?![0-9/])"),
    ("month_day", rf"(?<![A-Za-z])(?:{_MONTH_NAME})\.?\s+{_DAY}(?:st|nd|rd|th)?(?:,?\s+[0-9]{{4}})?(?![0-9A-Za-z])"),
    ("day_month", rf"(?<![0-9]){_DAY}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH_NAME})\b\.?(?:,?\s+[0-9]{{4}})?(?![0-9])"),
    ("zh_year", r"(?<![0-9])[0-9]{4}\s?年"),
    ("time", r"(?<![0-9:.])(?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?(?![0-9:])"
             r"(?:\s?[AaPp]\.?[Mm]\.?(?![A-Za-z]))?"),
    ("hour", r"(?<![0-9:.])(?:1[0-2]|0?[1-9])\s?[AaPp]\.?[Mm]\.?(?![A-Za-z])"),
    ("ratio", r"(?<![0-9:.,])[0-9]{1,3}:[0-9]{1,3}(?![0-9:])"),
    ("phone", r"(?<![0-9])(?:(?:\+?[0-9]{1,3}[\s.-]|\+[0-9]{1,3})?"
              r"(?:(?:\([0-9]{3}\)\s?|[0-9]{3}[\s.-])[0-9]{3}[\s.-][0-9]{4}|1[3-9][0-9][\s-][0-9]{4}[\s-][0-9]{4})"
              # a local number, 555-0142 (a range of that shape with units is still a range: 100-1000 Hz)
              rf"|(?<![0-9]-)[0-9]{{3}}-[0-9]{{4}}(?!-[0-9]|\s?(?:[%％]|(?:{_UNIT})(?![A-Za-z0-9]))))"
              r"(?![0-9])"),
    ("dotted", r"(?<![0-9.])[0-9]+(?:\.[0-9]+){2,}(?![0-9])"),
    ("currency", rf"(?<![0-9]){_MINUS}?(?:{_CURRENCY_SIGN})\s?{_NUM}{_TAIL}(?:\s?(?:{_SCALE})(?![A-Za-z]))?"),
    ("currency_code", rf"(?<![0-9.]){_NUM}\s?(?:{_CURRENCY_CODE})(?![A-Za-z])"),
    ("decade", r"(?<![0-9.,])(?:'|[0-9]{2})?[0-9]0s(?![A-Za-z])"),
    ("range", rf"(?<![0-9.,]){_NUM}\s?[-–~～]\s?{_NUM}{_TAIL}(?:\s?%|\s?(?:{_UNIT})(?![A-Za-z0-9]))?"),
    ("percent", rf"(?<![0-9.,])(?:(?<![A-Za-z0-9]){_MINUS})?{_NUM}\s?[%％]"),
    ("unit", rf"(?<![0-9.,])(?:(?<![A-Za-z0-9]){_MINUS})?{_NUM}\s?(?:{_UNIT})(?![A-Za-z0-9])"),
    ("mixed_fraction", r"(?<![0-9./])[0-9]+\s[0-9]+/[0-9]+(?![0-9/])"),
    ("fraction", r"(?<![0-9./])[0-9]+/[0-9]+(?![0-9/])"),
    ("ordinal", r"(?<![0-9.,])[0-9]+(?:st|nd|rd|th)(?![A-Za-z])"),
    ("digit_run", r"(?<![0-9.,])(?:0[0-9]+|[0-9]{7,})(?![0-9]|[.,][0-9])"),
    ("year", r"(?<![0-9.,])(?:1[1-9]|20)[0-9]{2}(?![0-9]|[.,][0-9])"),
    ("number", rf"(?<![0-9.,])(?:(?<![A-Za-z0-9.]){_MINUS})?{_NUM}{_TAIL}"),
    ("bare_decimal", rf"(?<![0-9A-Za-z.,]){_MINUS}?\.[0-9]+(?![0-9]|[.,][0-9])"),
    ("leftover_digits", r"[0-9]+"),
    ("abbreviation", rf"(?<![A-Za-z])(?:{_ABBREVIATION})"),
    ("symbol", r"[&+@=×#%]"),
]  # fmt: skip
_MASTER = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _RULES))
_NAMES = [name for name, _ in _RULES]
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
_LATIN = re.compile(r"[A-Za-z]")
_NUMBER = re.compile(rf"{_MINUS}?{_NUM}")
_UNSIGNED = re.compile(_NUM)
_POINT = {EN: " point ", ZH: "点"}
_DIGIT_NEXT = re.compile(r"\s?[0-9]")
_CAPITAL_NEXT = re.compile(r"\s+[A-Z]")
_FOLLOWING = re.compile(r"(\s*)(\S?)")  # the whitespace after a match and the character after that
_AMPM = {"a": ("a m", "上午"), "p": ("p m", "下午")}


class TextNormalizer:
    """`normalizer(text)` -> SpokenText. Never raises for any string.

    `others` are spellers of further languages (fr, de, ...), read by their own, smaller rule
    set (`domain.text.languages`) where a request names that language; a language with a
    speller but no word table, or neither, is not read (`reads`)."""

    def __init__(
        self, english: NumberSpeller, chinese: NumberSpeller, others: Mapping[str, NumberSpeller] | None = None
    ) -> None:
        self._spellers = {EN: english, ZH: chinese}
        self._others = {
            lang: LanguageNormalizer(speller, WORDS[lang]) for lang, speller in (others or {}).items() if lang in WORDS
        }
        self._handlers: dict[str, Callable[[str, str, _Context], str]] = {
            name: getattr(self, f"_say_{name}") for name in _NAMES
        }

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages whose numbers this normaliser reads."""
        return (EN, ZH, *self._others)

    def reads(self, language: str | None) -> bool:
        """Whether `language` (None: English and Chinese, told apart by the text) is read here."""
        return language is None or language in self.languages

    def __call__(self, text: str, offset: int = 0, language: str | None = None) -> SpokenText:
        """`offset` is where `text` starts in the request's text, so pieces carry request offsets.
        `language` other than English or Chinese reads the text with that language's rules, or
        says it as written where there are none (`reads`).

        A rewrite can form a new token with its neighbour ("0/0.com" reads "zero over
        zero.com", itself a domain), so the rules run again on the result until nothing
        changes, each later rewrite merged into the pieces it touches: normalising is
        idempotent and every piece still maps to written text."""
        if language in self._others:
            return self._others[language](text, offset)
        if not self.reads(language):
            return SpokenText.verbatim(text, offset)
        pieces: list[SpokenPiece] = []
        position = 0
        rewrites = self._rewrites(text)
        for start, end, spoken in rewrites:
            pieces.extend(plain_pieces(text[position:start], offset + position))
            pieces.append(SpokenPiece(offset + start, offset + end, text[start:end], spoken))
            position = end
        pieces.extend(plain_pieces(text[position:], offset + position))
        for _ in range(MAX_PASSES - 1 if rewrites else 0):  # nothing rewritten: nothing new to read
            rewrites = self._rewrites("".join(piece.spoken for piece in pieces))
            if not rewrites:
                break
            pieces = _apply(pieces, rewrites)
        return SpokenText(tuple(pieces))

    def _rewrites(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, spoken) for every token of `text` a rule says differently, in order."""
        out: list[tuple[int, int, str]] = []
        dominant = _dominant_language(text)
        for match in _MASTER.finditer(text):
            name = next(n for n in _NAMES if match.group(n) is not None)
            context = _Context(text, match.start(), match.end(), dominant)
            spoken = self._handlers[name](match.group(), context.language(), context)
            if not spoken.strip() or spoken == match.group():
                continue
            spoken = context.padded(spoken)
            if spoken.startswith(" ") and out and out[-1][1] == match.start() and out[-1][2].endswith(" "):
                spoken = spoken[1:]
            out.append((match.start(), match.end(), spoken))
        return out

    # --- numbers ------------------------------------------------------------------

    def _number(self, written: str, lang: str) -> str:
        """Any `[-−]?NUM`: grouping commas dropped, leading zeros of the integer part too."""
        negative = written[0] in "-−"
        integer, _, fraction = written.lstrip("-−").replace(",", "").partition(".")
        speller = self._spellers[lang]
        integer = integer.lstrip("0") or "0"
        if len(integer) > MAX_SPELLED_DIGITS:
            words = speller.digits(integer) + (_POINT[lang] + speller.digits(fraction) if fraction else "")
            return (self._minus(lang) if negative else "") + words
        return speller.number(("-" if negative else "") + integer + ("." + fraction if fraction else ""))

    def _minus(self, lang: str) -> str:
        """The speller's word for a minus sign ("minus ", "负"), as it says "-1"."""
        speller = self._spellers[lang]
        return speller.number("-1").removesuffix(speller.number("1"))

    def _say_number(self, written: str, lang: str, context: _Context) -> str:
        """A code glued to letters ("BA2490", "A4") is read digit by digit from three digits on."""
        if context.after_letter() and written.isdigit() and len(written) >= 3:
            return self._spellers[lang].digits(written)
        return self._number(written, lang)

    def _say_ratio(self, written: str, lang: str, context: _Context) -> str:
        first, second = written.split(":")
        return self._number(first, lang) + ("比" if lang == ZH else " to ") + self._number(second, lang)

    def _say_year(self, written: str, lang: str, context: _Context) -> str:
        if context.after_letter():
            return self._spellers[lang].digits(written)
        if lang == ZH:
            return self._number(written, lang)
        return self._spellers[EN].year(int(written))

    def _say_digit_run(self, written: str, lang: str, context: _Context) -> str:
        if len(written) <= MAX_SPELLED_DIGITS and written.endswith("000") and written[0] != "0":
            return self._number(written, lang)
        return self._spellers[lang].digits(written)

    def _say_bare_decimal(self, written: str, lang: str, context: _Context) -> str:
        """A decimal written without its leading zero (".5", or ".50" left after a tag split
        "$4[pause:1s].50"): "point five zero", its places digit by digit as in any decimal."""
        minus = self._minus(lang) if written[0] in "-−" else ""
        return minus + _POINT[lang].lstrip() + self._spellers[lang].digits(written.lstrip("-−")[1:])

    def _say_leftover_digits(self, written: str, lang: str, context: _Context) -> str:
        """Digits no rule above claimed (after a period, inside a token): never left as digits."""
        if written[0] == "0" or len(written) > MAX_SPELLED_DIGITS:
            return self._spellers[lang].digits(written)
        return self._number(written, lang)

    def _say_ordinal(self, written: str, lang: str, context: _Context) -> str:
        """Past MAX_SPELLED_DIGITS an ordinal is read digit by digit like any long number, its
        last digit as an ordinal ("...four fifth"): no grammar names a 400-digit ordinal."""
        english = self._spellers[EN]
        value = written[:-2].lstrip("0") or "0"
        if len(value) > MAX_SPELLED_DIGITS:
            return f"{english.digits(value[:-1])} {english.ordinal(int(value[-1]))}"
        return english.ordinal(int(value))

    def _say_decade(self, written: str, lang: str, context: _Context) -> str:
        digits = written.lstrip("'")[:-1]
        if lang == ZH:
            return self._number(digits, ZH) + "年代"
        words = self._spellers[EN].year(int(digits)) if len(digits) == 4 else self._number(digits, EN)
        return _plural(words)

    def _say_dotted(self, written: str, lang: str, context: _Context) -> str:
        speller = self._spellers[lang]
        parts = [
            speller.digits(part) if part.startswith("0") and len(part) > 1 else self._number(part, lang)
            for part in written.split(".")
        ]
        return ("点" if lang == ZH else " dot ").join(parts)

    def _say_phone(self, written: str, lang: str, context: _Context) -> str:
        speller = self._spellers[lang]
        groups = [speller.digits(group) for group in re.findall(r"[0-9]+", written)]
        plus = SYMBOLS["+"][lang == ZH] + ("" if lang == ZH else " ") if written.startswith("+") else ""
        return plus + ("，" if lang == ZH else ", ").join(groups)

    def _say_fraction(self, written: str, lang: str, context: _Context) -> str:
        """Parts are compared as digit strings, never converted whole: a part of thousands of
        digits is read digit by digit (by `_number`), "X over Y"."""
        numerator, denominator = (part.lstrip("0") or "0" for part in written.split("/"))
        long = max(len(numerator), len(denominator)) > MAX_SPELLED_DIGITS
        if not long and (written == "24/7" or (numerator == denominator and len(numerator) > 1)):  # "a 50/50 chance"
            return " ".join(self._number(part, lang) for part in written.split("/"))
        if lang == ZH:
            return f"{self._number(denominator, ZH)}分之{self._number(numerator, ZH)}"
        count = self._number(numerator, EN)
        if long:
            return f"{count} over {self._number(denominator, EN)}"
        if denominator in ("2", "4"):
            word = {"2": "half", "4": "quarter"}[denominator]
        elif 3 <= int(denominator) <= 1000:
            word = self._spellers[EN].ordinal(int(denominator))
        else:
            return f"{count} over {self._number(denominator, EN)}"
        if numerator != "1":
            word = "halves" if word == "half" else word + "s"
        return f"{count} {word}"

    def _say_mixed_fraction(self, written: str, lang: str, context: _Context) -> str:
        whole, fraction = written.split()
        joiner = "又" if lang == ZH else " and "
        return self._number(whole, lang) + joiner + self._say_fraction(fraction, lang, context)

    # --- quantities -----------------------------------------------------------------

    def _say_percent(self, written: str, lang: str, context: _Context) -> str:
        number = _NUMBER.search(written).group()  # type: ignore[union-attr]
        if lang == ZH:
            negative = number[0] in "-−"
            return ("负" if negative else "") + "百分之" + self._number(number.lstrip("-−"), ZH)
        return self._number(number, EN) + " percent"

    def _say_unit(self, written: str, lang: str, context: _Context) -> str:
        number = _NUMBER.match(written).group()  # type: ignore[union-attr]
        unit = written[len(number) :].strip()
        return self._number(number, lang) + _unit_words(unit, lang, number)

    def _say_range(self, written: str, lang: str, context: _Context) -> str:
        first, second = _UNSIGNED.findall(written)[:2]
        tail = written[written.rindex(second) + len(second) :].strip()
        if lang == EN and all(_is_year(n) for n in (first, second)):
            return f"{self._say_year(first, EN, context)} to {self._say_year(second, EN, context)}"
        if tail in ("%", "％"):
            if lang == ZH:
                return f"百分之{self._number(first, ZH)}到百分之{self._number(second, ZH)}"
            return f"{self._number(first, EN)} to {self._number(second, EN)} percent"
        joiner = "到" if lang == ZH else " to "
        words = self._number(first, lang) + joiner + self._number(second, lang)
        return words + (_unit_words(tail, lang, second) if tail else "")

    def _say_currency(self, written: str, lang: str, context: _Context) -> str:
        negative = written[0] in "-−"
        body = written.lstrip("-−")
        number = _NUMBER.search(body).group()  # type: ignore[union-attr]
        sign = body[: body.index(number)].strip()
        scale = SCALES.get(body[body.index(number) + len(number) :].strip())
        return self._money(number, sign, scale, negative, lang)

    def _say_currency_code(self, written: str, lang: str, context: _Context) -> str:
        number = _NUMBER.match(written).group()  # type: ignore[union-attr]
        return self._money(number, written[len(number) :].strip(), None, False, lang)

    def _money(self, number: str, currency: str, scale: str | None, negative: bool, lang: str) -> str:
        one, many, minor_one, minor_many, chinese = CURRENCIES[currency]
        minus = self._minus(lang) if negative else ""
        if lang == ZH:
            amount = self._number(_trim_zeros(number), ZH)
            return minus + amount + (SCALES_ZH[scale] if scale else "") + chinese
        if scale:
            return f"{minus}{self._number(number, EN)} {scale} {many}"
        integer, _, fraction = number.replace(",", "").partition(".")
        whole = integer.lstrip("0") or "0"  # a digit string: an amount may have thousands of digits
        main = f"{self._number(integer, EN)} {one if whole == '1' and not fraction else many}"
        if not fraction or not minor_one or len(fraction) != 2:
            if fraction:
                return f"{minus}{self._number(number, EN)} {many}"
            return minus + main
        cents = int(fraction)
        minor = f"{self._number(str(cents), EN)} {minor_one if cents == 1 else minor_many}"
        main = f"{self._number(integer, EN)} {one if whole == '1' else many}"
        if whole == "0":
            return minus + minor
        return minus + main + (f" {minor}" if cents else "")

    # --- dates and times --------------------------------------------------------------

    def _date(self, year: int | None, month: int, day: int, lang: str, day_first: bool = False) -> str:
        if lang == ZH:
            prefix = f"{self._spellers[ZH].year(year)}年" if year is not None else ""
            return f"{prefix}{self._number(str(month), ZH)}月{self._number(str(day), ZH)}日"
        english = self._spellers[EN]
        words = (
            f"the {english.ordinal(day)} of {MONTHS[month - 1]}"
            if day_first
            else f"{MONTHS[month - 1]} {english.ordinal(day)}"
        )
        return words + (f", {english.year(year)}" if year is not None else "")

    def _say_iso_date(self, written: str, lang: str, context: _Context) -> str:
        year, month, day = (int(part) for part in written.split("-"))
        return self._date(year, month, day, lang)

    def _say_ymd_date(self, written: str, lang: str, context: _Context) -> str:
        year, month, day = (int(part) for part in written.split("/"))
        return self._date(year, month, day, lang)

    def _say_mdy_date(self, written: str, lang: str, context: _Context) -> str:
        month, day, year = (int(part) for part in written.split("/"))
        return self._date(year, month, day, lang)

    def _say_month_day(self, written: str, lang: str, context: _Context) -> str:
        name = re.match(r"[A-Za-z]+", written).group()  # type: ignore[union-attr]
        numbers = [int(n) for n in re.findall(r"[0-9]+", written)]
        return self._date(numbers[1] if len(numbers) > 1 else None, MONTH_ABBREVIATIONS[name], numbers[0], EN)

    def _say_day_month(self, written: str, lang: str, context: _Context) -> str:
        name = next(w for w in re.findall(r"[A-Za-z]+", written) if w in MONTH_ABBREVIATIONS)
        numbers = [int(n) for n in re.findall(r"[0-9]+", written)]
        year = numbers[1] if len(numbers) > 1 else None
        return self._date(year, MONTH_ABBREVIATIONS[name], numbers[0], EN, day_first=True)

    def _say_zh_year(self, written: str, lang: str, context: _Context) -> str:
        return self._spellers[ZH].year(int(written[:4])) + "年"

    def _say_time(self, written: str, lang: str, context: _Context) -> str:
        clock = re.match(r"[0-9:]+", written).group()  # type: ignore[union-attr]
        hour, minute, *second = (int(part) for part in clock.split(":"))
        half = _ampm(written[len(clock) :])
        if lang == ZH:
            words = f"{self._number(str(hour), ZH)}点"
            if minute or second:
                words += ("零" if minute < 10 else "") + f"{self._number(str(minute), ZH)}分"
            if second:
                words += f"{self._number(str(second[0]), ZH)}秒"
            return (_AMPM[half][1] if half else "") + words
        words = self._number(str(hour), EN)
        if minute:
            words += (" oh " if minute < 10 else " ") + self._number(str(minute), EN)
        elif not half:
            words += " o'clock"
        if second:
            words += f" and {self._number(str(second[0]), EN)} second{'s' if second[0] != 1 else ''}"
        return words + (" " + _AMPM[half][0] + context.period_if_sentence_end() if half else "")

    def _say_hour(self, written: str, lang: str, context: _Context) -> str:
        hour = re.match(r"[0-9]+", written).group()  # type: ignore[union-attr]
        half = _ampm(written[len(hour) :])
        if lang == ZH:
            return f"{_AMPM[half][1]}{self._number(hour, ZH)}点"
        return f"{self._number(hour, EN)} {_AMPM[half][0]}{context.period_if_sentence_end()}"

    # --- words and symbols -------------------------------------------------------------

    def _say_abbreviation(self, written: str, lang: str, context: _Context) -> str:
        if written == "No.":
            return "number" if _DIGIT_NEXT.match(context.text, context.end) else written
        if written == "St.":
            if _CAPITAL_NEXT.match(context.text, context.end):
                return "Saint"
            return "Street" + context.period_if_sentence_end()
        if written in TITLES:
            return TITLES[written]
        return ABBREVIATIONS[written] + context.period_if_sentence_end()

    def _say_symbol(self, written: str, lang: str, context: _Context) -> str:
        return SYMBOLS[written][lang == ZH]

    def _say_url(self, written: str, lang: str, context: _Context) -> str:
        address = re.sub(r"^https?://", "", written).split("?")[0].split("#")[0].rstrip("/")
        return self._address(address) or written

    def _say_domain(self, written: str, lang: str, context: _Context) -> str:
        return self._address(written.split("?")[0].split("#")[0].rstrip("/"))

    def _say_email(self, written: str, lang: str, context: _Context) -> str:
        return self._address(written)

    def _address(self, address: str) -> str:
        """An address read the way people say one: "www.example.com/docs" -> "w w w dot
        example dot com slash docs"; digits one by one; other characters are skipped."""
        words = []
        for part in re.findall(r"[^\W\d_]+|[0-9]+|.", address):
            if part.isdigit() and part.isascii():
                words.append(self._spellers[EN].digits(part))
            elif part in URL_WORDS:
                words.append(URL_WORDS[part])
            elif part.lower() == "www":
                words.append("w w w")
            elif part.isalpha():
                words.append(part)
        return " ".join(words)


class _Context:
    """Where a match sits in its text: for the reading language, spacing and sentence ends."""

    def __init__(self, text: str, start: int, end: int, dominant: str) -> None:
        self.text, self.start, self.end, self._dominant = text, start, end, dominant

    def language(self) -> str:
        if _CJK.search(self.text[self.start : self.end]):
            return ZH
        before = self.text[max(0, self.start - 3) : self.start].rstrip()[-1:]
        after = self.text[self.end : self.end + 3].lstrip()[:1]
        if any(_CJK.match(c) for c in (before, after) if c):
            return ZH
        if any(_LATIN.match(c) for c in (before, after) if c):
            return EN
        return self._dominant

    def after_letter(self) -> bool:
        return self.start > 0 and self.text[self.start - 1].isascii() and self.text[self.start - 1].isalpha()

    def padded(self, spoken: str) -> str:
        """Keeps English words apart from letters, digits and symbols glued to the written
        token ("F5" -> "F five", "2+2" -> "two plus two"); Chinese needs no spaces."""
        before = self.text[self.start - 1] if self.start else ""
        after = self.text[self.end] if self.end < len(self.text) else ""
        if _glued(before) and _wordlike(spoken[0]):
            spoken = " " + spoken
        if _glued(after) and _wordlike(spoken[-1]):
            spoken += " "
        return spoken

    def period_if_sentence_end(self) -> str:
        """A period that the matched abbreviation swallowed, given back where it ended a sentence."""
        if not self.text[self.start : self.end].endswith("."):
            return ""
        space, following = _FOLLOWING.match(self.text, self.end).groups()  # type: ignore[union-attr]
        if not following or (space and (following.isupper() or _CJK.match(following))):
            return "."
        return ""


def _apply(pieces: list[SpokenPiece], rewrites: list[tuple[int, int, str]]) -> list[SpokenPiece]:
    """Pieces with `rewrites` (offsets into the pieces' joined spoken text) applied: the
    pieces a rewrite touches merge into one piece for their written text together."""
    if not rewrites:
        return pieces
    bounds = []
    position = 0
    for piece in pieces:
        bounds.append((position, position + len(piece.spoken)))
        position += len(piece.spoken)
    groups: list[list[int]] = []  # [first piece, last piece + 1]
    first = 0  # rewrites come in order, so each search goes on from where the last one stopped
    for start, end, _ in rewrites:
        while bounds[first][1] <= start:
            first += 1
        last = first
        while last < len(pieces) and bounds[last][0] < end:
            last += 1
        if groups and first < groups[-1][1]:
            groups[-1][1] = max(groups[-1][1], last)
        else:
            groups.append([first, last])
    out: list[SpokenPiece] = []
    done = 0
    pending = iter(rewrites)
    rewrite = next(pending, None)
    for first, last in groups:
        out.extend(pieces[done:first])
        base = bounds[first][0]
        old = "".join(piece.spoken for piece in pieces[first:last])
        new, cursor = [], 0
        while rewrite is not None and rewrite[0] < bounds[last - 1][1]:
            new.append(old[cursor : rewrite[0] - base] + rewrite[2])
            cursor = rewrite[1] - base
            rewrite = next(pending, None)
        new.append(old[cursor:])
        written = "".join(piece.written for piece in pieces[first:last])
        out.append(SpokenPiece(pieces[first].start, pieces[last - 1].end, written, "".join(new)))
        done = last
    out.extend(pieces[done:])
    return out


def _glued(char: str) -> bool:
    return bool(char) and char.isascii() and (char.isalnum() or char in SYMBOLS)


def _wordlike(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _dominant_language(text: str) -> str:
    """Chinese when CJK characters outweigh Latin letters (about four letters to a character)."""
    return ZH if len(_CJK.findall(text)) * 4 > len(_LATIN.findall(text)) else EN


def _is_year(number: str) -> bool:
    return len(number) == 4 and number.isdigit() and 1100 <= int(number) <= 2099


def _plural(words: str) -> str:
    """ "nineteen ninety" -> "nineteen nineties"."""
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _trim_zeros(number: str) -> str:
    """ "4.50" -> "4.5", "3.00" -> "3": amounts are read without trailing zero places in Chinese."""
    if "." not in number:
        return number
    return number.rstrip("0").rstrip(".")


def _ampm(text: str) -> str:
    letter = text.strip()[:1].lower()
    return letter if letter in ("a", "p") else ""


def _unit_words(unit: str, lang: str, number: str) -> str:
    one, many, chinese = UNITS[unit]
    if lang == ZH:
        return chinese
    return " " + (one if number.lstrip("-−") == "1" else many)

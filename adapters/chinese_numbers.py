"""Chinese number words from cn2an: cardinals with 万/亿 grouping, and its "direct"
digit-by-digit mode, which is how years, phone numbers and decimal places are read.

Decimal places are read here with the direct mode rather than by `an2cn` on the whole
number, which keeps only 16 of them (with a warning). cn2an is imported on first use: most
workers never read a Chinese number, and its import costs every cold start.
"""

from __future__ import annotations

import functools
from types import ModuleType


@functools.cache
def _cn2an() -> ModuleType:
    import cn2an

    return cn2an


class ChineseNumbers:
    def number(self, text: str) -> str:
        negative = text.startswith("-")
        integer, _, fraction = text.lstrip("-").partition(".")
        words = _cn2an().an2cn(integer, "low")
        if fraction:
            words += "点" + self.digits(fraction)
        return "负" + words if negative else words

    def ordinal(self, value: int) -> str:
        return "第" + _cn2an().an2cn(str(value), "low")

    def year(self, value: int) -> str:
        return _cn2an().an2cn(str(value), "direct")

    def digits(self, text: str) -> str:
        return _cn2an().an2cn(text, "direct")

"""The words the normaliser puts around numbers and in place of symbols, in English and Chinese.

Plain tables, kept apart from the detection rules so adding a unit or a title is one line.
"""

from __future__ import annotations

# written unit -> (English singular, English plural, Chinese)
UNITS: dict[str, tuple[str, str, str]] = {
    "km/h": ("kilometer per hour", "kilometers per hour", "公里每小时"),
    "kph": ("kilometer per hour", "kilometers per hour", "公里每小时"),
    "mph": ("mile per hour", "miles per hour", "英里每小时"),
    "m/s": ("meter per second", "meters per second", "米每秒"),
    "km": ("kilometer", "kilometers", "公里"),
    "cm": ("centimeter", "centimeters", "厘米"),
    "mm": ("millimeter", "millimeters", "毫米"),
    "m": ("meter", "meters", "米"),
    "mi": ("mile", "miles", "英里"),
    "ft": ("foot", "feet", "英尺"),
    "kg": ("kilogram", "kilograms", "千克"),
    "mg": ("milligram", "milligrams", "毫克"),
    "g": ("gram", "grams", "克"),
    "lb": ("pound", "pounds", "磅"),
    "lbs": ("pound", "pounds", "磅"),
    "oz": ("ounce", "ounces", "盎司"),
    "ml": ("milliliter", "milliliters", "毫升"),
    "mL": ("milliliter", "milliliters", "毫升"),
    "L": ("liter", "liters", "升"),
    "°C": ("degree Celsius", "degrees Celsius", "摄氏度"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit", "华氏度"),
    "°": ("degree", "degrees", "度"),
    "ms": ("millisecond", "milliseconds", "毫秒"),
    "s": ("second", "seconds", "秒"),
    "sec": ("second", "seconds", "秒"),
    "min": ("minute", "minutes", "分钟"),
    "mins": ("minute", "minutes", "分钟"),
    "secs": ("second", "seconds", "秒"),
    "h": ("hour", "hours", "小时"),
    "hr": ("hour", "hours", "小时"),
    "hrs": ("hour", "hours", "小时"),
    "KB": ("kilobyte", "kilobytes", "千字节"),
    "MB": ("megabyte", "megabytes", "兆字节"),
    "GB": ("gigabyte", "gigabytes", "吉字节"),
    "TB": ("terabyte", "terabytes", "太字节"),
    "Hz": ("hertz", "hertz", "赫兹"),
    "kHz": ("kilohertz", "kilohertz", "千赫兹"),
    "MHz": ("megahertz", "megahertz", "兆赫兹"),
    "GHz": ("gigahertz", "gigahertz", "吉赫兹"),
    "W": ("watt", "watts", "瓦"),
    "kW": ("kilowatt", "kilowatts", "千瓦"),
    "kWh": ("kilowatt hour", "kilowatt hours", "千瓦时"),
    "V": ("volt", "volts", "伏"),
    "mAh": ("milliamp hour", "milliamp hours", "毫安时"),
}

# symbol or code -> (English singular, English plural, English minor unit singular/plural, Chinese)
CURRENCIES: dict[str, tuple[str, str, str, str, str]] = {
    "$": ("dollar", "dollars", "cent", "cents", "美元"),
    "US$": ("US dollar", "US dollars", "cent", "cents", "美元"),
    "USD": ("US dollar", "US dollars", "cent", "cents", "美元"),
    "€": ("euro", "euros", "cent", "cents", "欧元"),
    "EUR": ("euro", "euros", "cent", "cents", "欧元"),
    "£": ("pound", "pounds", "penny", "pence", "英镑"),
    "GBP": ("pound", "pounds", "penny", "pence", "英镑"),
    "¥": ("yen", "yen", "", "", "元"),
    "￥": ("yuan", "yuan", "", "", "元"),
    "JPY": ("yen", "yen", "", "", "日元"),
    "CNY": ("yuan", "yuan", "", "", "人民币"),
    "RMB": ("yuan", "yuan", "", "", "人民币"),
}

SCALES: dict[str, str] = {
    "k": "thousand",
    "K": "thousand",
    "thousand": "thousand",
    "m": "million",
    "M": "million",
    "mn": "million",
    "million": "million",
    "b": "billion",
    "B": "billion",
    "bn": "billion",
    "billion": "billion",
    "trillion": "trillion",
}
SCALES_ZH: dict[str, str] = {"thousand": "千", "million": "百万", "billion": "十亿", "trillion": "万亿"}

# Titles (and "vs.") come before a name and lose their period; the others may end a sentence.
TITLES: dict[str, str] = {
    "Mr.": "Mister",
    "Mrs.": "Missus",
    "Ms.": "Miz",
    "Dr.": "Doctor",
    "Prof.": "Professor",
    "Sgt.": "Sergeant",
    "Capt.": "Captain",
    "Lt.": "Lieutenant",
    "Gen.": "General",
    "Gov.": "Governor",
    "Rev.": "Reverend",
    "Mt.": "Mount",
    "vs.": "versus",
}
ABBREVIATIONS: dict[str, str] = {
    "Jr.": "Junior",
    "Sr.": "Senior",
    "etc.": "et cetera",
    "e.g.": "for example",
    "i.e.": "that is",
    "approx.": "approximately",
    "Inc.": "Incorporated",
    "Ltd.": "Limited",
    "Corp.": "Corporation",
    "Co.": "Company",
    "Dept.": "Department",
    "Ave.": "Avenue",
    "Rd.": "Road",
    "Blvd.": "Boulevard",
    "Fig.": "Figure",
}

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
MONTH_ABBREVIATIONS: dict[str, int] = {
    **{name: number for number, name in enumerate(MONTHS, 1)},
    **{name[:3]: number for number, name in enumerate(MONTHS, 1) if name != "May"},
    "Sept": 9,
}

# symbol -> (English, Chinese); read only where they stand for a word
SYMBOLS: dict[str, tuple[str, str]] = {
    "&": ("and", "和"),
    "+": ("plus", "加"),
    "@": ("at", "艾特"),
    "%": ("percent", "百分号"),
    "=": ("equals", "等于"),
    "×": ("times", "乘"),
    "#": ("number", "号"),
}

URL_WORDS: dict[str, str] = {
    ".": "dot",
    "/": "slash",
    "-": "dash",
    "_": "underscore",
    "@": "at",
    ":": "colon",
    "~": "tilde",
}

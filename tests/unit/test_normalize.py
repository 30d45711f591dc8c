"""The text normaliser: golden readings for every class in English and Chinese, the piece
mapping back to written tokens, and properties over arbitrary text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.chinese_numbers import ChineseNumbers
from adapters.english_numbers import EnglishNumbers
from domain.text.normalize import TextNormalizer
from domain.text.spoken import SpokenText

normalize = TextNormalizer(EnglishNumbers(), ChineseNumbers())

ENGLISH = [
    # class, written, spoken
    ("cardinal", "I have 3 apples and 1,234 pears.",
     "I have three apples and one thousand two hundred and thirty-four pears."),
    ("cardinal", "Count 100000000 stars", "Count one hundred million stars"),
    ("ordinal", "She came 3rd, he 21st.", "She came third, he twenty-first."),
    ("decimal", "Pi is 3.14159.", "Pi is three point one four one five nine."),
    ("negative", "It fell to -7 and -0.5.", "It fell to minus seven and minus zero point five."),
    ("year", "In 1998, and again in 2024.", "In nineteen ninety-eight, and again in twenty twenty-four."),
    ("year", "The 1990s and '80s.", "The nineteen nineties and eighties."),
    ("date", "On March 5, 2024 we met.", "On March fifth, twenty twenty-four we met."),
    ("date", "On 5 March 2024 we met.", "On the fifth of March, twenty twenty-four we met."),
    ("date", "Due 2024-03-05.", "Due March fifth, twenty twenty-four."),
    ("date", "Due 12/25/2024.", "Due December twenty-fifth, twenty twenty-four."),
    ("time", "At 10:30, 10:05 or 10:00.", "At ten thirty, ten oh five or ten o'clock."),
    ("time", "At 5 p.m. Then lunch.", "At five p m. Then lunch."),
    ("time", "From 9:15 am to 14:45:30", "From nine fifteen a m to fourteen forty-five and thirty seconds"),
    ("currency", "It costs $4.50 today.", "It costs four dollars fifty cents today."),
    ("currency", "$1, $0.99, £2.01, €3, ¥500.",
     "one dollar, ninety-nine cents, two pounds one penny, three euros, five hundred yen."),
    ("currency", "A $1.5 million deal, 50 USD.", "A one point five million dollars deal, fifty US dollars."),
    ("currency", "Down -$5 today", "Down minus five dollars today"),
    ("percent", "About 50% and 12.5 %.", "About fifty percent and twelve point five percent."),
    ("unit", "It is 5 km away, 1 km more.", "It is five kilometers away, one kilometer more."),
    ("unit", "-5°C, 98.6°F, 2kg, 30 min, 1.5 GB.",
     "minus five degrees Celsius, ninety-eight point six degrees Fahrenheit, two kilograms, thirty minutes, "
     "one point five gigabytes."),
    ("fraction", "Add 3/4, 1/2, 2/3 and 1 1/2 cups.",
     "Add three quarters, one half, two thirds and one and one half cups."),
    ("range", "Pages 10-20, 1990-1995, 5–10 km, 10-20%.",
     "Pages ten to twenty, nineteen ninety to nineteen ninety-five, five to ten kilometers, ten to twenty percent."),
    ("phone", "Call 555-123-4567 or +1 (555) 123-4567.",
     "Call five five five, one two three, four five six seven or "
     "plus one, five five five, one two three, four five six seven."),
    ("phone", "Order 13812345678 or 007.",
     "Order one three eight one two three four five six seven eight or zero zero seven."),
    ("abbreviation", "Dr. Smith met Mr. Jones on Main St.", "Doctor Smith met Mister Jones on Main Street."),
    ("abbreviation", "See Fig. 3, e.g. this, No. 5 etc. Next.",
     "See Figure three, for example this, number five et cetera. Next."),
    ("abbreviation", "St. Louis vs. Acme Inc.", "Saint Louis versus Acme Incorporated."),
    ("symbol", "Tom & Jerry, C++, 2+2=4, @home, #1.",
     "Tom and Jerry, C plus plus, two plus two equals four, at home, number one."),
    ("url", "Visit https://www.example.com/docs?q=1 now.", "Visit w w w dot example dot com slash docs now."),
    ("url", "See example.org/a-b for more.", "See example dot org slash a dash b for more."),
    ("email", "Mail john.doe@example.com.", "Mail john dot doe at example dot com."),
    ("glued", "F5-TTS, COVID-19, MP3 and 3D.", "F five-TTS, COVID-nineteen, MP three and three D."),
    ("glued", "Flight BA2490, Q3 2024.", "Flight BA two four nine zero, Q three twenty twenty-four."),
    ("ratio", "A 16:9 screen, won 3:1.", "A sixteen to nine screen, won three to one."),
    ("fraction", "Open 24/7, a 50/50 chance.", "Open twenty-four seven, a fifty fifty chance."),
    ("dotted", "Version 1.2.3 at 10.0.0.1", "Version one dot two dot three at ten dot zero dot zero dot one"),
    ("phone", "Dr. Lee called 555-0142 on 2024-07-04.",
     "Doctor Lee called five five five, zero one four two on July fourth, twenty twenty-four."),
    ("range", "From 100–1000 people, 100-1000 Hz.",
     "From one hundred to one thousand people, one hundred to one thousand hertz."),
    ("decimal", "Only .5 or -.25 left.", "Only point five or minus point two five left."),
    ("ordinal", "The 100000000000000th and 1234567890123456th.",
     "The one hundred trillionth and one two three four five six seven eight nine zero one two three four five sixth."),
]  # fmt: skip

CHINESE = [
    ("phone", "电话555-0142。", "电话五五五，零一四二。"),
    ("decimal", "只剩.5。", "只剩点五。"),
    ("cardinal", "我有3个苹果和1234个梨。", "我有三个苹果和一千二百三十四个梨。"),
    ("cardinal", "共100000000颗星", "共一亿颗星"),
    ("ordinal", "他得了第3名。", "他得了第三名。"),
    ("decimal", "圆周率是3.14。", "圆周率是三点一四。"),
    ("negative", "温度-3.5度。", "温度负三点五度。"),
    ("year", "他生于1998年。", "他生于一九九八年。"),
    ("year", "八十年代就是80s吗", "八十年代就是八十年代吗"),
    ("date", "今天是2024年3月5日。", "今天是二零二四年三月五日。"),
    ("date", "日期：2024-03-05。", "日期：二零二四年三月五日。"),
    ("date", "日期2024/3/5。", "日期二零二四年三月五日。"),
    ("time", "时间10:30，10:05，10:00。", "时间十点三十分，十点零五分，十点。"),
    ("time", "我们在3pm见面", "我们在下午三点见面"),
    ("currency", "价格是¥12.5，共$4.50。", "价格是十二点五元，共四点五美元。"),
    ("currency", "价格100元，50 CNY。", "价格一百元，五十人民币。"),
    ("percent", "占比50%，负-5%。", "占比百分之五十，负负百分之五。"),
    ("unit", "他跑了5km，用了1.5h。", "他跑了五公里，用了一点五小时。"),
    ("unit", "重2kg，气温-5°C。", "重二千克，气温负五摄氏度。"),
    ("fraction", "约3/4，再加1 1/2杯。", "约四分之三，再加一又二分之一杯。"),
    ("range", "10-20个，5~10公里，10-20%。", "十到二十个，五到十公里，百分之十到百分之二十。"),
    ("phone", "电话13812345678。", "电话一三八一二三四五六七八。"),
    ("phone", "电话+86 138-1234-5678。", "电话加八六，一三八，一二三四，五六七八。"),
    ("symbol", "你&我，1+1=2。", "你和我，一加一等于二。"),
    ("ratio", "比分3:1。", "比分三比一。"),
    ("url", "访问https://example.com了解", "访问example dot com了解"),
    ("email", "邮箱john@example.com。", "邮箱john at example dot com。"),
    ("mixed", "他说 hello 123 world，然后买了$5的东西。",
     "他说 hello one hundred and twenty-three world，然后买了五美元的东西。"),
    ("mixed", "I paid 100元 for 3本书 on May 5.", "I paid 一百元 for 三本书 on May fifth."),
    ("mixed", "Dr. 王 costs 5元", "Doctor 王 costs 五元"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "written", "spoken"), ENGLISH, ids=[f"en-{row[0]}" for row in ENGLISH])
def test_english_golden(kind, written, spoken):
    assert normalize(written).text == spoken


@pytest.mark.parametrize(("kind", "written", "spoken"), CHINESE, ids=[f"zh-{row[0]}" for row in CHINESE])
def test_chinese_golden(kind, written, spoken):
    assert normalize(written).text == spoken


def test_every_class_has_golden_rows_in_both_languages():
    classes = {"cardinal", "ordinal", "decimal", "negative", "year", "date", "time", "currency", "percent", "unit",
               "fraction", "range", "phone", "symbol", "url", "email"}  # fmt: skip
    assert classes <= {row[0] for row in ENGLISH} and classes <= {row[0] for row in CHINESE}


def test_each_spoken_word_maps_back_to_its_written_token():
    spoken = normalize("Pay $4.50 now", offset=7)
    assert [(word, [p.written for p in pieces]) for word, pieces in spoken.words()] == [
        ("Pay", ["Pay"]), ("four", ["$4.50"]), ("dollars", ["$4.50"]), ("fifty", ["$4.50"]), ("cents", ["$4.50"]),
        ("now", ["now"]),
    ]  # fmt: skip
    money = spoken.pieces[2]
    assert (money.start, money.end, money.rewritten) == (11, 16, True)


def test_a_chinese_word_maps_to_every_piece_it_was_said_for():
    spoken = normalize("他第3名")
    mapping = [(word, [p.written for p in pieces]) for word, pieces in spoken.words()]
    assert mapping == [("他第三名", ["他第", "3", "名"])]


def test_plain_text_said_verbatim_still_maps_word_by_word():
    spoken = SpokenText.verbatim("a  $5 b", offset=3)
    assert spoken.text == spoken.written == "a  $5 b"
    assert [(p.start, p.written) for p in spoken.pieces] == [(3, "a"), (4, "  "), (6, "$5"), (8, " "), (9, "b")]


def test_unmatched_abbreviation_like_words_are_left_as_written():
    assert normalize("No one said No.").text == "No one said No."


any_text = st.lists(
    st.sampled_from([*"0123456789 .,:-/$%&+@#°年月日元个公里kmKMBs:abcXYZ中文。，", "Dr.", "St.", "www.", ".com", "am"])
    | st.characters(codec="utf-8"),
    max_size=60,
).map("".join)
# words that no rule reads: no unit or month names, no characters such as 年 that follow numbers
PLAIN_HANZI = "的一是在不了有和人这中大为上国我以要他来用们生到作地于出就对成会可主发"
words = st.lists(st.from_regex(rf"[a-z]{{5,10}}|[{PLAIN_HANZI}]{{1,4}}", fullmatch=True), min_size=1, max_size=30)


@given(any_text)
def test_never_raises_and_pieces_tile_the_text(text):
    spoken = normalize(text, offset=5)
    assert spoken.written == text
    position = 5
    for piece in spoken.pieces:
        assert piece.start == position and piece.end == position + len(piece.written)
        position = piece.end
    words = spoken.words()
    assert [w for w, _ in words] == spoken.text.split()
    assert all(pieces for _, pieces in words)


@given(any_text)
def test_idempotent(text):
    once = normalize(text).text
    assert normalize(once).text == once


@given(any_text)
def test_no_ascii_digit_survives(text):
    assert not re.search(r"[0-9]", normalize(text).text)


@given(words, st.sampled_from([" ", "  ", "\n"]))
def test_plain_words_are_left_alone(items, separator):
    text = separator.join(items)
    assert normalize(text).text == text


@given(words, st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=10))
def test_order_is_kept(items, numbers):
    """Words and numbers interleaved: the words come out in the same order, each number's
    reading lies between its neighbours."""
    tokens = [str(n) for n in numbers]
    mixed = [x for pair in zip(items, tokens, strict=False) for x in pair] + items[len(tokens) :]
    spoken = normalize(" ".join(mixed))
    assert [p.written for p in spoken.pieces if not p.written.isspace()] == mixed
    plain = [p.spoken for p in spoken.pieces if not p.rewritten and not p.written.isspace()]
    assert plain == [t for t in mixed if not t.isdigit()]


def test_a_rewrite_that_forms_a_new_token_is_read_again_and_merged():
    spoken = normalize("see 0/0.com")
    assert spoken.text == "see zero over zero dot com"
    assert [p.written for p in spoken.pieces if p.rewritten] == ["0/0.com"]


# --- huge numbers (issue 32, item 6) ---------------------------------------------------------

HUGE = "1" * 5000  # past Python's 4,300-digit limit for int(str)


@pytest.mark.parametrize(
    "text",
    ["1" * 400 + "th", "1" * 4400 + "th", "$" + HUGE, "$" + HUGE + ".50", "-$" + HUGE, "−$" + HUGE, "¥" + HUGE,
     HUGE + " USD", HUGE + "/" + HUGE, "1/" + HUGE, HUGE + "/2", "3 " + HUGE + "/" + HUGE, HUGE + " 1/2",
     HUGE + "%", HUGE + " km", "1-" + HUGE, "价格¥" + HUGE, HUGE + "/" + HUGE + "中", "第" + HUGE + "名"],
    ids=lambda text: re.sub(r"1{400,}", lambda m: f"1x{len(m.group())}", text),
)  # fmt: skip
def test_a_huge_number_in_any_rule_is_read_digit_by_digit(text):
    """These raised OverflowError (num2words) or ValueError (int of over 4,300 digits)."""
    spoken = normalize(text).text
    assert not re.search(r"[0-9]", spoken)
    assert "one one one one one" in spoken or "一一一一一" in spoken


def test_long_ordinals_are_read_digit_by_digit_like_long_numbers():
    """An ordinal of 16 to 300 digits was spelled out in full while the same digits alone were
    read one by one; now both are, the ordinal's last digit as an ordinal."""
    for digits in ("1234567890123456", "7" * 300):
        assert normalize(digits + "th").text == normalize(digits[:-1]).text + " " + normalize(f"{digits[-1]}th").text


def test_the_issue_s_big_ordinal_and_amount():
    assert normalize("1" * 400 + "th").text == "one " * 399 + "first"
    assert normalize("$" + "1" * 20).text == "one " * 20 + "dollars"
    assert normalize("1" * 20 + "/" + "2" * 20).text == "one " * 20 + "over" + " two" * 20


huge_digits = st.tuples(st.integers(16, 6000), st.sampled_from("0123456789")).map(lambda p: "9" + p[1] * p[0])
number_templates = st.sampled_from(
    ["{}th", "{}st", "${}", "${}.99", "-€{}", "{} EUR", "{}/{}", "1/{}", "{}/7", "2 {}/{}", "{} 3/4", "{}%", "{} kg",
     "{}-{}", "第{}名", "价格{}元", "{}.{}", "{}:{}", "{}s", "{}.5.6", "¥{}万", "{}年", "-{}", "约{}%", "${} million"]
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(number_templates, huge_digits, huge_digits)
def test_huge_numbers_never_raise_in_any_template(template, first, second):
    text = template.format(first, second)
    spoken = normalize(text)
    assert spoken.written == text
    assert not re.search(r"[0-9]", spoken.text)


def test_the_readme_front_end_table_is_what_the_normaliser_says():
    section = (Path(__file__).parents[2] / "README.md").read_text().split("### Text front-end\n", 1)[1]
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|$", section.split("\n### ", 1)[0], re.MULTILINE)
    assert len(rows) >= 8
    assert [normalize(written).text for written, _ in rows] == [spoken for _, spoken in rows]

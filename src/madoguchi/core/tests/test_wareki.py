"""Tests for madoguchi.core.wareki: era dates and fiscal years. Pure functions; no database."""

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.core.wareki import (
    ERAS,
    era_by_name,
    era_of,
    fiscal_year,
    fiscal_year_bounds,
    fiscal_year_era,
    format_fiscal_year,
    format_wareki,
    parse_fiscal_year,
    parse_wareki,
    to_wareki,
)

# Hypothesis's per-example deadline measures wall-clock time, which a loaded shared machine (or xdist) can
# exceed at random; these properties check results, not speed.
no_deadline = settings(deadline=None)

MEIJI_START = date(1868, 10, 23)
dates = st.dates(min_value=MEIJI_START, max_value=date(2200, 12, 31))
styles = st.sampled_from(["long", "short", "numeric"])

# ASCII → full-width (U+FF01..U+FF5E), as typed with a Japanese IME.
_TO_FULLWIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}


def test_era_table() -> None:
    assert [(e.name, e.abbreviation, e.english, e.start) for e in ERAS] == [
        ("明治", "M", "Meiji", date(1868, 10, 23)),
        ("大正", "T", "Taisho", date(1912, 7, 30)),
        ("昭和", "S", "Showa", date(1926, 12, 25)),
        ("平成", "H", "Heisei", date(1989, 1, 8)),
        ("令和", "R", "Reiwa", date(2019, 5, 1)),
    ]
    # No gaps, no overlaps: each era ends the day before the next begins.
    for older, newer in zip(ERAS, ERAS[1:], strict=False):
        assert older.end == newer.start - timedelta(days=1)
    assert ERAS[-1].end is None


@pytest.mark.parametrize("name", ["令和", "R", "r", "Ｒ", "Reiwa", "reiwa"])
def test_era_by_name(name: str) -> None:
    assert era_by_name(name).name == "令和"


def test_era_by_name_unknown() -> None:
    with pytest.raises(ValueError, match="unknown era"):
        era_by_name("文久")


@pytest.mark.parametrize(
    ("d", "era", "year"),
    [
        (date(2019, 4, 30), "平成", 31),
        (date(2019, 5, 1), "令和", 1),
        (date(2020, 4, 1), "令和", 2),
        (date(1989, 1, 7), "昭和", 64),
        (date(1989, 1, 8), "平成", 1),
        (date(1926, 12, 24), "大正", 15),
        (date(1926, 12, 25), "昭和", 1),
        (date(1912, 7, 29), "明治", 45),
        (date(1912, 7, 30), "大正", 1),
        (date(1868, 10, 23), "明治", 1),
    ],
)
def test_to_wareki(d: date, era: str, year: int) -> None:
    w = to_wareki(d)
    assert (w.era.name, w.year, w.month, w.day) == (era, year, d.month, d.day)
    assert w.to_date() == d


def test_before_meiji_is_rejected() -> None:
    with pytest.raises(ValueError, match="before the first supported era"):
        to_wareki(date(1868, 10, 22))


@pytest.mark.parametrize(
    ("d", "long", "short", "numeric"),
    [
        (date(2020, 4, 1), "令和2年4月1日", "R2.4.1", "R02/04/01"),
        (date(2019, 5, 1), "令和元年5月1日", "R1.5.1", "R01/05/01"),
        (date(2019, 4, 30), "平成31年4月30日", "H31.4.30", "H31/04/30"),
        (date(1989, 1, 8), "平成元年1月8日", "H1.1.8", "H01/01/08"),
        (date(1989, 1, 7), "昭和64年1月7日", "S64.1.7", "S64/01/07"),
        (date(2030, 12, 31), "令和12年12月31日", "R12.12.31", "R12/12/31"),
    ],
)
def test_format_wareki(d: date, long: str, short: str, numeric: str) -> None:
    assert format_wareki(d) == long
    assert format_wareki(d, style="long") == long
    assert format_wareki(d, style="short") == short
    assert format_wareki(d, style="numeric") == numeric


def test_format_wareki_unknown_style() -> None:
    with pytest.raises(ValueError, match="unknown style"):
        format_wareki(date(2020, 4, 1), style="kanji")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和2年4月1日", date(2020, 4, 1)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("令和1年5月1日", date(2019, 5, 1)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("R2.4.1", date(2020, 4, 1)),
        ("R02/04/01", date(2020, 4, 1)),
        ("R2-4-1", date(2020, 4, 1)),
        ("r2.4.1", date(2020, 4, 1)),
        ("R元.5.1", date(2019, 5, 1)),
        ("H31.4.30", date(2019, 4, 30)),
        ("S64.1.7", date(1989, 1, 7)),
        ("令和２年４月１日", date(2020, 4, 1)),  # full-width digits
        ("Ｒ０２／０４／０１", date(2020, 4, 1)),  # full-width letter and slashes
        ("㋿2年4月1日", date(2020, 4, 1)),  # the single-character era ligature
        ("㍻31年4月30日", date(2019, 4, 30)),
        ("  令和 2年 4月 1日 ", date(2020, 4, 1)),
        ("令和2年04月01日", date(2020, 4, 1)),
        ("令和2年2月29日", date(2020, 2, 29)),
    ],
)
def test_parse_wareki(text: str, expected: date) -> None:
    assert parse_wareki(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("令和元年4月30日", "before the start of 令和"),  # 令和 began on 5月1日
        ("平成32年1月1日", "after the end of 平成"),  # 平成 had ended
        ("平成31年5月1日", "after the end of 平成"),
        ("昭和64年1月8日", "after the end of 昭和"),
        ("平成元年1月7日", "before the start of 平成"),
        ("明治元年1月1日", "before the start of 明治"),
        ("令和0年5月1日", "starts at 1"),
        ("令和3年2月29日", "not a valid date"),
        ("令和2年13月1日", "not a valid date"),
        ("R2.4/1", "not a 和暦 date"),  # mixed separators
        ("2020年4月1日", "not a 和暦 date"),  # western year
        ("令和二年四月一日", "not a 和暦 date"),  # kanji numerals are not supported
        ("X2.4.1", "not a 和暦 date"),
        ("", "not a 和暦 date"),
    ],
)
def test_parse_wareki_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_wareki(text)


def test_era_boundaries_are_exact() -> None:
    for older, newer in zip(ERAS, ERAS[1:], strict=False):
        last = newer.start - timedelta(days=1)
        assert era_of(last) is older
        assert era_of(newer.start) is newer
        old_year = older.year_of(last.year)
        assert parse_wareki(f"{older.name}{old_year}年{last.month}月{last.day}日") == last
        assert parse_wareki(f"{newer.name}元年{newer.start.month}月{newer.start.day}日") == newer.start
        # The same days named in the wrong era do not exist.
        with pytest.raises(ValueError):
            parse_wareki(f"{newer.name}元年{last.month}月{last.day}日")
        start_in_old = older.year_of(newer.start.year)
        with pytest.raises(ValueError):
            parse_wareki(f"{older.name}{start_in_old}年{newer.start.month}月{newer.start.day}日")


def test_datetime_is_rejected() -> None:
    # A UTC timestamp's date is the wrong Japanese day for 9 hours a day: the caller must convert first.
    with pytest.raises(TypeError):
        to_wareki(datetime(2019, 4, 30, 15, 0))  # noqa: DTZ001
    with pytest.raises(TypeError):
        fiscal_year(datetime(2021, 3, 31, 15, 0))  # noqa: DTZ001


@no_deadline
@given(dates, styles)
def test_format_parse_round_trip(d: date, style: str) -> None:
    assert parse_wareki(format_wareki(d, style=style)) == d  # type: ignore[arg-type]


@no_deadline
@given(dates, styles)
def test_full_width_input_round_trip(d: date, style: str) -> None:
    assert parse_wareki(format_wareki(d, style=style).translate(_TO_FULLWIDTH)) == d  # type: ignore[arg-type]


@no_deadline
@given(dates)
def test_to_wareki_is_within_its_era(d: date) -> None:
    w = to_wareki(d)
    assert w.era.contains(d)
    assert w.year >= 1
    assert str(w).startswith(w.era.name)
    assert ("元年" in str(w)) == (w.year == 1)


# --- 年度 -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("d", "fy"),
    [
        (date(2020, 4, 1), 2020),
        (date(2021, 3, 31), 2020),
        (date(2020, 3, 31), 2019),
        (date(2020, 12, 31), 2020),
        (date(2021, 1, 1), 2020),
        (date(2019, 5, 1), 2019),
    ],
)
def test_fiscal_year(d: date, fy: int) -> None:
    assert fiscal_year(d) == fy


def test_fiscal_year_bounds() -> None:
    assert fiscal_year_bounds(2020) == (date(2020, 4, 1), date(2021, 3, 31))
    assert fiscal_year_bounds(2023) == (date(2023, 4, 1), date(2024, 3, 31))


@pytest.mark.parametrize(
    ("fy", "name"),
    [
        (2020, "令和2年度"),
        (2019, "令和元年度"),  # began as 平成31年度, renamed after 2019-05-01
        (2018, "平成30年度"),
        (2021, "令和3年度"),
        (1989, "平成元年度"),  # 平成 began on 1989-01-08, before this fiscal year
        (1988, "昭和63年度"),  # not "平成0年度", although 平成 began within it
        (1926, "大正15年度"),
        (1912, "明治45年度"),
        (1868, "明治元年度"),
    ],
)
def test_format_fiscal_year(fy: int, name: str) -> None:
    assert format_fiscal_year(fy) == name
    assert format_fiscal_year(fy, style="wareki") == name
    assert parse_fiscal_year(name) == fy


def test_format_fiscal_year_western_and_errors() -> None:
    assert format_fiscal_year(2020, style="western") == "2020年度"
    with pytest.raises(ValueError, match="unknown style"):
        format_fiscal_year(2020, style="kanji")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="before the first supported era"):
        format_fiscal_year(1867)


@pytest.mark.parametrize(
    ("text", "fy"),
    [
        ("令和2年度", 2020),
        ("令和元年度", 2019),
        ("平成31年度", 2019),  # the name FY2019 had until 2019-04-30
        ("2020年度", 2020),
        ("R2年度", 2020),
        ("令和２年度", 2020),
        ("２０２０年度", 2020),
        ("平成30年度", 2018),
        ("昭和63年度", 1988),
        ("大正元年度", 1912),  # 大正 began on 1912-07-30, within FY1912
    ],
)
def test_parse_fiscal_year(text: str, fy: int) -> None:
    assert parse_fiscal_year(text) == fy


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("平成32年度", "began after 平成 ended"),
        ("昭和64年度", "began after 昭和 ended"),  # FY1989 began on 1989-04-01, in 平成
        ("令和0年度", "starts at 1"),
        ("令和2年", "not a fiscal year name"),
        ("2020", "not a fiscal year name"),
    ],
)
def test_parse_fiscal_year_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fiscal_year(text)


@no_deadline
@given(dates)
def test_fiscal_year_contains_its_date(d: date) -> None:
    first, last = fiscal_year_bounds(fiscal_year(d))
    assert first <= d <= last


@no_deadline
@given(st.integers(min_value=1868, max_value=2200))
def test_fiscal_year_name_round_trip(fy: int) -> None:
    assert parse_fiscal_year(format_fiscal_year(fy)) == fy
    assert parse_fiscal_year(format_fiscal_year(fy, style="western")) == fy
    era = fiscal_year_era(fy)
    first, last = fiscal_year_bounds(fy)
    # The named era was in force during the fiscal year.
    assert era.start <= last and (era.end is None or era.end >= first)

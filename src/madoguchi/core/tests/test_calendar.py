"""Tests for madoguchi.core.calendar: public-office business days. Pure functions; no database."""

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.core.calendar import (
    YEAR_END_HOLIDAY_NAME,
    add_business_days,
    business_days_between,
    clear_cache,
    deadline_after,
    holiday_name,
    is_business_day,
    next_business_day,
    previous_business_day,
)

# Holidays are statutory (and published) for these years; the range keeps hypothesis away from date.max.
# Hypothesis's per-example deadline measures wall-clock time, which a loaded shared machine (or xdist) can
# exceed at random; these properties check results, not speed.
no_deadline = settings(deadline=None)

dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))
business_dates = dates.filter(is_business_day)
counts = st.integers(min_value=0, max_value=400)


def _warm() -> None:
    for year in range(1998, 2044):  # the strategies' range, plus what ±400 business days can reach
        is_business_day(date(year, 6, 1))


@pytest.fixture(autouse=True, scope="module")
def _warm_holiday_tables() -> None:
    """Build the per-year tables first, so that Hypothesis's per-example deadline measures the functions and
    not the one-off holiday computation (and cannot flake when a cold year is first touched)."""
    _warm()


def _naive_count(start: date, end: date) -> int:
    """Reference implementation of business_days_between: walk every day of (start, end]."""
    n, d = 0, start
    while d < end:
        d += timedelta(days=1)
        n += is_business_day(d)
    return n


@pytest.mark.parametrize(
    ("d", "name"),
    [
        (date(2020, 9, 21), "敬老の日"),
        (date(2020, 9, 22), "秋分の日"),
        (date(2019, 4, 30), "国民の休日"),  # between 昭和の日 and the accession day
        (date(2019, 5, 1), "天皇の即位の日"),
        (date(2019, 5, 2), "国民の休日"),
        (date(2019, 10, 22), "即位礼正殿の儀"),
        (date(2021, 7, 23), "スポーツの日"),  # moved for the Tokyo Olympics
        (date(2020, 7, 24), "スポーツの日"),
        (date(2021, 1, 1), "元日"),  # the national holiday's name wins over 年末年始
        (date(2020, 2, 24), "天皇誕生日 振替休日"),
    ],
)
def test_known_holidays(d: date, name: str) -> None:
    assert holiday_name(d) == name
    assert not is_business_day(d)


def test_moved_olympic_holidays_are_business_days_on_their_usual_dates() -> None:
    # 2021: スポーツの日 moved from Monday 10-11 to 07-23, 海の日 from 07-19 to 07-22.
    assert is_business_day(date(2021, 10, 11))
    assert is_business_day(date(2021, 7, 19))
    assert holiday_name(date(2021, 7, 22)) == "海の日"


def test_year_end_closure() -> None:
    closed = [date(2020, 12, 29) + timedelta(days=i) for i in range(6)]  # 12/29 .. 1/3
    assert closed[-1] == date(2021, 1, 3)
    for d in closed:
        assert not is_business_day(d), d
        assert holiday_name(d) in (YEAR_END_HOLIDAY_NAME, "元日"), d
    assert holiday_name(date(2020, 12, 29)) == YEAR_END_HOLIDAY_NAME
    assert holiday_name(date(2021, 1, 3)) == YEAR_END_HOLIDAY_NAME  # a Sunday, but named
    assert is_business_day(date(2020, 12, 28))  # Monday
    assert is_business_day(date(2021, 1, 4))  # Monday
    assert next_business_day(date(2020, 12, 28)) == date(2021, 1, 4)
    assert previous_business_day(date(2021, 1, 4)) == date(2020, 12, 28)


def test_weekends_are_closed_but_have_no_holiday_name() -> None:
    assert not is_business_day(date(2020, 8, 1))  # Saturday
    assert not is_business_day(date(2020, 8, 2))  # Sunday
    assert holiday_name(date(2020, 8, 1)) is None
    assert holiday_name(date(2020, 8, 2)) is None
    assert holiday_name(date(2020, 8, 3)) is None  # an ordinary Monday
    # A holiday on a weekend keeps its name.
    assert holiday_name(date(2019, 5, 4)) == "みどりの日"  # Saturday


def test_add_business_days_examples() -> None:
    friday = date(2020, 7, 31)
    assert add_business_days(friday, 1) == date(2020, 8, 3)
    assert add_business_days(friday, 0) == friday
    assert add_business_days(date(2020, 8, 1), 0) == date(2020, 8, 3)  # Saturday rolls forward
    assert add_business_days(date(2020, 8, 1), 1) == date(2020, 8, 3)
    assert add_business_days(date(2020, 8, 3), -1) == friday
    assert add_business_days(date(2020, 8, 1), -1) == friday
    # Across Golden Week 2019 (4/27–5/6 closed for ten days).
    assert add_business_days(date(2019, 4, 26), 1) == date(2019, 5, 7)
    assert business_days_between(date(2019, 4, 26), date(2019, 5, 7)) == 1
    # Across 年末年始.
    assert add_business_days(date(2020, 12, 28), 1) == date(2021, 1, 4)
    # Across the 2020 Silver Week: 9/19 Sat – 9/22 Tue.
    assert add_business_days(date(2020, 9, 18), 1) == date(2020, 9, 23)


def test_deadline_after() -> None:
    assert deadline_after(date(2020, 7, 31), 3) == date(2020, 8, 5)  # Fri → Wed; the start day is not counted
    assert deadline_after(date(2020, 8, 1), 3) == date(2020, 8, 5)  # received on Saturday
    assert deadline_after(date(2020, 8, 3), 0) == date(2020, 8, 3)
    assert deadline_after(date(2020, 8, 2), 0) == date(2020, 8, 3)
    with pytest.raises(ValueError):
        deadline_after(date(2020, 8, 3), -1)


def test_business_days_between_examples() -> None:
    assert business_days_between(date(2020, 7, 31), date(2020, 8, 3)) == 1
    assert business_days_between(date(2020, 8, 3), date(2020, 8, 3)) == 0
    assert business_days_between(date(2020, 8, 3), date(2020, 7, 31)) == -1
    # FY2020 (2020-04-01 – 2021-03-31): 365 days − 104 weekend days − 15 weekday holidays (元日 included)
    # − 3 year-end weekdays (12/29–12/31).
    assert business_days_between(date(2020, 3, 31), date(2021, 3, 31)) == 243
    assert business_days_between(date(2020, 3, 31), date(2021, 3, 31)) == _naive_count(
        date(2020, 3, 31), date(2021, 3, 31)
    )


def test_datetime_is_rejected() -> None:
    with pytest.raises(TypeError):
        is_business_day(datetime(2020, 8, 2, 16, 0))  # noqa: DTZ001 — a naive/UTC instant is ambiguous
    with pytest.raises(TypeError):
        add_business_days(datetime(2020, 8, 2, 16, 0), 1)  # noqa: DTZ001


def test_clear_cache_keeps_answers() -> None:
    before = is_business_day(date(2020, 9, 22))
    clear_cache()
    assert is_business_day(date(2020, 9, 22)) == before
    _warm()  # leave the tables warm for the property tests


@no_deadline
@given(dates, counts)
def test_add_business_days_lands_on_business_day(d: date, n: int) -> None:
    assert is_business_day(add_business_days(d, n))
    assert is_business_day(add_business_days(d, -n))


@no_deadline
@given(business_dates, counts)
def test_add_then_count_is_identity(d: date, n: int) -> None:
    assert business_days_between(d, add_business_days(d, n)) == n
    assert business_days_between(d, add_business_days(d, -n)) == -n


@no_deadline
@given(dates, st.integers(min_value=1, max_value=400))
def test_add_then_count_from_any_day(d: date, n: int) -> None:
    # For n ≥ 1 the start day is never counted, so it need not be a business day.
    result = add_business_days(d, n)
    assert business_days_between(d, result) == n
    # ... and it is the first day at which n business days have elapsed.
    assert business_days_between(d, result - timedelta(days=1)) == n - 1


@no_deadline
@given(dates, st.integers(min_value=-800, max_value=800))
def test_business_days_between_matches_day_by_day_count(d: date, offset: int) -> None:
    other = d + timedelta(days=offset)
    expected = _naive_count(d, other) if other >= d else -_naive_count(other, d)
    assert business_days_between(d, other) == expected


@no_deadline
@given(dates)
def test_next_and_previous_business_day(d: date) -> None:
    nxt = next_business_day(d)
    prev = previous_business_day(d)
    assert prev < d < nxt
    assert is_business_day(nxt) and is_business_day(prev)
    assert business_days_between(d, nxt) == 1
    assert business_days_between(prev, d) == (1 if is_business_day(d) else 0)


@no_deadline
@given(dates)
def test_closed_days_consistency(d: date) -> None:
    # A named day is closed; an unnamed day is closed exactly when it is a weekend.
    if holiday_name(d) is not None:
        assert not is_business_day(d)
    else:
        assert is_business_day(d) == (d.weekday() < 5)

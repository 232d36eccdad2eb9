"""Business days of Japanese public offices, for deadlines and standard processing times.

A day is a business day (開庁日) unless it is one of the 行政機関の休日 (行政機関の休日に関する法律 第1条):
a Saturday or Sunday, a 国民の祝日 or other statutory holiday (including 振替休日, 国民の休日 and one-off
holidays such as 2019-05-01 天皇の即位の日), or a day from 29 December to 3 January (年末年始).

Contracts
---------
- Functions take ``datetime.date`` and reject ``datetime.datetime`` with ``TypeError``: a stored timestamp is
  UTC, and its UTC date is the wrong day for nine hours of every Japanese day. Convert to Asia/Tokyo first.
- Holidays come from the ``jpholiday`` package. They are statutory from 1948-07-20 (祝日法); earlier years and
  years after the Cabinet Office's published list contain jpholiday's computed dates (春分/秋分 are
  astronomical estimates until officially announced each February). Dates near ``date.max`` overflow.
- The closed days of a year are computed once and cached (``functools.lru_cache``). If holidays are changed
  at run time (``jpholiday.register``), call ``clear_cache()``.
- Municipalities may close on extra days by ordinance (e.g. a founding day); this module does not know them.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType

import jpholiday

__all__ = [
    "YEAR_END_HOLIDAY_NAME",
    "add_business_days",
    "business_days_between",
    "clear_cache",
    "deadline_after",
    "holiday_name",
    "is_business_day",
    "next_business_day",
    "previous_business_day",
]

#: Name returned by ``holiday_name`` for 29 December – 3 January when no national holiday falls on the day.
YEAR_END_HOLIDAY_NAME = "年末年始休暇"

_ONE_DAY = timedelta(days=1)


def _require_date(d: object) -> date:
    # datetime is a subclass of date, so isinstance(d, date) alone would accept it.
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(
            f"expected a datetime.date (not {type(d).__name__}); convert to the Japan local date first"
        )
    return d


@lru_cache(maxsize=512)
def _closed_days(year: int) -> Mapping[date, str]:
    """The named closures of ``year`` → their names: national holidays (also those on a weekend) and
    29 Dec – 3 Jan. Plain weekends are not listed. Read-only, because every caller shares the cached object."""
    names: dict[date, str] = {}
    for day in (1, 2, 3):
        names[date(year, 1, day)] = YEAR_END_HOLIDAY_NAME
    for day in (29, 30, 31):
        names[date(year, 12, day)] = YEAR_END_HOLIDAY_NAME
    # jpholiday may list two holidays on one date; keep the first, which is what its is_holiday_name reports.
    national: dict[date, str] = {}
    for d, name in jpholiday.year_holidays(year):
        national.setdefault(d, name)
    # Applied after the year-end days so that 1 January is named 元日, not 年末年始休暇.
    names.update(national)
    return MappingProxyType(names)


@lru_cache(maxsize=512)
def _closed_weekdays(year: int) -> tuple[date, ...]:
    """Sorted closures of ``year`` that fall Monday–Friday: the days a pure weekday count gets wrong."""
    return tuple(sorted(d for d in _closed_days(year) if d.weekday() < 5))


def clear_cache() -> None:
    """Forget the cached holiday tables (after ``jpholiday.register``/``unregister``, or in tests)."""
    _closed_days.cache_clear()
    _closed_weekdays.cache_clear()


def is_business_day(d: date) -> bool:
    """True when public offices are open on ``d``: a weekday that is not a holiday nor 29 Dec – 3 Jan."""
    d = _require_date(d)
    return d.weekday() < 5 and d not in _closed_days(d.year)


def holiday_name(d: date) -> str | None:
    """The Japanese name of the holiday on ``d``, or None.

    National holidays give jpholiday's name (元日, 敬老の日, 国民の休日, "こどもの日 振替休日" …), also when
    they fall on a weekend; 29–31 December and 2–3 January give ``YEAR_END_HOLIDAY_NAME`` (1 January is 元日).
    An ordinary Saturday or Sunday is not a holiday and gives None, like any business day.
    """
    d = _require_date(d)
    return _closed_days(d.year).get(d)


def next_business_day(d: date) -> date:
    """The first business day strictly after ``d``."""
    d = _require_date(d)
    d += _ONE_DAY
    while not is_business_day(d):
        d += _ONE_DAY
    return d


def previous_business_day(d: date) -> date:
    """The last business day strictly before ``d``."""
    d = _require_date(d)
    d -= _ONE_DAY
    while not is_business_day(d):
        d -= _ONE_DAY
    return d


def add_business_days(d: date, n: int) -> date:
    """Move ``n`` business days from ``d``.

    - n > 0: the n-th business day strictly after ``d`` (``d`` itself is never counted, business day or not).
      Friday 2020-07-31 + 1 → Monday 2020-08-03.
    - n = 0: ``d`` if it is a business day, else the next business day (roll forward).
    - n < 0: the |n|-th business day strictly before ``d``.

    The result is always a business day, and for n ≠ 0 ``business_days_between(d, result) == n``
    (for n = 0 too when ``d`` is a business day).
    """
    d = _require_date(d)
    if n == 0:
        return d if is_business_day(d) else next_business_day(d)
    step = _ONE_DAY if n > 0 else -_ONE_DAY
    remaining = abs(n)
    while remaining:
        d += step
        if d.weekday() < 5 and d not in _closed_days(d.year):
            remaining -= 1
    return d


def _weekdays_through(d: date) -> int:
    """Number of Monday–Friday dates from 0001-01-01 (a Monday, ordinal 1) to ``d`` inclusive."""
    weeks, rest = divmod(d.toordinal(), 7)
    return weeks * 5 + min(rest, 5)


def _closed_weekdays_in(start: date, end: date) -> int:
    """Closed Monday–Friday dates in (start, end], start <= end."""
    count = 0
    for year in range(start.year, end.year + 1):
        days = _closed_weekdays(year)
        lo = bisect.bisect_right(days, start) if year == start.year else 0
        hi = bisect.bisect_right(days, end) if year == end.year else len(days)
        count += hi - lo
    return count


def business_days_between(start: date, end: date) -> int:
    """Number of business days in the half-open interval (start, end]: ``start`` excluded, ``end`` included.

    This is the number of business days that have elapsed from ``start`` to ``end`` (so a Friday → the next
    Monday is 1). If ``end`` is before ``start`` the result is minus the count in (end, start]. Runs in time
    proportional to the number of calendar years spanned, not days.
    """
    start = _require_date(start)
    end = _require_date(end)
    if end < start:
        return -business_days_between(end, start)
    return _weekdays_through(end) - _weekdays_through(start) - _closed_weekdays_in(start, end)


def deadline_after(start: date, n: int) -> date:
    """The deadline that falls ``n`` business days after ``start``: the n-th business day after it.

    Convention: the day of the triggering event (receipt, notice) is not counted — as with 初日不算入 in
    民法第140条 — and only business days count. So a 3-business-day deadline for something received on
    Friday 2020-07-31 is Wednesday 2020-08-05; received on Saturday 2020-08-01, it is also Wednesday 08-05.
    The result is always a business day, so the end-of-period rollover of 民法第142条 is already applied.
    ``n = 0`` means "on the day": ``start`` if it is a business day, else the next one. Negative ``n`` raises
    ``ValueError`` (use ``add_business_days`` to count backwards).
    """
    if n < 0:
        raise ValueError("a deadline is counted forwards: n must be >= 0")
    return add_business_days(start, n)

"""Japanese era dates (和暦) and fiscal years (年度).

Contracts
---------
- Every function takes a ``datetime.date`` and rejects a ``datetime.datetime`` with ``TypeError``: an aware
  timestamp is stored in UTC, and silently taking its UTC date would put 9 hours of every day in the wrong
  era or fiscal year. Convert to the Asia/Tokyo local date first.
- Eras start on their official first day (明治 1868-10-23, 大正 1912-07-30, 昭和 1926-12-25,
  平成 1989-01-08, 令和 2019-05-01) and end the day before the next one starts. Dates before 1868-10-23 have
  no era here and raise ``ValueError``. Dates before 1873-01-01 (明治6年, when Japan adopted the Gregorian
  calendar) are proleptic Gregorian and will not match the lunisolar dates written in documents of the time.
- Year 1 of an era is written 元年 in the long style (令和元年5月1日) and 1 in the short styles (R1.5.1).
- A fiscal year (年度) N runs from 1 April N to 31 March N+1 and is named in the era in force on its first
  day — except FY2019, which the government renamed 令和元年度 after the era changed on 2019-05-01 (it began
  as 平成31年度). See ``fiscal_year_era``.
- Parsers raise ``ValueError`` with a message that says what was wrong; the message may quote the input
  (a date is not personal data on its own).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

__all__ = [
    "ERAS",
    "Era",
    "WarekiDate",
    "era_by_name",
    "era_of",
    "fiscal_year",
    "fiscal_year_bounds",
    "fiscal_year_era",
    "format_fiscal_year",
    "format_wareki",
    "parse_fiscal_year",
    "parse_wareki",
    "to_wareki",
]


@dataclass(frozen=True, slots=True)
class Era:
    """One era (元号): ``start`` is its first day; ``end`` its last day, or None for the current era."""

    name: str  # 令和
    abbreviation: str  # R — the letter used on forms (R2.4.1) and in the JIS X 0301 notation
    english: str  # Reiwa
    start: date
    end: date | None

    def contains(self, d: date) -> bool:
        return self.start <= d and (self.end is None or d <= self.end)

    def year_of(self, western_year: int) -> int:
        """The era year that a western (Gregorian) calendar year number has in this era (may be < 1)."""
        return western_year - self.start.year + 1

    def western_year(self, era_year: int) -> int:
        return self.start.year + era_year - 1


def _build_eras() -> tuple[Era, ...]:
    # Official first days. The end of each era is derived from the next start so that the table cannot
    # contain a gap or an overlap.
    raw = (
        ("明治", "M", "Meiji", date(1868, 10, 23)),
        ("大正", "T", "Taisho", date(1912, 7, 30)),
        ("昭和", "S", "Showa", date(1926, 12, 25)),
        ("平成", "H", "Heisei", date(1989, 1, 8)),
        ("令和", "R", "Reiwa", date(2019, 5, 1)),
    )
    eras = []
    for i, (name, abbr, english, start) in enumerate(raw):
        end = raw[i + 1][3] - timedelta(days=1) if i + 1 < len(raw) else None
        eras.append(Era(name, abbr, english, start, end))
    return tuple(eras)


#: All supported eras, oldest first.
ERAS: tuple[Era, ...] = _build_eras()

_BY_NAME: dict[str, Era] = {}
for _era in ERAS:
    _BY_NAME[_era.name] = _era
    _BY_NAME[_era.abbreviation] = _era
    _BY_NAME[_era.english.lower()] = _era

_GANNEN = "元"  # the "first year" of an era


def _require_date(d: object) -> date:
    # datetime is a subclass of date, so the isinstance check alone would let it through.
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(
            f"expected a datetime.date (not {type(d).__name__}); convert to the Japan local date first"
        )
    return d


def era_by_name(name: str) -> Era:
    """The era named by its kanji (令和), abbreviation letter (R, r) or English name (Reiwa).

    Raises ``ValueError`` for an unknown name.
    """
    key = unicodedata.normalize("NFKC", name).strip()
    era = _BY_NAME.get(key) or _BY_NAME.get(key.upper()) or _BY_NAME.get(key.lower())
    if era is None:
        raise ValueError(f"unknown era {name!r}; expected one of {', '.join(e.name for e in ERAS)}")
    return era


def era_of(d: date) -> Era:
    """The era in force on ``d``. Raises ``ValueError`` before 明治 (1868-10-23)."""
    d = _require_date(d)
    for era in reversed(ERAS):
        if d >= era.start:
            return era
    raise ValueError(
        f"{d.isoformat()} is before the first supported era (明治 began {ERAS[0].start.isoformat()})"
    )


@dataclass(frozen=True, slots=True)
class WarekiDate:
    """A date expressed in an era: ``year`` is the era year (1 for 元年)."""

    era: Era
    year: int
    month: int
    day: int

    @property
    def year_label(self) -> str:
        """'元' for the first year, else the number: what goes before 年 in the long style."""
        return _GANNEN if self.year == 1 else str(self.year)

    def to_date(self) -> date:
        return date(self.era.western_year(self.year), self.month, self.day)

    def __str__(self) -> str:
        return f"{self.era.name}{self.year_label}年{self.month}月{self.day}日"


def to_wareki(d: date) -> WarekiDate:
    """``d`` in the era in force on that day (2019-04-30 → 平成31, 2019-05-01 → 令和1)."""
    era = era_of(d)
    return WarekiDate(era=era, year=era.year_of(d.year), month=d.month, day=d.day)


WarekiStyle = Literal["long", "short", "numeric"]


def format_wareki(d: date, *, style: WarekiStyle = "long") -> str:
    """Format ``d`` as a 和暦 date.

    - ``"long"``: 令和2年4月1日, 令和元年5月1日 (what residents read on notices and forms).
    - ``"short"``: R2.4.1, R1.5.1 (compact, no padding).
    - ``"numeric"``: R02/04/01 (fixed width, for lists, CSV and sorting within one era).

    Every output is accepted by ``parse_wareki`` and parses back to ``d``.
    """
    w = to_wareki(d)
    if style == "long":
        return str(w)
    if style == "short":
        return f"{w.era.abbreviation}{w.year}.{w.month}.{w.day}"
    if style == "numeric":
        return f"{w.era.abbreviation}{w.year:02d}/{w.month:02d}/{w.day:02d}"
    raise ValueError(f"unknown style {style!r}; expected 'long', 'short' or 'numeric'")


# Era token: kanji name or the abbreviation letter (any case, after NFKC so that Ｒ and ㋿/㍻ work too).
_ERA_TOKEN = "|".join([*(e.name for e in ERAS), *(e.abbreviation for e in ERAS)])
_YEAR_TOKEN = rf"{_GANNEN}|[0-9]{{1,3}}"
# [0-9], not \d: \d also matches other scripts' digits, which int() would then accept silently.
_WAREKI_RE = re.compile(
    rf"""^(?P<era>{_ERA_TOKEN})\.?\s*(?P<year>{_YEAR_TOKEN})\s*
        (?:
            年\s*(?P<m1>[0-9]{{1,2}})\s*月\s*(?P<d1>[0-9]{{1,2}})\s*日
          | (?P<sep>[./-])(?P<m2>[0-9]{{1,2}})(?P=sep)(?P<d2>[0-9]{{1,2}})
        )$""",
    re.IGNORECASE | re.VERBOSE,
)


def _era_year(token: str) -> int:
    return 1 if token == _GANNEN else int(token)


def parse_wareki(text: str) -> date:
    """Parse a 和暦 date into a ``date``.

    Accepted forms (after NFKC, so full-width digits and letters and the ㋿/㍻ ligatures work):
    令和2年4月1日, 令和元年5月1日, 令和 2年 4月 1日, R2.4.1, R02/04/01, R2-4-1, r2.4.1, R1.5.1, R元.5.1.

    Raises ``ValueError`` when the text is not in one of these forms, when the month/day do not exist, or when
    the date lies outside the era: before its first day (令和元年4月30日 — 令和 began on 5月1日) or after the
    next era began (平成32年1月1日, 平成31年5月1日). 平成31年4月30日 and 令和元年5月1日 are both valid.
    """
    normalized = unicodedata.normalize("NFKC", text).strip()
    m = _WAREKI_RE.match(normalized)
    if m is None:
        raise ValueError(f"{text!r} is not a 和暦 date; expected a form such as 令和2年4月1日 or R2.4.1")
    era = era_by_name(m["era"])
    year = _era_year(m["year"])
    month = int(m["m1"] or m["m2"])
    day = int(m["d1"] or m["d2"])
    if year < 1:
        raise ValueError(f"{text!r}: an era year starts at 1 (元年)")
    try:
        d = date(era.western_year(year), month, day)
    except ValueError as exc:  # bad month/day, or a year beyond date.max
        raise ValueError(f"{text!r} is not a valid date: {exc}") from None
    if d < era.start:
        raise ValueError(
            f"{text!r} is before the start of {era.name} ({format_wareki(era.start)}, {era.start.isoformat()})"
        )
    if era.end is not None and d > era.end:
        following = ERAS[ERAS.index(era) + 1]
        raise ValueError(
            f"{text!r} is after the end of {era.name} ({era.end.isoformat()}); "
            f"{following.name} began on {following.start.isoformat()}"
        )
    return d


# --- 年度 (fiscal year) -------------------------------------------------------------------------------------
def fiscal_year(d: date) -> int:
    """The fiscal year (年度) containing ``d``, named by the western year in which it starts.

    2020-04-01 → 2020, 2021-03-31 → 2020.
    """
    d = _require_date(d)
    return d.year if d.month >= 4 else d.year - 1


def fiscal_year_bounds(fy: int) -> tuple[date, date]:
    """First and last day (both inclusive) of fiscal year ``fy``: (fy-04-01, (fy+1)-03-31)."""
    return date(fy, 4, 1), date(fy + 1, 3, 31)


# The era change of 2019-05-01 fell inside FY2019; the government then called the whole fiscal year
# 令和元年度 (e.g. 令和元年度補正予算), although it had begun as 平成31年度.
_RENAMED_FISCAL_YEARS: dict[int, str] = {2019: "令和"}


def fiscal_year_era(fy: int) -> Era:
    """The era whose name the fiscal year ``fy`` carries.

    Rule: the era in force on the fiscal year's first day (1 April), because a 年度 is numbered after the
    calendar year in which it starts — so FY1988 is 昭和63年度 (not "平成0年度", though 平成 began within it)
    and FY1989 is 平成元年度. Exception: FY2019 is 令和元年度 (see ``_RENAMED_FISCAL_YEARS``). FY1868, which
    began before 明治's official first day, is 明治元年度. Raises ``ValueError`` for earlier fiscal years.

    (A rule "era in force on the last day, 31 March" would agree for 2018–2020 but give 平成0年度 for FY1988,
    so it is not used.)
    """
    if fy in _RENAMED_FISCAL_YEARS:
        return era_by_name(_RENAMED_FISCAL_YEARS[fy])
    first, last = fiscal_year_bounds(fy)
    if first >= ERAS[0].start:
        return era_of(first)
    if last >= ERAS[0].start:
        return ERAS[0]
    raise ValueError(
        f"fiscal year {fy} ended before the first supported era (明治, {ERAS[0].start.isoformat()})"
    )


FiscalYearStyle = Literal["wareki", "western"]


def format_fiscal_year(fy: int, *, style: FiscalYearStyle = "wareki") -> str:
    """Name fiscal year ``fy``: 令和2年度 / 2020年度; 令和元年度 for 2019; 平成30年度 for 2018."""
    if style == "western":
        return f"{fy}年度"
    if style != "wareki":
        raise ValueError(f"unknown style {style!r}; expected 'wareki' or 'western'")
    era = fiscal_year_era(fy)
    year = era.year_of(fy)
    return f"{era.name}{_GANNEN if year == 1 else year}年度"


_FISCAL_RE = re.compile(
    rf"^(?:(?P<era>{_ERA_TOKEN})\.?\s*(?P<year>{_YEAR_TOKEN})|(?P<western>[0-9]{{4}}))\s*年度$",
    re.IGNORECASE,
)


def parse_fiscal_year(text: str) -> int:
    """Parse a fiscal-year name into its western number: 令和2年度 → 2020, 令和元年度 → 2019, 2020年度 → 2020.

    Accepts the names ``format_fiscal_year`` produces, the abbreviation letter (R2年度) and full-width forms.
    An era name is accepted when that era was in force on at least one day of the fiscal year, so both
    names used for a fiscal year that straddled an era change parse: 平成31年度 and 令和元年度 → 2019,
    昭和63年度 → 1988. 平成32年度 (FY2020 began after 平成 ended) and 令和0年度 raise ``ValueError``.
    """
    normalized = unicodedata.normalize("NFKC", text).strip()
    m = _FISCAL_RE.match(normalized)
    if m is None:
        raise ValueError(f"{text!r} is not a fiscal year name; expected a form such as 令和2年度 or 2020年度")
    if m["western"]:
        return int(m["western"])
    era = era_by_name(m["era"])
    year = _era_year(m["year"])
    if year < 1:
        raise ValueError(f"{text!r}: an era year starts at 1 (元年)")
    fy = era.western_year(year)
    first, last = fiscal_year_bounds(fy)
    if last < era.start:
        raise ValueError(
            f"{text!r}: fiscal year {fy} ended before {era.name} began ({era.start.isoformat()})"
        )
    if era.end is not None and first > era.end:
        raise ValueError(f"{text!r}: fiscal year {fy} began after {era.name} ended ({era.end.isoformat()})")
    return fy

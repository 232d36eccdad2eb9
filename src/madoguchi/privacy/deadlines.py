"""Statutory deadlines, pure (no Django): leak reports and data-subject requests.

Leak reports (漏えい等報告, 法第68条第1項; the cases in 施行規則第43条, the two reports in 第44条):
- 速報 (preliminary report) "速やかに": the guidelines read this as 概ね3〜5日以内 of knowing. We show a target of
  3 days and treat the report as overdue after 5 days (calendar days, the day of knowing not counted).
- 確報 (final report): within 30 days of knowing, 60 days when the leak may have been done for an unlawful
  purpose (不正の目的, e.g. unauthorised access). The guidelines count the day of knowing as day 1 and do not
  move the deadline off a weekend or holiday, so the due date is known_on + 29 (or + 59) calendar days.
- A report is required when any case of 規則第43条 applies; more than 100 people is one of them and is set
  automatically from the count.

Data-subject requests (calendar days, as the law counts them; the day of receipt not counted, 民法第140条):
- 開示 disclosure: 30 days (法第83条第1項), extendable by 30 days with reasons (第83条第2項);
- 訂正 correction: 30 days (法第94条第1項), + 30 (第94条第2項);
- 利用停止・消去 stop of use / erasure: 30 days (法第102条第1項), + 30 (第102条第2項).
Days spent on 補正 (asking the requester to fix the request) are not counted (第83条第1項ただし書 etc.). The
longer special periods (第84条, 第95条, 第103条) are not modelled. The deadline is not moved off a holiday:
行政機関の休日に関する法律 第2条 (and, for a local government, 地方自治法 第4条の2第4項) extends only the
deadlines of 申請、届出その他の行為 done *towards* an office, not the office's own decision; the staff pages say
so beside the date. Business days remaining are shown beside it with `madoguchi.core.calendar` for the desk's
planning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

PRELIMINARY_TARGET_DAYS = 3
PRELIMINARY_DAYS = 5
FINAL_DAYS = 30
FINAL_DAYS_UNLAWFUL = 60
OVER_100_THRESHOLD = 100

REQUEST_DAYS = {"disclosure": 30, "correction": 30, "stop_use": 30, "erasure": 30}
EXTENSION_DAYS = {"disclosure": 30, "correction": 30, "stop_use": 30, "erasure": 30}
REQUEST_BASIS = {
    "disclosure": "法第83条",
    "correction": "法第94条",
    "stop_use": "法第102条",
    "erasure": "法第102条（第98条の消去の請求）",
}


@dataclass(frozen=True)
class LeakDeadlines:
    reportable: bool
    preliminary_target: date
    preliminary_due: date
    final_due: date
    final_days: int


def leak_deadlines(
    *, discovered_on: date, kinds: list[str] | tuple[str, ...], affected_count: int
) -> LeakDeadlines:
    kinds = set(kinds)
    if affected_count > OVER_100_THRESHOLD:
        kinds.add("over_100")
    final_days = FINAL_DAYS_UNLAWFUL if "unlawful" in kinds else FINAL_DAYS
    return LeakDeadlines(
        reportable=bool(kinds),
        preliminary_target=discovered_on + timedelta(days=PRELIMINARY_TARGET_DAYS),
        preliminary_due=discovered_on + timedelta(days=PRELIMINARY_DAYS),
        final_due=discovered_on + timedelta(days=final_days - 1),  # the day of knowing is day 1
        final_days=final_days,
    )


def request_due(*, kind: str, received_on: date, correction_days: int = 0, extended: bool = False) -> date:
    days = REQUEST_DAYS[kind] + correction_days + (EXTENSION_DAYS[kind] if extended else 0)
    return received_on + timedelta(days=days)


def fee(table: dict, *, hours: int, outsourcing_cost: int = 0) -> tuple[int, dict]:
    """The fee of 法第119条 from a call's fee table: base + per_hour × hours (+ outsourcing when the table
    says so). Integer yen; returns (fee, breakdown)."""
    if hours < 0 or outsourcing_cost < 0:
        raise ValueError("hours and costs are not negative")
    base = int(table.get("base", 0))
    per_hour = int(table.get("per_hour", 0))
    outsourcing = outsourcing_cost if table.get("outsourcing", True) else 0
    breakdown = {"base": base, "per_hour": per_hour, "hours": hours, "work": per_hour * hours,
                 "outsourcing": outsourcing}  # fmt: skip
    return base + per_hour * hours + outsourcing, breakdown

"""The arithmetic of subsidies, pure (no Django): Jグランツ grants to businesses and the マイナポイント事業費補助金
to local governments (DOMAIN.md §3, §4). Every amount is an int of whole yen, every result is exact: integer
or `fractions.Fraction` arithmetic only, never a float.

- `base_amounts`      基準額 of every body: equal share + population share, largest-remainder rounding.
- `subsidy_amount`    交付申請 amount: floor(eligible × rate), capped.
- `eligible_total`    split expenditure lines into eligible and excluded (e.g. 備品購入費).
- `confirmed_amount`  額の確定: min(floor(actual eligible × rate), decided); `confirmed_amounts` vectorised.
- `settlement`        精算: what is still to pay (> 0) or to be returned (< 0).
- `additional_charge` 加算金 on a return (補助金適正化法 Art. 19(1)); `late_charge` 延滞金 (Art. 19(2)).
- `carry_over`        明許繰越: carried-over money is spent before the current year's money.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction

import numpy as np

__all__ = [
    "CHARGE_RATE_DEN",
    "CHARGE_RATE_NUM",
    "MYNAPOINT_INELIGIBLE_CATEGORIES",
    "ChargeResult",
    "ChargeRow",
    "additional_charge",
    "base_amounts",
    "carry_over",
    "confirmed_amount",
    "confirmed_amounts",
    "eligible_total",
    "late_charge",
    "settlement",
    "subsidy_amount",
]

# 10.95 % a year on a 365-day year, also in leap years (DOMAIN §4): charge = principal × days × 1095 / 3,650,000.
# (1095 / 365 = 3: the rate is exactly 0.03 % a day.)
CHARGE_RATE_NUM = 1095
CHARGE_RATE_DEN = 10_000 * 365

# Expenditure categories the マイナポイント事業費補助金 does not cover (DOMAIN §3 FAQ: 備品購入費).
MYNAPOINT_INELIGIBLE_CATEGORIES = frozenset({"equipment"})

_INT64_MAX = int(np.iinfo(np.int64).max)
_ONE_DAY = timedelta(days=1)


# --- validation helpers -------------------------------------------------------------------------------------


def _int(value, name: str, *, minimum: int | None = 0) -> int:
    """An exact integer (int or numpy integer; bools and floats refused), optionally bounded below."""
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be an integer number of yen, not a bool")
    try:
        result = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer (whole yen), got {type(value).__name__}") from None
    if minimum is not None and result < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {result}")
    return result


def _rate(rate_num, rate_den) -> tuple[int, int]:
    num = _int(rate_num, "rate_num")
    den = _int(rate_den, "rate_den", minimum=1)
    if num > den:
        raise ValueError(f"a subsidy rate cannot exceed 10/10 (got {num}/{den})")
    return num, den


def _day(value, name: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a datetime.date (not a datetime), got {type(value).__name__}")
    return value


def _int_array(values, name: str) -> np.ndarray:
    """An int64 array of exact integers; float (and object, bool) input is refused."""
    if isinstance(values, np.ndarray):
        array = values
    elif isinstance(values, Iterable):
        array = np.asarray([_int(v, name, minimum=None) for v in values])
        if array.dtype == object:
            raise OverflowError(f"{name} does not fit in int64")
    else:
        array = np.asarray(_int(values, name, minimum=None))
    if array.size == 0:
        return np.zeros(array.shape, dtype=np.int64)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers (whole yen), got dtype {array.dtype}")
    if array.dtype.kind == "u" and int(array.max()) > _INT64_MAX:
        raise OverflowError(f"{name} does not fit in int64")
    return array.astype(np.int64, copy=False)


# --- 基準額 ---------------------------------------------------------------------------------------------------


def base_amounts(
    populations: Sequence[int] | np.ndarray, *, equal_total: int, population_total: int
) -> list[int]:
    """The base amount (基準額) of every body, in whole yen, summing exactly to equal_total + population_total.

    Exact share of body i (DOMAIN §3), with N bodies and S = Σ populations:

        base_i = equal_total / N + population_total × pop_i / S

    Rounding rule (largest remainder, Hamilton): every body first gets floor(base_i); the k yen left over
    (k = total − Σ floor, always 0 ≤ k < N) go one each to the k bodies with the largest fractional parts of
    base_i, compared exactly (as fractions over N × S, never floats); equal fractional parts are served in
    index order (the body listed first wins). The result is deterministic, every body is less than 1 yen from
    its exact share, and (when population_total > 0) a larger population never gets a smaller base amount.

    `populations` may be any sequence of ints or an integer numpy array (non-negative; a population of 0 gets
    the equal share only). If every population is 0, `population_total` must be 0.
    Returns a list of Python ints in the order of `populations`.
    """
    equal_total = _int(equal_total, "equal_total")
    population_total = _int(population_total, "population_total")
    pops = _int_array(populations, "populations").ravel()
    n = int(pops.size)
    total = equal_total + population_total
    if n == 0:
        if total:
            raise ValueError("no bodies to share a non-zero amount between")
        return []
    if int(pops.min()) < 0:
        raise ValueError("populations must not be negative")
    pop_sum = sum(pops.tolist())  # Python ints: exact even past int64
    if pop_sum == 0:
        if population_total:
            raise ValueError("population_total > 0 but every population is 0")
        pop_sum = 1  # the population share is then 0 for everyone; keeps the formulas below defined
    q_equal, r_equal = divmod(equal_total, n)
    # base_i = q_equal + a_i + (r_equal × S + b_i × N) / (N × S), where a_i, b_i = divmod(P × pop_i, S).
    den = n * pop_sum
    if population_total * int(pops.max()) <= _INT64_MAX and 2 * den <= _INT64_MAX and total <= _INT64_MAX:
        a, b = np.divmod(pops * np.int64(population_total), np.int64(pop_sum))
        carry, rem = np.divmod(np.int64(r_equal * pop_sum) + b * np.int64(n), np.int64(den))
        floors = a + carry + np.int64(q_equal)
        left = total - int(floors.sum())
        if left:
            # A stable sort on −remainder: largest remainder first, ties in index order.
            floors[np.argsort(-rem, kind="stable")[:left]] += 1
        return floors.tolist()
    # Exact Python-int path for amounts or populations beyond int64 (same rule).
    floors_list, rems = [], []
    for p in pops.tolist():
        a_i, b_i = divmod(population_total * p, pop_sum)
        carry_i, rem_i = divmod(r_equal * pop_sum + b_i * n, den)
        floors_list.append(q_equal + a_i + carry_i)
        rems.append(rem_i)
    left = total - sum(floors_list)
    for i in sorted(range(n), key=lambda i: -rems[i])[:left]:  # sorted() is stable: ties in index order
        floors_list[i] += 1
    return floors_list


# --- amounts: application, confirmation, settlement --------------------------------------------------------------


def subsidy_amount(*, eligible: int, rate_num: int, rate_den: int, cap: int | None) -> int:
    """The amount applied for / decided: floor(eligible × rate_num / rate_den), at most `cap` (None: no cap).

    For the マイナポイント事業費補助金 the rate is 10/10 and the cap is the body's base amount, so this is
    min(actual eligible expenditure, base amount) (DOMAIN §3).
    """
    eligible = _int(eligible, "eligible")
    num, den = _rate(rate_num, rate_den)
    amount = eligible * num // den
    if cap is not None:
        amount = min(amount, _int(cap, "cap"))
    return amount


def eligible_total(lines: Iterable[tuple[str, int]], ineligible_categories: set[str]) -> tuple[int, int]:
    """Split expenditure lines (category code, yen) into (eligible, excluded) totals.

    A line whose category is in `ineligible_categories` is excluded — for the マイナポイント事業費補助金 that is
    備品購入費, category "equipment" (`MYNAPOINT_INELIGIBLE_CATEGORIES`, DOMAIN §3 FAQ). Amounts must be ≥ 0.
    """
    eligible = excluded = 0
    for category, amount in lines:
        amount = _int(amount, f"amount of {category!r}")
        if category in ineligible_categories:
            excluded += amount
        else:
            eligible += amount
    return eligible, excluded


def confirmed_amount(*, eligible_actual: int, rate_num: int, rate_den: int, decided: int) -> int:
    """額の確定 (Art. 15): min(floor(actual eligible expenditure × rate), the decided amount).

    `decided` is the amount of the 交付決定 as last changed (変更承認): after a decrease the confirmed amount is
    capped at the lowered amount.
    """
    eligible_actual = _int(eligible_actual, "eligible_actual")
    num, den = _rate(rate_num, rate_den)
    return min(eligible_actual * num // den, _int(decided, "decided"))


def confirmed_amounts(
    eligible_actual: np.ndarray, rate_num: np.ndarray, rate_den: np.ndarray, decided: np.ndarray
) -> np.ndarray:
    """Vectorised `confirmed_amount` (arrays broadcast together; scalars allowed), int64, exact.

    floor(a × n / d) is computed as (a // d) × n + ((a mod d) × n) // d, which is exact in integers and, with
    n ≤ d, cannot overflow int64 as long as d² does not (d ≤ 3,037,000,499); larger denominators fall back to
    Python integers. Integer dtypes only (a float array raises TypeError).
    """
    a = _int_array(eligible_actual, "eligible_actual")
    n = _int_array(rate_num, "rate_num")
    d = _int_array(rate_den, "rate_den")
    cap = _int_array(decided, "decided")
    a, n, d, cap = np.broadcast_arrays(a, n, d, cap)
    if a.size == 0:
        return np.zeros(a.shape, dtype=np.int64)
    if int(a.min()) < 0:
        raise ValueError("eligible_actual must not be negative")
    if int(cap.min()) < 0:
        raise ValueError("decided must not be negative")
    if int(d.min()) < 1:
        raise ValueError("rate_den must be >= 1")
    if int(n.min()) < 0 or bool((n > d).any()):
        raise ValueError("rates must lie between 0 and 10/10")
    d_max = int(d.max())
    if d_max * d_max <= _INT64_MAX:
        q, r = np.divmod(a, d)
        amount = q * n + (r * n) // d
    else:
        amount = np.array(
            [
                x * y // z
                for x, y, z in zip(a.ravel().tolist(), n.ravel().tolist(), d.ravel().tolist(), strict=True)
            ],
            dtype=object,
        ).reshape(a.shape)
    return np.minimum(amount, cap).astype(np.int64)


def settlement(*, confirmed: int, paid: int) -> int:
    """精算: confirmed − already paid (e.g. 概算払). > 0: still to pay (精算払い); < 0: overpaid, to be returned."""
    return _int(confirmed, "confirmed") - _int(paid, "paid")


# --- 明許繰越 ------------------------------------------------------------------------------------------------


def carry_over(*, carried: int, current: int, spending: Sequence[int]) -> list[tuple[int, int]]:
    """明許繰越: which money pays each spending item of work carried into the next fiscal year.

    The carried-over money is spent first (DOMAIN §3), in the order of `spending`; once it is used up the
    current year's money pays the rest. Returns (from_carried, from_current) for each item. Raises ValueError
    if the items together exceed carried + current. What is left unspent is not returned here.
    """
    carried_left = _int(carried, "carried")
    current_left = _int(current, "current")
    items = [_int(s, "spending item") for s in spending]
    if sum(items) > carried_left + current_left:
        raise ValueError(
            f"spending {sum(items):,} exceeds carried-over {carried_left:,} + current {current_left:,} yen"
        )
    out = []
    for item in items:
        from_carried = min(item, carried_left)
        from_current = item - from_carried
        carried_left -= from_carried
        current_left -= from_current
        out.append((from_carried, from_current))
    return out


# --- 加算金 and 延滞金 (Art. 19) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargeRow:
    """One segment of a charge statement: `principal` outstanding every day from `start` to `end`, both
    included (`days` of them). `charge` is the exact amount for the segment (a Fraction of a yen); whole yen
    are only taken per portion (see `ChargeResult.portion_totals`), so `charge_floor` is for display."""

    received: date | None  # the receipt date of the portion (加算金); None for 延滞金
    start: date
    end: date
    days: int
    principal: int
    charge: Fraction

    @property
    def charge_floor(self) -> int:
        return self.charge.numerator // self.charge.denominator


@dataclass(frozen=True)
class ChargeResult:
    """A 加算金 or 延滞金 computation.

    total:                 the charge in whole yen (= Σ portion_totals)
    outstanding:           principal still unpaid after the repayments considered
    rows:                  the segments, in order of portion then date
    portion_totals:        floor of each portion's exact charge (加算金: one per received portion in receipt
                           order; 延滞金: one)
    paid_beyond_principal: repayments in excess of the principal (principal is paid first; what this excess
                           settles — this charge or another — is the caller's business)
    """

    total: int
    outstanding: int
    rows: tuple[ChargeRow, ...]
    portion_totals: tuple[int, ...]
    paid_beyond_principal: int


def _segment(received: date | None, start: date, end: date, principal: int) -> ChargeRow | None:
    days = (end - start).days + 1
    if days <= 0 or principal == 0:
        return None
    return ChargeRow(
        received, start, end, days, principal, Fraction(principal * days * CHARGE_RATE_NUM, CHARGE_RATE_DEN)
    )


def _payments(repayments: Sequence[tuple[date, int]], until: date | None) -> list[tuple[date, int]]:
    """Repayments in date order, those of one day summed, those after `until` left out."""
    by_day: dict[date, int] = {}
    for when, amount in repayments:
        when = _day(when, "repayment date")
        amount = _int(amount, "repayment amount")
        if until is None or when <= until:
            by_day[when] = by_day.get(when, 0) + amount
    return sorted(by_day.items())


def _floor(rows: Iterable[ChargeRow]) -> int:
    exact = sum((row.charge for row in rows), Fraction(0))
    return exact.numerator // exact.denominator


def additional_charge(
    *, returns: Sequence[tuple[date, int]], repayments: Sequence[tuple[date, int]], until: date | None = None
) -> ChargeResult:
    """加算金 (補助金適正化法 Art. 19(1)) on a return ordered after a cancellation.

    `returns`: the returned subsidy split by the date each part was received — (receipt date, amount).
    `repayments`: (date paid, amount). `until`: compute as of this date (payments after it are ignored and the
    outstanding principal accrues up to and including it); required when the repayments leave principal unpaid.

    Rules (DOMAIN §4): charge = Σ amount_i × 10.95 % × days(receipt → payment) / 365, with a 365-day year even
    in leap years (so exactly 0.03 % a day); repayments go to PRINCIPAL first, and among the portions to the
    OLDEST received portion first (the portion's remaining principal accrues from the day after).

    Day count: "from X to Y" counts both X and Y, as the law's 受領の日から納付の日まで reads: a portion received
    on the day it is repaid accrues 1 day. (With the same reading 延滞金's "due+1 → payment" is payment − due
    days, see `late_charge`.)

    Rounding: each portion's charge is accumulated exactly (Fractions) over its segments and floored to whole
    yen once, at the end of the portion: the law computes the charge per amount received (Σ amount_i …), a
    fraction below 1 yen is dropped (切捨て), and flooring per segment instead would make the charge depend on
    how many partial repayments were made. NOT applied, because DOMAIN.md does not state them: any rounding of
    the principal base (e.g. 1,000円未満切捨て), rounding of the charge to 100 yen, or a minimum below which no
    charge is levied.
    """
    if until is not None:
        until = _day(until, "until")
    portions = sorted(
        ((_day(when, "receipt date"), _int(amount, "returned amount")) for when, amount in returns),
        key=lambda portion: portion[0],  # stable: same-day portions keep their given order
    )
    if until is not None and portions and portions[-1][0] > until:
        raise ValueError("until is before a receipt date")
    outstanding = [amount for _, amount in portions]
    starts = [received for received, _ in portions]
    rows_by_portion: list[list[ChargeRow]] = [[] for _ in portions]
    beyond = 0
    for paid_on, amount in _payments(repayments, until):
        for i, (received, _) in enumerate(portions):
            if amount == 0 or received > paid_on:
                break
            if outstanding[i] == 0:
                continue
            take = min(amount, outstanding[i])
            row = _segment(received, starts[i], paid_on, outstanding[i])
            if row:
                rows_by_portion[i].append(row)
            outstanding[i] -= take
            amount -= take
            starts[i] = paid_on + _ONE_DAY
        if amount:
            if any(outstanding):
                raise ValueError(
                    f"the repayment of {paid_on} precedes the receipt of the principal it would repay"
                )
            beyond += amount
    if any(outstanding):
        if until is None:
            raise ValueError("principal is still outstanding: pass until= to compute the charge to a date")
        for i, (received, _) in enumerate(portions):
            row = _segment(received, starts[i], until, outstanding[i])
            if row:
                rows_by_portion[i].append(row)
    portion_totals = tuple(_floor(rows) for rows in rows_by_portion)
    return ChargeResult(
        total=sum(portion_totals),
        outstanding=sum(outstanding),
        rows=tuple(row for rows in rows_by_portion for row in rows),
        portion_totals=portion_totals,
        paid_beyond_principal=beyond,
    )


def late_charge(
    *, amount_due: int, due: date, repayments: Sequence[tuple[date, int]], until: date | None = None
) -> ChargeResult:
    """延滞金 (補助金適正化法 Art. 19(2)) on a return not paid by its due date (納期日).

    charge = unpaid × 10.95 % × days(due+1 → payment) / 365 (365-day year even in leap years), counting both
    ends, i.e. payment − due days: paid the day after the due date = 1 day. Repayments on or before the due
    date only reduce the principal; every repayment goes to principal first. `until` as in
    `additional_charge`. The exact charge is floored to whole yen once, at the end (one portion); no other
    rounding is applied (see `additional_charge`).
    """
    principal = _int(amount_due, "amount_due")
    due = _day(due, "due")
    if until is not None:
        until = _day(until, "until")
    start = due + _ONE_DAY
    rows: list[ChargeRow] = []
    beyond = 0
    for paid_on, amount in _payments(repayments, until):
        take = min(amount, principal)
        if take and paid_on >= start:
            row = _segment(None, start, paid_on, principal)
            if row:
                rows.append(row)
            start = paid_on + _ONE_DAY
        principal -= take
        beyond += amount - take
    if principal:
        if until is None:
            raise ValueError("principal is still outstanding: pass until= to compute the charge to a date")
        row = _segment(None, start, until, principal)
        if row:
            rows.append(row)
    total = _floor(rows)
    return ChargeResult(
        total=total,
        outstanding=principal,
        rows=tuple(rows),
        portion_totals=(total,),
        paid_beyond_principal=beyond,
    )

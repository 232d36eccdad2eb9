"""The subsidy arithmetic (grants/calc.py): the issue's worked examples, computed by hand in the comments, and
properties checked with hypothesis against slow, obviously correct references. Pure: no database."""

import csv
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from madoguchi.grants import calc

DATA = Path(__file__).resolve().parents[2] / "core" / "data"


def load_bodies():
    """(code, name, population) of the 47 prefectures and 1,741 municipalities, in local_governments.csv order.

    municipal_population.csv has the 2020 census population of each municipality only; a prefecture's
    population is the sum of its municipalities' (the test's programme setting: every body, prefecture or
    municipality, shares in the population part by its own population).
    """
    with (DATA / "municipal_population.csv").open(encoding="utf-8") as f:
        population = {row["code"]: int(row["population"]) for row in csv.DictReader(f)}
    with (DATA / "local_governments.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    per_prefecture = {}
    for row in rows:
        if row["city"]:
            per_prefecture[row["prefecture"]] = (
                per_prefecture.get(row["prefecture"], 0) + population[row["code"]]
            )
    return [
        (
            row["code"],
            row["prefecture"] + row["city"],
            population[row["code"]] if row["city"] else per_prefecture[row["prefecture"]],
        )
        for row in rows
    ]


# --- 基準額 ---------------------------------------------------------------------------------------------------

# Programme setting for the test: about 125億円 in all (the deck), split 50/50 between the shares.
EQUAL_TOTAL = 6_250_000_000
POPULATION_TOTAL = 6_250_000_000


def test_base_amounts_with_real_populations():
    bodies = load_bodies()
    codes = [code for code, _, _ in bodies]
    pops = [pop for _, _, pop in bodies]
    # 47 prefectures + 1,741 municipalities; the census total 126,146,099 is counted once for the prefectures
    # and once for the municipalities: S = 252,292,198.
    assert len(bodies) == 1_788
    assert sum(pops) == 2 * 126_146_099 == 252_292_198
    base = calc.base_amounts(pops, equal_total=EQUAL_TOTAL, population_total=POPULATION_TOTAL)
    assert sum(base) == 12_500_000_000  # exactly, to the yen
    assert (
        calc.base_amounts(np.array(pops), equal_total=EQUAL_TOTAL, population_total=POPULATION_TOTAL) == base
    )

    # Equal share: 6,250,000,000 / 1,788 = 3,495,525 + 1,300/1,788 (= 3,495,525.7271).
    # Σ floor(exact share) falls 901 yen short of the total, so the 901 bodies with the largest fractional
    # parts get one more yen: the 901st largest fractional part is 0.49585, the 902nd 0.49568.

    # The largest body, 東京都 (130001), population 14,047,594:
    #   6,250,000,000 × 14,047,594 / 252,292,198 = 347,999,118 + 117,718,636/252,292,198 (0.4666)
    #   base = 3,495,525.7271 + 347,999,118.4666 = 351,494,644.1937 → fraction 0.19 < 0.4959: 351,494,644
    tokyo = codes.index("130001")
    assert pops[tokyo] == max(pops) == 14_047_594
    assert base[tokyo] == 351_494_644

    # A small village, 青ヶ島村 (134023), population 169, the smallest inhabited body:
    #   6,250,000,000 × 169 / 252,292,198 = 4,186 + 154,859,172/252,292,198 (0.6138)
    #   base = 3,495,525.7271 + 4,186.6138 = 3,499,712.3409 → fraction 0.34 < 0.4959: 3,499,712
    aogashima = codes.index("134023")
    assert base[aogashima] == 3_499_712

    # 双葉町 (075469) had no residents in 2020: the equal share only, 3,495,525.7271 → 0.73 ≥ 0.4959 → 3,495,526
    assert base[codes.index("075469")] == 3_495_526

    # The subsidy is min(actual eligible expenditure, base) at 10/10 (DOMAIN §3):
    # 青ヶ島村 spent 2,180,000 (< base 3,499,712)                   → 2,180,000
    # 東京都 spent 400,000,000 (> base 351,494,644)                → 351,494,644
    assert calc.subsidy_amount(eligible=2_180_000, rate_num=1, rate_den=1, cap=base[aogashima]) == 2_180_000
    assert calc.subsidy_amount(eligible=400_000_000, rate_num=1, rate_den=1, cap=base[tokyo]) == 351_494_644


def test_base_amounts_ties_go_in_index_order():
    # 100 yen by population over three equal populations: 33⅓ each, 1 yen left, the first body gets it.
    assert calc.base_amounts([5, 5, 5], equal_total=0, population_total=100) == [34, 33, 33]
    # 2 yen equally over three bodies: ⅔ each, floors 0, 2 yen left → the first two bodies.
    assert calc.base_amounts([1, 2, 3], equal_total=2, population_total=0) == [1, 1, 0]
    # 10 + 20 yen, populations 1 and 3 of 4 → exact 5 + 5 = 10 and 5 + 15 = 20, no rounding needed.
    assert calc.base_amounts([1, 3], equal_total=10, population_total=20) == [10, 20]
    # Everybody at 0 population: the equal share alone (only allowed when population_total is 0).
    assert calc.base_amounts([0, 0, 0], equal_total=10, population_total=0) == [4, 3, 3]
    assert calc.base_amounts([0, 1], equal_total=1, population_total=0) == [1, 0]  # populations play no part


def test_base_amounts_refuses_bad_input():
    with pytest.raises(ValueError):
        calc.base_amounts([0, 0], equal_total=10, population_total=10)
    with pytest.raises(ValueError):
        calc.base_amounts([5, -1], equal_total=10, population_total=10)
    with pytest.raises(ValueError):
        calc.base_amounts([], equal_total=10, population_total=0)
    assert calc.base_amounts([], equal_total=0, population_total=0) == []
    with pytest.raises(TypeError):
        calc.base_amounts([1.5, 2], equal_total=10, population_total=10)
    with pytest.raises(TypeError):
        calc.base_amounts(np.array([1.0, 2.0]), equal_total=10, population_total=10)
    with pytest.raises(TypeError):
        calc.base_amounts([1, 2], equal_total=10.0, population_total=10)


def reference_base_amounts(pops, equal_total, population_total):
    """Largest remainder written the slow, obvious way with Fractions."""
    n, s = len(pops), sum(pops)
    exact = [Fraction(equal_total, n) + (Fraction(population_total * p, s) if s else 0) for p in pops]
    out = [int(x) for x in exact]  # floor (x ≥ 0)
    left = equal_total + population_total - sum(out)
    for i in sorted(range(n), key=lambda i: (-(exact[i] - out[i]), i))[:left]:
        out[i] += 1
    return out, exact


@settings(deadline=None, max_examples=300)
@given(
    st.lists(st.integers(0, 15_000_000), min_size=1, max_size=40),
    st.integers(0, 10**10),
    st.integers(0, 10**10) | st.integers(10**15, 10**18),  # the latter overflows int64: the Python-int path
)
def test_base_amounts_properties(pops, equal_total, population_total):
    assume(sum(pops) > 0 or population_total == 0)
    base = calc.base_amounts(pops, equal_total=equal_total, population_total=population_total)
    expected, exact = reference_base_amounts(pops, equal_total, population_total)
    assert base == expected
    assert sum(base) == equal_total + population_total
    assert all(abs(b - x) < 1 for b, x in zip(base, exact, strict=True))
    # Monotone: with the same equal share for all and a population share to divide, more people never means a
    # smaller base amount. (With population_total = 0 the populations play no part: equal exact shares, and
    # the leftover yen go in index order, e.g. [0, 1] people sharing 1 yen → [1, 0].)
    for i in range(len(pops)):
        for j in range(len(pops)):
            if population_total and pops[i] < pops[j]:
                assert base[i] <= base[j]


# --- application, 変更, 実績, 額の確定, 精算 ---------------------------------------------------------------------


def test_subsidy_amount_floor_and_cap():
    # Jグランツ-style call at 2/3: 4,500,001 × 2/3 = 3,000,000.67 → 3,000,000; with a 2,000,000 上限 → 2,000,000.
    assert calc.subsidy_amount(eligible=4_500_001, rate_num=2, rate_den=3, cap=None) == 3_000_000
    assert calc.subsidy_amount(eligible=4_500_001, rate_num=2, rate_den=3, cap=2_000_000) == 2_000_000
    with pytest.raises(ValueError):
        calc.subsidy_amount(eligible=100, rate_num=4, rate_den=3, cap=None)  # a rate above 10/10


def test_equipment_purchase_is_not_eligible():
    # DOMAIN §3 FAQ: 備品購入費 (category "equipment") is not covered.
    lines = [
        ("wages", 1_200_000),  # 会計年度任用職員 pay
        ("consumables", 80_000),
        ("equipment", 350_000),  # 備品購入費: a tablet bought outright (leasing one would be "rentals")
        ("services", 500_000),
    ]
    # eligible 1,200,000 + 80,000 + 500,000 = 1,780,000; excluded 350,000
    assert calc.eligible_total(lines, calc.MYNAPOINT_INELIGIBLE_CATEGORIES) == (1_780_000, 350_000)
    assert calc.eligible_total([], calc.MYNAPOINT_INELIGIBLE_CATEGORIES) == (0, 0)


def test_decrease_change_caps_the_confirmed_amount():
    # 交付決定 3,000,000 yen at 10/10, paid in advance (概算払) in full.
    decided = calc.subsidy_amount(eligible=3_000_000, rate_num=1, rate_den=1, cap=3_495_526)
    assert decided == 3_000_000
    # 変更承認 (decrease): the work shrank, the decided amount is lowered to 2,400,000.
    decided = 2_400_000
    # 実績報告: wages 1,900,000 + services 700,000 eligible; equipment 250,000 excluded → 2,600,000 eligible.
    eligible, excluded = calc.eligible_total(
        [("wages", 1_900_000), ("services", 700_000), ("equipment", 250_000)],
        calc.MYNAPOINT_INELIGIBLE_CATEGORIES,
    )
    assert (eligible, excluded) == (2_600_000, 250_000)
    # 額の確定 = min(floor(2,600,000 × 10/10), 2,400,000) = 2,400,000 (without the decrease: 2,600,000).
    confirmed = calc.confirmed_amount(eligible_actual=eligible, rate_num=1, rate_den=1, decided=decided)
    assert confirmed == 2_400_000
    assert (
        calc.confirmed_amount(eligible_actual=eligible, rate_num=1, rate_den=1, decided=3_000_000)
        == 2_600_000
    )
    # 精算: 3,000,000 was paid → 2,400,000 − 3,000,000 = −600,000, to be returned.
    assert calc.settlement(confirmed=confirmed, paid=3_000_000) == -600_000
    # Had 1,000,000 been paid: 2,400,000 − 1,000,000 = 1,400,000 still to pay (精算払い).
    assert calc.settlement(confirmed=confirmed, paid=1_000_000) == 1_400_000
    # At 2/3: floor(2,600,000 × 2/3) = floor(1,733,333.33) = 1,733,333 < 2,400,000.
    assert (
        calc.confirmed_amount(eligible_actual=eligible, rate_num=2, rate_den=3, decided=decided) == 1_733_333
    )


def test_confirmed_amounts_vectorised_examples():
    got = calc.confirmed_amounts(
        np.array([2_600_000, 2_600_000, 1_000_000, 0]),
        np.array([1, 2, 1, 1]),
        np.array([1, 3, 2, 1]),
        np.array([2_400_000, 2_400_000, 10_000_000, 5]),
    )
    assert got.dtype == np.int64
    assert got.tolist() == [2_400_000, 1_733_333, 500_000, 0]
    # scalars broadcast; a float array is refused
    assert calc.confirmed_amounts(np.array([3, 4]), 1, 2, np.array([9, 9])).tolist() == [1, 2]
    with pytest.raises(TypeError):
        calc.confirmed_amounts(np.array([1.5]), 1, 1, np.array([9]))
    with pytest.raises(ValueError):
        calc.confirmed_amounts(np.array([1]), 3, 2, np.array([9]))


@settings(deadline=None, max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**12),
            st.integers(1, 10**4) | st.integers(3 * 10**9, 10**12),  # huge denominators: the Python path
            st.integers(0, 10**12),
            st.integers(0, 10**12),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_confirmed_never_exceeds_decided_and_vector_equals_scalar(items):
    actual = [a for a, _, _, _ in items]
    den = [d for _, d, _, _ in items]
    num = [k % (d + 1) for _, d, _, k in items]  # 0 ≤ num ≤ den
    decided = [c for _, _, c, _ in items]
    scalar = [
        calc.confirmed_amount(eligible_actual=a, rate_num=n, rate_den=d, decided=c)
        for a, n, d, c in zip(actual, num, den, decided, strict=True)
    ]
    for a, n, d, c, got in zip(actual, num, den, decided, scalar, strict=True):
        assert got <= c
        assert got == min(a * n // d, c)
    vector = calc.confirmed_amounts(np.array(actual), np.array(num), np.array(den), np.array(decided))
    assert vector.tolist() == scalar


# --- 加算金 and 延滞金 ------------------------------------------------------------------------------------------


def test_additional_and_late_charge_on_a_partly_repaid_return():
    # Received 1,000,000 on 2020-06-01 and 500,000 on 2020-09-01; the decision is cancelled (Art. 17) and the
    # whole 1,500,000 is to be returned by 2021-03-31 (納期日). Repaid 600,000 on 2021-03-31 and the remaining
    # 900,000 on 2021-06-30. 10.95 % / 365 = 0.03 % a day exactly; both the first and the last day count.
    returns = [(date(2020, 6, 1), 1_000_000), (date(2020, 9, 1), 500_000)]
    repayments = [(date(2021, 3, 31), 600_000), (date(2021, 6, 30), 900_000)]
    result = calc.additional_charge(returns=returns, repayments=repayments)
    # 加算金, principal first, oldest portion first:
    # portion A (1,000,000 from 2020-06-01)
    #   2020-06-01 → 2021-03-31: 30+31+31+30+31+30+31 (Jun–Dec) + 31+28+31 (Jan–Mar) = 304 days
    #       1,000,000 × 0.0003 × 304 = 91,200
    #   the 600,000 of 2021-03-31 goes to A → 400,000 left
    #   2021-04-01 → 2021-06-30: 30+31+30 = 91 days; 400,000 × 0.0003 × 91 = 10,920
    #   A = 91,200 + 10,920 = 102,120
    # portion B (500,000 from 2020-09-01), untouched until 2021-06-30
    #   2020-09-01 → 2021-06-30: 30+31+30+31 (Sep–Dec) + 31+28+31+30+31+30 (Jan–Jun) = 303 days
    #       500,000 × 0.0003 × 303 = 45,450
    # 加算金 = 102,120 + 45,450 = 147,570
    assert [(r.received, r.start, r.end, r.days, r.principal, r.charge) for r in result.rows] == [
        (date(2020, 6, 1), date(2020, 6, 1), date(2021, 3, 31), 304, 1_000_000, 91_200),
        (date(2020, 6, 1), date(2021, 4, 1), date(2021, 6, 30), 91, 400_000, 10_920),
        (date(2020, 9, 1), date(2020, 9, 1), date(2021, 6, 30), 303, 500_000, 45_450),
    ]
    assert result.portion_totals == (102_120, 45_450)
    assert result.total == 147_570
    assert result.outstanding == 0
    assert result.paid_beyond_principal == 0

    # Without the partial payment (all 1,500,000 on 2021-06-30): A runs 304 + 91 = 395 days,
    # 1,000,000 × 0.0003 × 395 = 118,500, B 45,450 as before → 163,950 > 147,570.
    whole = calc.additional_charge(returns=returns, repayments=[(date(2021, 6, 30), 1_500_000)])
    assert whole.total == 163_950

    # 延滞金: 600,000 was paid on the due date itself (on time); 900,000 was late:
    # 2021-04-01 → 2021-06-30 = 91 days (= 2021-06-30 − 2021-03-31); 900,000 × 0.0003 × 91 = 24,570.
    late = calc.late_charge(amount_due=1_500_000, due=date(2021, 3, 31), repayments=repayments)
    assert [(r.start, r.end, r.days, r.principal) for r in late.rows] == [
        (date(2021, 4, 1), date(2021, 6, 30), 91, 900_000)
    ]
    assert late.total == 24_570
    assert late.outstanding == 0

    # As of 2021-05-31, before the second repayment: A 91,200 + 400,000 × 0.0003 × 61 (Apr 1 → May 31)
    # = 91,200 + 7,320 = 98,520; B 2020-09-01 → 2021-05-31 = 273 days, 500,000 × 0.0003 × 273 = 40,950;
    # 139,470 with 900,000 outstanding. 延滞金 so far: 900,000 × 0.0003 × 61 = 16,470.
    so_far = calc.additional_charge(returns=returns, repayments=repayments, until=date(2021, 5, 31))
    assert (so_far.total, so_far.outstanding) == (139_470, 900_000)
    late_so_far = calc.late_charge(
        amount_due=1_500_000, due=date(2021, 3, 31), repayments=repayments, until=date(2021, 5, 31)
    )
    assert (late_so_far.total, late_so_far.outstanding) == (16_470, 900_000)


def test_leap_year_still_uses_365_days():
    # 123,456 yen received 2020-02-01, repaid 2020-03-31: 2020-02-01 → 2020-03-31 = 29 (February 2020 has
    # the 29th) + 31 = 60 days. 123,456 × 0.1095 × 60 / 365 = 123,456 × 0.018 = 2,222.208 → 2,222.
    # (A 366-day year would give 123,456 × 0.1095 × 60 / 366 = 2,216.1 → 2,216: not what the law says.)
    result = calc.additional_charge(
        returns=[(date(2020, 2, 1), 123_456)], repayments=[(date(2020, 3, 31), 123_456)]
    )
    assert result.rows[0].days == 60
    assert result.rows[0].charge == Fraction(2_222_208, 1_000)
    assert result.total == 2_222
    # 延滞金 across Feb 29: due 2020-02-28, paid 2020-03-01 → 2 days (29 Feb, 1 Mar);
    # 1,000,000 × 0.0003 × 2 = 600.
    late = calc.late_charge(
        amount_due=1_000_000, due=date(2020, 2, 28), repayments=[(date(2020, 3, 1), 1_000_000)]
    )
    assert (late.rows[0].days, late.total) == (2, 600)


def test_charge_is_floored_once_per_portion():
    # 2,000 received 2020-04-01; 1,000 repaid the same day, 1,000 on 2020-04-03.
    #   2020-04-01 → 2020-04-01, 1 day × 2,000 × 0.0003 = 0.6
    #   2020-04-02 → 2020-04-03, 2 days × 1,000 × 0.0003 = 0.6
    # exact 1.2 → 1 yen (flooring each segment would give 0 + 0 = 0).
    result = calc.additional_charge(
        returns=[(date(2020, 4, 1), 2_000)],
        repayments=[(date(2020, 4, 1), 1_000), (date(2020, 4, 3), 1_000)],
    )
    assert [r.charge for r in result.rows] == [Fraction(3, 5), Fraction(3, 5)]
    assert [r.charge_floor for r in result.rows] == [0, 0]
    assert result.total == 1


def test_charge_edge_cases():
    received = [(date(2020, 6, 1), 1_000)]
    with pytest.raises(ValueError, match="until"):
        calc.additional_charge(returns=received, repayments=[])
    with pytest.raises(ValueError, match="until"):
        calc.late_charge(amount_due=1_000, due=date(2020, 6, 1), repayments=[])
    # Paid in full by the due date: no 延滞金 at all.
    on_time = calc.late_charge(
        amount_due=1_000, due=date(2020, 6, 30), repayments=[(date(2020, 6, 30), 1_000)]
    )
    assert (on_time.total, on_time.rows, on_time.outstanding) == (0, (), 0)
    # Paying more than the principal: the excess is reported (it settles the charge), not charged on.
    over = calc.additional_charge(returns=received, repayments=[(date(2020, 6, 10), 1_010)])
    assert (over.total, over.paid_beyond_principal) == (3, 10)  # 1,000 × 0.0003 × 10 days = 3
    # A repayment before the money it would repay was received is refused.
    with pytest.raises(ValueError, match="precedes"):
        calc.additional_charge(returns=received, repayments=[(date(2020, 5, 1), 500)])
    with pytest.raises(TypeError):
        calc.additional_charge(returns=[(date(2020, 6, 1), 1_000.0)], repayments=[(date(2020, 6, 2), 1_000)])


def reference_additional_charge(returns, repayments, until):
    """Day by day: every day each received portion accrues on what is still owed that morning; the day's
    repayments then go to the oldest portions first. Floored per portion."""
    portions = sorted(returns, key=lambda p: p[0])
    owed = [amount for _, amount in portions]
    accrued = [Fraction(0)] * len(portions)
    pays = {}
    for when, amount in repayments:
        pays[when] = pays.get(when, 0) + amount
    day = portions[0][0]
    end = until or max(pays)
    while day <= end:
        for i, (received, _) in enumerate(portions):
            if received <= day:
                accrued[i] += Fraction(owed[i] * 1095, 10_000 * 365)
        left = pays.get(day, 0)
        for i in range(len(portions)):
            take = min(left, owed[i])
            owed[i] -= take
            left -= take
        day += timedelta(days=1)
    return sum(a.numerator // a.denominator for a in accrued), sum(owed)


@st.composite
def returns_and_repayments(draw):
    start = date(2019, 12, 1)
    n = draw(st.integers(1, 3))
    returns = [
        (start + timedelta(days=draw(st.integers(0, 200))), draw(st.integers(0, 2_000_000))) for _ in range(n)
    ]
    principal = sum(a for _, a in returns)
    last_receipt = max(d for d, _ in returns)
    repayments, left = [], principal
    for _ in range(draw(st.integers(0, 4))):
        amount = draw(st.integers(0, left))
        left -= amount
        repayments.append((last_receipt + timedelta(days=draw(st.integers(0, 200))), amount))
    until = None
    if left or not repayments:
        until = last_receipt + timedelta(days=draw(st.integers(0, 220)))
        repayments = [(d, a) for d, a in repayments if d <= until]
    return returns, repayments, until


@settings(deadline=None, max_examples=150)
@given(returns_and_repayments())
def test_additional_charge_properties(case):
    returns, repayments, until = case
    result = calc.additional_charge(returns=returns, repayments=repayments, until=until)
    assert result.total >= 0
    assert all(row.charge >= 0 and row.days > 0 for row in result.rows)
    assert (result.total, result.outstanding) == reference_additional_charge(returns, repayments, until)
    # Principal first: paying part earlier never costs more than paying everything on the last day.
    last = until or max(d for d, _ in repayments)
    principal = sum(a for _, a in returns)
    lump = calc.additional_charge(returns=returns, repayments=[(last, principal)])
    assert result.total <= lump.total


@settings(deadline=None, max_examples=150)
@given(
    st.integers(0, 5_000_000),
    st.integers(0, 400),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 5_000_000)), max_size=4),
)
def test_late_charge_properties(amount_due, end_offset, raw_repayments):
    due = date(2020, 1, 15)
    until = due + timedelta(days=end_offset)
    repayments = [(due + timedelta(days=d - 30), a) for d, a in raw_repayments]
    result = calc.late_charge(amount_due=amount_due, due=due, repayments=repayments, until=until)
    assert result.total >= 0
    # day by day: each day after the due date, up to and including `until`, accrues on what is owed that morning
    owed, accrued, day = amount_due, Fraction(0), min([due, *[d for d, _ in repayments]])
    while day <= until:
        if day > due:
            accrued += Fraction(owed * 1095, 3_650_000)
        owed -= min(owed, sum(a for d, a in repayments if d == day))
        day += timedelta(days=1)
    assert (result.total, result.outstanding) == (accrued.numerator // accrued.denominator, owed)
    lump = calc.late_charge(amount_due=amount_due, due=due, repayments=[], until=until)
    assert result.total <= lump.total


# --- 明許繰越 ------------------------------------------------------------------------------------------------


def test_carry_over_spends_carried_money_first():
    # FY2019 work carried into FY2020 with 3,000,000 of FY2019 money (明許繰越); the same work also gets
    # 2,000,000 of FY2020 money. Spending in order: 1,200,000, 2,500,000, 1,000,000.
    #   1st: 1,200,000 all from carried                 → carried left 1,800,000
    #   2nd: 1,800,000 from carried + 700,000 current   → carried 0, current left 1,300,000
    #   3rd: 1,000,000 from current                     → current left 300,000 (unspent)
    assert calc.carry_over(
        carried=3_000_000, current=2_000_000, spending=[1_200_000, 2_500_000, 1_000_000]
    ) == [
        (1_200_000, 0),
        (1_800_000, 700_000),
        (0, 1_000_000),
    ]
    # 5,000,001 > 3,000,000 + 2,000,000
    with pytest.raises(ValueError):
        calc.carry_over(carried=3_000_000, current=2_000_000, spending=[5_000_001])


@settings(deadline=None, max_examples=200)
@given(st.integers(0, 10**7), st.integers(0, 10**7), st.lists(st.integers(0, 3 * 10**6), max_size=8))
def test_carry_over_properties(carried, current, spending):
    if sum(spending) > carried + current:
        with pytest.raises(ValueError):
            calc.carry_over(carried=carried, current=current, spending=spending)
        return
    split = calc.carry_over(carried=carried, current=current, spending=spending)
    assert [a + b for a, b in split] == spending
    assert sum(a for a, _ in split) == min(carried, sum(spending))
    # no current money is touched while carried money is left
    used = 0
    for from_carried, from_current in split:
        used += from_carried
        if from_current:
            assert used == carried

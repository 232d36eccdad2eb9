"""The points arithmetic against a slow, obviously correct reference (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.points import calc


def test_domain_examples():
    assert calc.premium(5_000, 2500) == 1_250
    assert calc.grant(5_000, 2500, 5_000) == 1_250  # after a 5,000-yen charge the headroom is 3,750
    assert calc.grant(20_000, 2500, 3_750) == 3_750
    assert calc.premium(3, 2500) == 0  # fractions are truncated
    assert calc.clawback(4_000, 2500, granted_on_original=1_250, already_clawed_back=500) == 750


def reference(accounts, amounts, rate_bp, headroom):
    left = list(headroom)
    out = []
    for a, amount in zip(accounts, amounts, strict=True):
        g = min(amount * rate_bp // 10_000, left[a])
        left[a] -= g
        out.append(g)
    return out


@settings(deadline=None, max_examples=300)
@given(
    st.integers(1, 6).flatmap(
        lambda m: st.tuples(
            st.lists(st.tuples(st.integers(0, m - 1), st.integers(0, 40_000)), max_size=60),
            st.lists(st.integers(0, 6_000), min_size=m, max_size=m),
        )
    ),
    st.sampled_from([2500, 1000, 10_000, 1]),
)
def test_batch_grants_equal_the_sequential_reference(data, rate_bp):
    items, headroom = data
    accounts = [a for a, _ in items]
    amounts = [x for _, x in items]
    got = calc.grants_batch(np.array(accounts, dtype=np.int64), np.array(amounts, dtype=np.int64), rate_bp,
                            np.array(headroom, dtype=np.int64))  # fmt: skip
    assert got.tolist() == reference(accounts, amounts, rate_bp, headroom)
    for a, h in enumerate(headroom):
        assert sum(g for g, acc in zip(got.tolist(), accounts, strict=True) if acc == a) <= h


@settings(deadline=None, max_examples=200)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 30_000)), max_size=40))
def test_sequences_of_transactions_and_refunds_never_exceed_the_cap(events):
    """A ledger driven by calc alone: the running total stays in [0, cap] and equals Σ grants − Σ clawbacks."""
    cap, rate = 5_000, 2500
    total, grants = 0, []  # grants: [granted, clawed]
    for is_refund, amount in events:
        if is_refund and grants:
            original = grants[amount % len(grants)]
            c = calc.clawback(amount, rate, original[0], original[1])
            original[1] += c
            total -= c
        else:
            g = calc.grant(amount, rate, cap - total)
            grants.append([g, 0])
            total += g
        assert 0 <= total <= cap
    assert total == sum(g - c for g, c in grants)

"""The arithmetic of マイナポイント, pure (no Django): the one place where points are computed.

Rule (DOMAIN.md §2): each charge or purchase earns floor(amount × rate), accumulated per person in the order
the platform records them, never beyond the cap: grant = min(floor(amount × rate), remaining headroom).
A refund claws back min(points granted on the original − already clawed back, floor(amount × rate)); the freed
headroom serves later transactions. Rates are integer basis points (2500 = 25 %), so every step is integer
arithmetic: floor(amount × rate_bp / 10000) with amounts in whole yen.
"""

from __future__ import annotations

import numpy as np

BP = 10_000


def premium(amount: int, rate_bp: int) -> int:
    """floor(amount × rate) for a non-negative integer amount."""
    if amount < 0:
        raise ValueError("amount must not be negative")
    return amount * rate_bp // BP


def grant(amount: int, rate_bp: int, remaining: int) -> int:
    """Points for one transaction given the headroom left before it."""
    return min(premium(amount, rate_bp), max(remaining, 0))


def clawback(refund_amount: int, rate_bp: int, granted_on_original: int, already_clawed_back: int) -> int:
    """Points taken back for a refund of `refund_amount` against an original transaction."""
    return min(max(granted_on_original - already_clawed_back, 0), premium(refund_amount, rate_bp))


def grants_batch(
    account: np.ndarray, amount: np.ndarray, rate_bp: np.ndarray | int, headroom: np.ndarray
) -> np.ndarray:
    """Vectorised `grant` for a batch of transactions in recording order.

    account:  int array (n,) — index into `headroom` of each transaction's account
    amount:   int array (n,) — yen, ≥ 0
    rate_bp:  int or int array (n,)
    headroom: int array (m,) — each account's remaining headroom before the batch
    Returns the int64 points of each transaction. Within an account, grants are applied in the given order:
    with c_i the running sum of raw premiums and H the headroom, grant_i = min(c_i, H) − min(c_{i−1}, H).
    """
    account = np.asarray(account, dtype=np.int64)
    amount = np.asarray(amount, dtype=np.int64)
    if amount.size == 0:
        return np.zeros(0, dtype=np.int64)
    if (amount < 0).any():
        raise ValueError("amounts must not be negative")
    raw = amount * np.asarray(rate_bp, dtype=np.int64) // BP
    # A stable sort by account keeps each account's transactions in recording order.
    order = np.argsort(account, kind="stable")
    acc_sorted = account[order]
    raw_sorted = raw[order]
    running = np.cumsum(raw_sorted)
    starts = np.flatnonzero(np.r_[True, acc_sorted[1:] != acc_sorted[:-1]])
    group_offset = np.repeat(running[starts] - raw_sorted[starts], np.diff(np.r_[starts, acc_sorted.size]))
    cumulative = running - group_offset  # running sum within each account
    limit = np.maximum(np.asarray(headroom, dtype=np.int64)[acc_sorted], 0)
    capped = np.minimum(cumulative, limit)
    previous = np.minimum(cumulative - raw_sorted, limit)
    granted_sorted = capped - previous
    granted = np.empty_like(granted_sorted)
    granted[order] = granted_sorted
    return granted

"""The largest-remainder engine: integer yen that add up exactly to the total, checked with hypothesis
against the exact quotas."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madoguchi.cloud.allocation import largest_remainder, reduction_bp, split_cost

weights_st = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=12)


@given(total=st.integers(min_value=0, max_value=10**12), weights=weights_st)
def test_shares_add_up_and_stay_within_one_yen_of_the_quota(total, weights):
    keys = [f"{i:06d}" for i in range(len(weights))]
    shares = largest_remainder(total, weights, keys)
    assert sum(shares) == total
    assert all(s >= 0 for s in shares)
    weight_sum = sum(weights) or None
    for share, w in zip(shares, weights, strict=True):
        quota = Fraction(total * w, weight_sum) if weight_sum else Fraction(total, len(weights))
        assert abs(share - quota) < 1


@given(total=st.integers(min_value=0, max_value=10**9), weights=weights_st, data=st.data())
def test_the_result_does_not_depend_on_the_order_of_the_members(total, weights, data):
    keys = [f"{i:06d}" for i in range(len(weights))]
    order = data.draw(st.permutations(range(len(weights))))
    straight = dict(zip(keys, largest_remainder(total, weights, keys), strict=True))
    shuffled_keys = [keys[i] for i in order]
    shuffled = largest_remainder(total, [weights[i] for i in order], shuffled_keys)
    assert dict(zip(shuffled_keys, shuffled, strict=True)) == straight


def test_ties_go_to_the_lowest_code():
    # 10 yen among three equal members: 3 each and one left over, which goes to the lowest code.
    assert largest_remainder(10, [1, 1, 1], ["222222", "111111", "333333"]) == [3, 4, 3]


@given(
    total=st.integers(min_value=0, max_value=10**12),
    equal_share_bp=st.integers(min_value=0, max_value=10_000),
    weights=weights_st,
)
def test_split_parts_add_up_to_the_total(total, equal_share_bp, weights):
    keys = [f"{i:06d}" for i in range(len(weights))]
    splits = split_cost(total, equal_share_bp=equal_share_bp, keys=keys, weights=weights)
    assert sum(s.total for s in splits) == total
    assert all(s.equal_part >= 0 and s.variable_part >= 0 for s in splits)
    assert sum(s.equal_part for s in splits) == total * equal_share_bp // 10_000


def test_refuses_negative_input():
    with pytest.raises(ValueError):
        largest_remainder(-1, [1], ["a"])
    with pytest.raises(ValueError):
        largest_remainder(1, [-1], ["a"])


def test_reduction_rounds_half_up():
    assert reduction_bp(1_000_000, 400_000) == 6000
    assert reduction_bp(3, 2) == 3333  # 33.333…%
    assert reduction_bp(3, 1) == 6667  # 66.666…%, rounded up
    assert reduction_bp(100, 120) == -2000

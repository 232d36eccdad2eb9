"""The pure arithmetic of cost sharing: integer yen that add up exactly to the total.

Largest-remainder method: every share first gets the floor of its exact quota; the yen left over (fewer
than the number of shares) go one each to the largest fractional remainders. Ties are broken by the key
(the municipality code), so the same inputs always give the same result whatever their order.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

BASIS_POINTS = 10_000


def largest_remainder(total: int, weights: Sequence[Fraction | int], keys: Sequence[str]) -> list[int]:
    """Split `total` (≥ 0) in proportion to `weights` (each ≥ 0). When every weight is zero, split equally.

    Returns one integer per weight, each ≥ 0, summing to `total`, and within 1 of its exact quota.
    """
    if total < 0:
        raise ValueError("total must not be negative")
    if len(weights) != len(keys):
        raise ValueError("weights and keys differ in length")
    if not weights:
        if total:
            raise ValueError("nothing to split a non-zero total among")
        return []
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    weight_sum = sum((Fraction(w) for w in weights), Fraction(0))
    if weight_sum == 0:
        weights = [1] * len(weights)
        weight_sum = Fraction(len(weights))
    quotas = [Fraction(total) * Fraction(w) / weight_sum for w in weights]
    shares = [q.numerator // q.denominator for q in quotas]
    left = total - sum(shares)
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - shares[i]), keys[i]))
    for i in order[:left]:
        shares[i] += 1
    return shares


@dataclass(frozen=True)
class Split:
    key: str
    equal_part: int
    variable_part: int

    @property
    def total(self) -> int:
        return self.equal_part + self.variable_part


def split_cost(
    total: int, *, equal_share_bp: int, keys: Sequence[str], weights: Sequence[Fraction | int]
) -> list[Split]:
    """Split `total` yen: `equal_share_bp`/10000 of it (rounded down) equally, the rest by `weights`.

    Each pool is split by the largest-remainder method, so Σ equal parts + Σ variable parts == total.
    """
    if not 0 <= equal_share_bp <= BASIS_POINTS:
        raise ValueError("equal_share_bp must be between 0 and 10000")
    equal_pool = total * equal_share_bp // BASIS_POINTS
    variable_pool = total - equal_pool
    equal = largest_remainder(equal_pool, [1] * len(keys), keys)
    variable = largest_remainder(variable_pool, weights, keys)
    return [Split(k, e, v) for k, e, v in zip(keys, equal, variable, strict=True)]


def reduction_bp(before: int, after: int) -> int:
    """(before − after) / before in basis points, rounded half up; negative when the cost went up."""
    if before <= 0:
        raise ValueError("before must be positive")
    exact = Fraction((before - after) * BASIS_POINTS, before)
    return int((exact + Fraction(1, 2)).__floor__())

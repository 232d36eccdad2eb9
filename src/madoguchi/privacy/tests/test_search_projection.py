"""The projection bound of the optimal search (`lattice.projection_failures`): the failing projection nodes it
returns are exactly the maximal failing pair projections of a brute force, nothing in their down-sets
satisfies, and the optimum with the bound equals the plain search, including the suppression corner cases."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.privacy.engine import Hierarchy, NoSolutionError, PrivacyModel, optimal_search, plain_search
from madoguchi.privacy.engine import search as search_module
from madoguchi.privacy.engine.hierarchy import encode_hierarchy
from madoguchi.privacy.engine.lattice import (
    Problem,
    group,
    lattice_nodes,
    projection_failures,
    row_classes,
)
from madoguchi.privacy.engine.models import Evaluator

from .test_search_bounds import random_problem

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def suppressed(problem: Problem, k: int, levels: tuple[int, ...]) -> int:
    """Rows in classes smaller than k, straight from the rows."""
    snap = group(problem, row_classes(problem), levels)
    return int(snap.counts[snap.counts < k].sum())


def brute_force_maximal(problem: Problem, k: int, limit: int) -> set[tuple[int, ...]]:
    """For every pair of QIs, the failing projection nodes none of whose two levels can be raised while still
    failing (evaluated from the rows, one node at a time)."""
    heights = problem.heights
    found = set()
    for a, b in itertools.combinations(range(len(heights)), 2):
        fails = {}
        for la in range(heights[a] + 1):
            for lb in range(heights[b] + 1):
                levels = list(heights)
                levels[a], levels[b] = la, lb
                fails[la, lb] = suppressed(problem, k, tuple(levels)) > limit
        for (la, lb), fail in fails.items():
            if fail and not fails.get((la + 1, lb)) and not fails.get((la, lb + 1)):
                levels = list(heights)
                levels[a], levels[b] = la, lb
                found.add(tuple(levels))
    return found


@SETTINGS
@given(
    seed=st.integers(0, 10**6),
    n_rows=st.integers(1, 150),
    n_qi=st.integers(1, 4),
    k=st.integers(1, 8),
    suppression=st.sampled_from([0.0, 0.02, 0.05, 0.1, 0.3]),
    from_bottom=st.booleans(),
)
def test_projection_failures_are_the_maximal_failing_pair_projections_and_sound(
    seed, n_rows, n_qi, k, suppression, from_bottom
):
    problem = random_problem(seed, n_rows, n_qi)
    limit = int(np.floor(suppression * n_rows + 1e-9))
    source = None
    if from_bottom:
        source = group(problem, row_classes(problem), tuple(0 for _ in problem.heights))
    found = projection_failures(problem, k, limit, source)
    assert len(found) == len(set(found))
    assert set(found) == (brute_force_maximal(problem, k, limit) if k > 1 else set())
    # Sound: every node in the down-set of a returned projection fails.
    for node in lattice_nodes(problem.heights):
        levels = tuple(int(x) for x in node)
        if any(all(a <= b for a, b in zip(levels, top, strict=True)) for top in found):
            assert suppressed(problem, k, levels) > limit


def test_a_projection_suppressing_exactly_the_limit_proves_nothing():
    # One QI pair, both height 1 ({x0, x1} → *, {y0, y1} → *). At the bottom, (x1, y1) has 2 rows and the
    # other cells 5: with k = 3 the bottom suppresses 2 rows.
    hx = encode_hierarchy(Hierarchy.from_rows([["x0", "*"], ["x1", "*"]], source="x"))
    hy = encode_hierarchy(Hierarchy.from_rows([["y0", "*"], ["y1", "*"]], source="y"))
    codes = np.array([[0, 0]] * 5 + [[0, 1]] * 5 + [[1, 0]] * 5 + [[1, 1]] * 2, dtype=np.int64)
    problem = Problem(("x", "y"), codes, (hx, hy))
    assert projection_failures(problem, 3, limit=2) == []  # exactly at the limit: satisfies
    assert projection_failures(problem, 3, limit=1) == [(0, 0)]
    # k larger than the table: even the top node fails, and its down-set is everything.
    assert projection_failures(problem, 18, limit=2) == [(1, 1)]
    assert projection_failures(problem, 1, limit=0) == []  # k = 1: nothing is ever suppressed
    for limit in (2, 1):
        # 17 rows: the suppression share that allows exactly `limit` rows.
        evaluator = Evaluator(PrivacyModel(k=3, suppression=(limit + 0.5) / 17), problem.n_rows)
        assert evaluator.max_suppressed == limit
        expected = plain_search(problem, evaluator).levels
        # The bottom (suppressing 2 rows) is the optimum exactly when 2 rows may go.
        assert (expected == (0, 0)) == (limit == 2)
        for bound in (True, False):
            assert optimal_search(problem, evaluator, projection_bound=bound).levels == expected
    evaluator = Evaluator(PrivacyModel(k=18, suppression=0.1), problem.n_rows)
    for search in (plain_search, optimal_search):
        with pytest.raises(NoSolutionError):
            search(problem, evaluator)


@SETTINGS
@given(
    seed=st.integers(0, 10**6),
    n_rows=st.integers(1, 200),
    n_qi=st.integers(1, 5),
    k=st.integers(1, 250),
    suppression=st.sampled_from([0.0, 0.01, 0.04, 0.1, 0.25]),
    metric=st.sampled_from(["entropy", "loss", "precision"]),
)
def test_the_optimum_with_the_projection_bound_equals_the_plain_search(
    seed, n_rows, n_qi, k, suppression, metric
):
    problem = random_problem(seed, n_rows, n_qi)
    evaluator = Evaluator(PrivacyModel(k=k, suppression=suppression), problem.n_rows)

    def outcome(search, **kw):
        try:
            r = search(problem, evaluator, metric, **kw)
        except NoSolutionError:
            return None
        return r.levels

    expected = outcome(plain_search)
    assert outcome(optimal_search) == expected
    assert outcome(optimal_search, projection_bound=False) == expected
    assert outcome(optimal_search, row_bound=True) == expected


@pytest.mark.parametrize("suppression", [0.0, 0.04])
def test_the_bound_settles_nodes_on_larger_tables_and_keeps_the_plain_optimum(suppression, monkeypatch):
    """Tables of a few hundred rows, where the projections really fail (counted), give the plain optimum."""
    marked = []
    original = search_module.projection_failures

    def counted(*args):
        found = original(*args)
        marked.extend(found)
        return found

    monkeypatch.setattr(search_module, "projection_failures", counted)
    for seed in range(6):
        problem = random_problem(seed, 400, 5)
        evaluator = Evaluator(PrivacyModel(k=6, suppression=suppression), problem.n_rows)
        plain = plain_search(problem, evaluator).levels
        assert optimal_search(problem, evaluator).levels == plain
        assert optimal_search(problem, evaluator, roll_up=False).levels == plain
    assert marked  # the bound did mark failing down-sets on these tables


def test_the_bound_is_not_used_for_models_with_a_sensitive_column(monkeypatch):
    calls = []
    monkeypatch.setattr(search_module, "projection_failures", lambda *a: calls.append(a) or [])
    problem = random_problem(3, 100, 3, sensitive=True)
    evaluator = Evaluator(
        PrivacyModel(k=2, l=2, suppression=0.05), problem.n_rows, problem.sensitive, problem.n_sensitive
    )
    optimal_search(problem, evaluator)
    assert not calls
    optimal_search(problem, Evaluator(PrivacyModel(k=2, suppression=0.05), problem.n_rows))
    assert len(calls) == 1

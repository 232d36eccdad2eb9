"""Roll-up and the cheaper steps of the optimal search: chains of roll-ups (through snapshots that carry their
class sizes as float weights) give the classes grouped from the rows; a satisfied up-set written whole; on larger
tables the join prediction is used and keeps the plain optimum (the property test with every join skipped or
tried is in test_search_climbing.py)."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.privacy.engine import PrivacyModel, optimal_search, plain_search
from madoguchi.privacy.engine import search as search_module
from madoguchi.privacy.engine.lattice import LatticeMasks, group, lattice_nodes, row_classes
from madoguchi.privacy.engine.models import Evaluator
from madoguchi.privacy.engine.search import _RaiseEffect

from .test_search_bounds import random_problem
from .test_search_climbing import counting_skips

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def as_rows(snap) -> set[tuple]:
    """A snapshot as a set of (codes…, size) rows: classes compare whatever their order."""
    return {(*(int(c[i]) for c in snap.codes), int(snap.counts[i])) for i in range(len(snap))}


@SETTINGS
@given(seed=st.integers(0, 10**6), n_rows=st.integers(1, 300), n_qi=st.integers(1, 5), data=st.data())
def test_a_chain_of_roll_ups_gives_the_classes_grouped_from_the_rows(seed, n_rows, n_qi, data):
    problem = random_problem(seed, n_rows, n_qi)
    # Three nodes, each ≥ the one before: roll up bottom → a → b and compare with b from the rows.
    a = tuple(data.draw(st.integers(0, h)) for h in problem.heights)
    b = tuple(data.draw(st.integers(lv, h)) for lv, h in zip(a, problem.heights, strict=True))
    rows = row_classes(problem)
    bottom = group(problem, rows, tuple(0 for _ in problem.heights))
    mid = group(problem, bottom, a)
    top = group(problem, mid, b)
    assert mid.weights is None or np.array_equal(mid.weights, mid.counts)
    assert as_rows(top) == as_rows(group(problem, rows, b))
    assert top.counts.dtype == np.int64
    assert int(top.counts.sum()) == n_rows


@SETTINGS
@given(heights=st.lists(st.integers(0, 3), min_size=1, max_size=4), data=st.data())
def test_a_satisfied_up_set_written_whole_is_the_up_set(heights, data):
    """With `overwrite` (monotone models: every status known in the up-set is already "satisfied") the box is
    written without reading it; nothing outside the up-set changes."""
    heights = tuple(heights)
    nodes = lattice_nodes(heights)
    up_codes = [search_module._UNKNOWN, search_module._SAT]
    other = [search_module._UNKNOWN, search_module._FAIL, search_module._SAT]
    levels = tuple(data.draw(st.integers(0, h)) for h in heights)
    up = LatticeMasks(nodes, heights).up(levels)
    status = np.array([data.draw(st.sampled_from(up_codes if u else other)) for u in up], dtype=np.int8)
    before = status.copy()
    search_module._mark_satisfied_above(status.reshape(tuple(h + 1 for h in heights)), levels, overwrite=True)
    assert (status[up] == search_module._SAT).all()
    assert (status[~up] == before[~up]).all()


def test_the_join_prediction_is_used_on_larger_tables_and_keeps_the_plain_optimum(monkeypatch):
    """Tables of a thousand rows and six quasi-identifiers with suppression: joins are skipped (counted) and
    the optimum is the plain one."""
    counted, skipped = counting_skips("may_fail")
    monkeypatch.setattr(_RaiseEffect, "may_fail", counted)
    for seed in range(5):
        problem = random_problem(seed, 1000, 6)
        evaluator = Evaluator(PrivacyModel(k=4, suppression=0.04), problem.n_rows)
        assert optimal_search(problem, evaluator).levels == plain_search(problem, evaluator).levels
    assert any(skipped)

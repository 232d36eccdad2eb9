"""The climbs of the optimal search: the learnt effect of raising one quasi-identifier (`search._RaiseEffect`),
which lets a climb skip the evaluations that would almost surely satisfy, and the satisfied up-sets marked in
the status array. Skipping changes which nodes are evaluated, never the optimum: checked against the plain
search, with the skip both used and switched off."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.privacy.engine import Hierarchy, NoSolutionError, PrivacyModel, optimal_search, plain_search
from madoguchi.privacy.engine import search as search_module
from madoguchi.privacy.engine.hierarchy import encode_hierarchy
from madoguchi.privacy.engine.lattice import LatticeMasks, Problem, lattice_nodes
from madoguchi.privacy.engine.models import Evaluator
from madoguchi.privacy.engine.search import _RaiseEffect

from .test_search_bounds import random_problem

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def eight_values_problem() -> Problem:
    """One quasi-identifier whose 8 values merge into 2 at level 1 and into `*` at level 2."""
    rows = [[f"v{i}", f"g{i // 4}", "*"] for i in range(8)]
    h = encode_hierarchy(Hierarchy.from_rows(rows, source="q"))
    return Problem(("q",), np.zeros((1, 1), dtype=np.int64), (h,))


def test_the_prior_rate_predicts_from_the_shrink_of_the_domain():
    effect = _RaiseEffect(eight_values_problem(), limit=10)
    # 8 → 2 values: log(4) ≈ 1.386; threshold log(11) ≈ 2.398; prior rate ½.
    assert effect.rate == 0.5
    assert effect.shrink((0,), (1,)) == pytest.approx(math.log(4))
    assert effect.shrink((0,), (2,)) == pytest.approx(math.log(8))
    assert effect.likely_fails(50, effect.shrink((0,), (1,)))  # log(51) − 0.693 ≈ 3.24 > 2.398
    assert not effect.likely_fails(20, effect.shrink((0,), (1,)))  # log(21) − 0.693 ≈ 2.35 ≤ 2.398
    # 2 → 1 value (log 2 ≈ 0.693): a smaller shrink, so 20 rows are still predicted to fail.
    assert effect.likely_fails(20, effect.shrink((1,), (2,)))


def test_raising_several_quasi_identifiers_multiplies_their_shrinks():
    rows = [[f"v{i}", f"g{i // 4}", "*"] for i in range(8)]
    h = encode_hierarchy(Hierarchy.from_rows(rows, source="q"))
    effect = _RaiseEffect(Problem(("a", "b"), np.zeros((1, 2), dtype=np.int64), (h, h)), limit=10)
    assert effect.shrink((0, 0), (1, 2)) == pytest.approx(math.log(4) + math.log(8))
    assert effect.shrink((1, 2), (1, 2)) == 0


def test_the_rate_is_the_median_of_what_was_seen_and_levels_that_merge_nothing_teach_nothing():
    effect = _RaiseEffect(eight_values_problem(), limit=10)
    log4 = math.log(4)
    effect.observe(100, 100, log4)  # no change: rate 0
    assert effect.rate == 0.5  # the median of [0, 0.5] (upper middle)
    effect.observe(100, 100, log4)
    assert effect.rate == 0.0  # the median of [0, 0, 0.5]
    assert effect.likely_fails(11, log4)  # nothing predicted to change: 11 rows stay over the limit
    effect.observe(100, 10, 0.0)  # no shrink: ignored
    assert effect.rates == [0.0, 0.0, 0.5]
    effect.observe(math.e**3 - 1, math.e - 1, log4)  # log(1 + s) falls by 2 over log 4
    effect.observe(math.e**3 - 1, math.e - 1, log4)
    assert effect.rate == pytest.approx(0.5)  # [0, 0, 0.5, 1.443, 1.443]
    assert effect.rates[-1] == pytest.approx(2 / log4)


def outcome(problem, evaluator, metric, search, **kw):
    try:
        r = search(problem, evaluator, metric, **kw)
    except NoSolutionError:
        return None
    return r.levels


@SETTINGS
@given(
    seed=st.integers(0, 10**6),
    n_rows=st.integers(1, 200),
    n_qi=st.integers(1, 5),
    k=st.integers(1, 12),
    suppression=st.sampled_from([0.0, 0.02, 0.04, 0.1, 0.3]),
    metric=st.sampled_from(["entropy", "loss", "precision"]),
)
def test_skipping_raises_or_joins_never_changes_the_optimum(seed, n_rows, n_qi, k, suppression, metric):
    problem = random_problem(seed, n_rows, n_qi)
    evaluator = Evaluator(PrivacyModel(k=k, suppression=suppression), problem.n_rows)
    expected = outcome(problem, evaluator, metric, plain_search)
    assert outcome(problem, evaluator, metric, optimal_search) == expected
    # The most aggressive skipping there is: no raise is ever tried; no join is ever tried; every join is tried.
    for predicate, answer in (("likely_fails", False), ("may_fail", False), ("may_fail", True)):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_RaiseEffect, predicate, lambda *a, answer=answer: answer)
            assert outcome(problem, evaluator, metric, optimal_search) == expected, (predicate, answer)


def counting_skips(predicate: str):
    """`_RaiseEffect.<predicate>` wrapped to record, per call, whether it skipped (predicted no failure); and the
    list it records into."""
    original = getattr(_RaiseEffect, predicate)
    skipped: list[bool] = []

    def counted(self, *args):
        fails = original(self, *args)
        skipped.append(not fails)
        return fails

    return counted, skipped


def test_the_skip_saves_evaluations_on_larger_tables_and_keeps_the_plain_optimum(monkeypatch):
    """Tables of a thousand rows and six quasi-identifiers, with suppression: the skip is taken (counted), the
    optimum is the plain one, and over the tables fewer nodes are evaluated than when every raise is tried."""
    counted, skipped = counting_skips("likely_fails")
    with_skip = without_skip = 0
    for seed in range(5):
        problem = random_problem(seed, 1000, 6)
        evaluator = Evaluator(PrivacyModel(k=4, suppression=0.04), problem.n_rows)
        plain = plain_search(problem, evaluator).levels
        monkeypatch.setattr(_RaiseEffect, "likely_fails", counted)
        found = optimal_search(problem, evaluator)
        assert found.levels == plain
        with_skip += found.nodes_evaluated
        monkeypatch.setattr(_RaiseEffect, "likely_fails", lambda *a: True)  # every raise tried, as before
        found = optimal_search(problem, evaluator)
        assert found.levels == plain
        without_skip += found.nodes_evaluated
    assert any(skipped)
    assert with_skip < without_skip


@SETTINGS
@given(heights=st.lists(st.integers(0, 3), min_size=1, max_size=4), data=st.data())
def test_a_satisfied_node_marks_its_whole_up_set_and_nothing_else(heights, data):
    heights = tuple(heights)
    nodes = lattice_nodes(heights)
    codes = [search_module._UNKNOWN, search_module._FAIL, search_module._SAT, search_module._FAIL_ALONE]
    status = np.array(
        data.draw(st.lists(st.sampled_from(codes), min_size=len(nodes), max_size=len(nodes))), dtype=np.int8
    )
    levels = tuple(data.draw(st.integers(0, h)) for h in heights)
    before = status.copy()
    search_module._mark_satisfied_above(status.reshape(tuple(h + 1 for h in heights)), levels)
    up = LatticeMasks(nodes, heights).up(levels)
    assert (status[up & (before == search_module._UNKNOWN)] == search_module._SAT).all()
    assert (
        status[up & (before != search_module._UNKNOWN)] == before[up & (before != search_module._UNKNOWN)]
    ).all()
    assert (status[~up] == before[~up]).all()


def test_a_table_without_quasi_identifiers_has_the_one_empty_node_as_optimum():
    """The lattice of no quasi-identifier is one node, (); marking its up-set must still work (a 0-d array)."""
    problem = Problem((), np.zeros((4, 0), dtype=np.int64), ())
    evaluator = Evaluator(PrivacyModel(k=2), problem.n_rows)
    assert optimal_search(problem, evaluator).levels == plain_search(problem, evaluator).levels == ()


@SETTINGS
@given(
    seed=st.integers(0, 10**6),
    n_rows=st.integers(10, 150),
    n_qi=st.integers(1, 4),
    model=st.sampled_from(
        [
            dict(k=2, l=2),
            dict(k=2, l=1.5, l_variant="entropy"),
            dict(k=2, t=0.4),
            dict(k=3, t=0.6),
        ]
    ),
    suppression=st.sampled_from([0.0, 0.04, 0.2]),
)
def test_skipping_raises_keeps_the_optimum_with_a_sensitive_attribute(seed, n_rows, n_qi, model, suppression):
    """Distinct ℓ-diversity is monotone; entropy ℓ and t-closeness with suppression are not (the search then
    infers less): with the skip as written and with every raise skipped, the optimum is the plain one."""
    problem = random_problem(seed, n_rows, n_qi, sensitive=True)
    evaluator = Evaluator(
        PrivacyModel(**model, suppression=suppression), problem.n_rows, problem.sensitive, problem.n_sensitive
    )
    expected = outcome(problem, evaluator, "entropy", plain_search)
    assert outcome(problem, evaluator, "entropy", optimal_search) == expected
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_RaiseEffect, "likely_fails", lambda *a: False)
        assert outcome(problem, evaluator, "entropy", optimal_search) == expected

"""The searches: the optimal one equals the plain evaluate-every-node one and a pure-Python brute force on small
random tables with random hierarchies; every released table meets its privacy model."""

import itertools
import math
from collections import Counter, defaultdict

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.privacy.engine import (
    METRICS,
    Hierarchy,
    NoSolutionError,
    PrivacyModel,
    anonymize,
    heuristic_search,
    optimal_search,
    plain_search,
)
from madoguchi.privacy.engine.hierarchy import column_codes, encode_hierarchy
from madoguchi.privacy.engine.lattice import Classes, Problem, SnapshotCache
from madoguchi.privacy.engine.models import Evaluator

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def random_hierarchy(draw, name: str) -> Hierarchy:
    """A random tree: `domain` leaves, each level merging the groups of the level below at random."""
    domain = draw(st.integers(1, 6))
    height = draw(st.integers(1, 3))
    rows = [[f"{name}{i}"] for i in range(domain)]
    group_of = list(range(domain))
    for level in range(1, height):
        n_groups = max(group_of) + 1
        parent = draw(st.lists(st.integers(0, n_groups - 1), min_size=n_groups, max_size=n_groups))
        group_of = [parent[g] for g in group_of]
        for row, g in zip(rows, group_of, strict=True):
            row.append(f"{name}-L{level}-{g}")
    for row in rows:
        row.append("*")
    return Hierarchy.from_rows(rows, source=name)


@st.composite
def random_case(draw):
    n_qi = draw(st.integers(1, 3))
    n_rows = draw(st.integers(1, 28))
    hierarchies = {f"q{i}": draw(random_hierarchy(f"q{i}")) for i in range(n_qi)}
    columns = {
        name: [
            h.values[v]
            for v in draw(st.lists(st.integers(0, len(h.rows) - 1), min_size=n_rows, max_size=n_rows))
        ]
        for name, h in hierarchies.items()
    }
    s_hier = draw(random_hierarchy("s"))
    columns["s"] = [
        s_hier.values[v]
        for v in draw(st.lists(st.integers(0, len(s_hier.rows) - 1), min_size=n_rows, max_size=n_rows))
    ]
    table = pl.DataFrame(columns)
    kind = draw(st.sampled_from(["k", "distinct", "entropy", "t-equal", "t-hier"]))
    k = draw(st.integers(1, 4))
    suppression = draw(st.sampled_from([0.0, 0.1, 0.25, 0.5]))
    model = PrivacyModel(
        k=k,
        l=draw(st.sampled_from([1.5, 2, 3])) if kind in ("distinct", "entropy") else None,
        l_variant="entropy" if kind == "entropy" else "distinct",
        t=draw(st.sampled_from([0.15, 0.3, 0.6])) if kind.startswith("t") else None,
        t_measure="hierarchical" if kind == "t-hier" else "equal",
        suppression=suppression,
    )
    return table, hierarchies, s_hier, model


def encode(table, hierarchies, s_hier, model):
    names = tuple(hierarchies)
    encoded = tuple(encode_hierarchy(hierarchies[n]) for n in names)
    codes = np.stack([column_codes(hierarchies[n], table[n]) for n in names], axis=1)
    sens = column_codes(s_hier, table["s"])
    problem = Problem(names, codes, encoded, sens, len(s_hier.rows))
    evaluator = Evaluator(model, problem.n_rows, sens, len(s_hier.rows), encode_hierarchy(s_hier))
    return problem, evaluator


def outcome(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs).levels
    except NoSolutionError:
        return None


@FAST
@given(case=random_case(), metric=st.sampled_from(METRICS))
def test_optimal_search_equals_plain_search(case, metric):
    problem, evaluator = encode(*case)
    best = outcome(optimal_search, problem, evaluator, metric)
    assert best == outcome(plain_search, problem, evaluator, metric)
    assert best == outcome(optimal_search, problem, evaluator, metric, roll_up=False)
    assert best == outcome(optimal_search, problem, evaluator, metric, row_bound=True)
    assert best == outcome(optimal_search, problem, evaluator, metric, projection_bound=False)


def brute_force(table, hierarchies, k, ell, suppression):
    """Pure Python, from the definitions: k-anonymity (+ distinct ℓ-diversity), entropy objective, ties by level
    sum then lexicographic order. Shares nothing with the engine but the hierarchy rows."""
    names = list(hierarchies)
    maps = {n: {r[0]: r for r in hierarchies[n].rows} for n in names}
    rows = list(zip(*[table[n].to_list() for n in names], strict=True))
    sens = table["s"].to_list()
    limit = math.floor(suppression * len(rows) + 1e-9)
    best = None
    for levels in itertools.product(*[range(hierarchies[n].height + 1) for n in names]):
        classes = defaultdict(list)
        for i, row in enumerate(rows):
            classes[tuple(maps[n][v][lv] for n, v, lv in zip(names, row, levels, strict=True))].append(i)
        bad = sum(len(m) for m in classes.values() if len(m) < k or len({sens[i] for i in m}) < ell)
        if bad > limit:
            continue
        entropy = 0.0
        for q, n in enumerate(names):
            original = Counter(r[q] for r in rows)
            generalized = Counter(maps[n][r[q]][levels[q]] for r in rows)
            entropy += sum(-math.log2(original[r[q]] / generalized[maps[n][r[q]][levels[q]]]) for r in rows)
        key = (entropy, sum(levels), levels)
        if best is None or key[0] < best[0] - 1e-9 or (abs(key[0] - best[0]) <= 1e-9 and key[1:] < best[1:]):
            best = key
    return None if best is None else best[2]


@FAST
@given(case=random_case(), ell=st.sampled_from([1, 2]))
def test_optimal_search_equals_a_pure_python_brute_force(case, ell):
    table, hierarchies, s_hier, model = case
    model = PrivacyModel(k=model.k, l=ell, suppression=model.suppression)
    problem, evaluator = encode(table, hierarchies, s_hier, model)
    expected = brute_force(table, hierarchies, model.k, ell, model.suppression)
    assert outcome(optimal_search, problem, evaluator, "entropy") == expected
    assert outcome(optimal_search, problem, evaluator, "entropy", row_bound=True) == expected


def hierarchical_emd(p, q, s_hier):
    """Li et al.'s hierarchical EMD, written out over the hierarchy's rows (an independent reference)."""
    height = s_hier.height
    total = 0.0
    for level in range(1, height + 1):
        children = defaultdict(lambda: defaultdict(float))
        for row in s_hier.rows:
            children[row[level]][row[level - 1]] += p.get(row[0], 0.0) - q.get(row[0], 0.0)
        for kids in children.values():
            pos = sum(v for v in kids.values() if v > 0)
            neg = -sum(v for v in kids.values() if v < 0)
            total += level / height * min(pos, neg)
    return total


@FAST
@given(case=random_case())
def test_every_released_table_meets_its_privacy_model(case):
    table, hierarchies, s_hier, model = case
    roles = {n: "quasi_identifier" for n in hierarchies} | {"s": "sensitive"}
    try:
        result = anonymize(table, roles=roles, hierarchies=hierarchies | {"s": s_hier}, model=model)
    except NoSolutionError:
        return
    out = result.table
    qi = list(hierarchies)
    n = table.height
    assert result.suppressed <= math.floor(model.suppression * n + 1e-9)
    assert int(result.suppressed_rows.sum()) == result.suppressed
    # Suppressed records are deleted: the table as returned holds only the released ones, and every one of its
    # classes is checked, none filtered out.
    assert out.height == n - result.suppressed
    overall = {v: c / n for v, c in Counter(table["s"].to_list()).items()}
    for _, members in out.group_by(qi):
        values = members["s"].to_list()
        assert len(values) >= model.k
        counts = Counter(values)
        if model.l is not None:
            if model.l_variant == "distinct":
                assert len(counts) >= model.l
            else:
                entropy = -sum(c / len(values) * math.log(c / len(values)) for c in counts.values())
                assert entropy >= math.log(model.l) - 1e-9
        if model.t is not None:
            p = {v: c / len(values) for v, c in counts.items()}
            if model.t_measure == "equal":
                emd = 0.5 * sum(abs(p.get(v, 0.0) - overall.get(v, 0.0)) for v in set(p) | set(overall))
            else:
                emd = hierarchical_emd(p, overall, s_hier)
            assert emd <= model.t + 1e-9


@FAST
@given(case=random_case(), metric=st.sampled_from(["entropy", "loss", "discernibility"]))
def test_heuristic_search_finds_a_satisfying_node_no_better_than_the_optimum(case, metric):
    problem, evaluator = encode(*case)
    best = outcome(optimal_search, problem, evaluator, metric)
    if best is None:
        with pytest.raises(NoSolutionError):
            heuristic_search(problem, evaluator, metric)
        return
    found = heuristic_search(problem, evaluator, metric)
    optimum = optimal_search(problem, evaluator, metric)
    assert (found.objective, sum(found.levels)) >= (optimum.objective, sum(optimum.levels)) or math.isclose(
        found.objective, optimum.objective
    )
    assert found.optimal is False


def test_the_search_is_chosen_by_lattice_size():
    table = pl.DataFrame({"a": ["x", "y", "x", "y"], "b": ["1", "1", "2", "2"]})
    h = {
        "a": Hierarchy.from_rows([["x", "*"], ["y", "*"]]),
        "b": Hierarchy.from_rows([["1", "*"], ["2", "*"]]),
    }
    roles = {"a": "quasi_identifier", "b": "quasi_identifier"}
    exact = anonymize(table, roles=roles, hierarchies=h, model=PrivacyModel(k=2))
    assert exact.search.method == "optimal" and exact.search.optimal
    rough = anonymize(table, roles=roles, hierarchies=h, model=PrivacyModel(k=2), heuristic_threshold=3)
    assert rough.search.method == "heuristic" and not rough.search.optimal
    assert exact.search.nodes_total == 4


def test_no_solution_is_reported_in_japanese_first():
    table = pl.DataFrame({"a": ["x", "y"]})
    h = {"a": Hierarchy.from_rows([["x", "*"], ["y", "*"]])}
    with pytest.raises(NoSolutionError) as err:
        anonymize(table, roles={"a": "quasi_identifier"}, hierarchies=h, model=PrivacyModel(k=3))
    assert str(err.value).startswith("どの一般化でも")


def test_entropy_diversity_with_suppression_is_not_pruned_as_if_monotone():
    # Three rows. At (0, *) the classes are {B} (suppressed: one record is within 40 % of 3) and {A, B}
    # (entropy ln 2): satisfied. At (*, *) the one class {B, A, B} has entropy below ln 2 and all three
    # records would go: not satisfied, although the node is above a satisfied one. A search that inferred
    # "fails ⇒ everything below fails" from this model would report no solution.
    h0 = Hierarchy.from_rows([["a0", "g0", "*"], ["a1", "g1", "*"]])
    h1 = Hierarchy.from_rows([["b0", "g0", "*"], ["b1", "g1", "*"]])
    s = Hierarchy.from_rows([["A", "*"], ["B", "*"]])
    table = pl.DataFrame({"q0": ["a1", "a0", "a0"], "q1": ["b0", "b1", "b0"], "s": ["B", "A", "B"]})
    model = PrivacyModel(k=1, l=2, l_variant="entropy", suppression=0.4)
    problem, evaluator = encode(table, {"q0": h0, "q1": h1}, s, model)
    assert not evaluator.monotone
    assert optimal_search(problem, evaluator).levels == plain_search(problem, evaluator).levels == (0, 2)


def test_equal_objectives_tie_by_level_sum_then_column_order_despite_rounding():
    # Entropy (1,1,1) = 5.5098 + 15.2451 + 8.4902 and (2,1,0) = 14 + 15.2451 are equal in exact arithmetic
    # but differ in the last bit as floats. Both have level sum 3; (1,1,1) comes first in column order.
    h = {
        "q0": Hierarchy.from_rows([["a0", "x", "*"], ["a2", "y", "*"], ["a3", "z", "*"], ["a4", "y", "*"]]),
        "q1": Hierarchy.from_rows([["b0", "*"], ["b1", "*"], ["b2", "*"], ["b3", "*"]]),
        "q2": Hierarchy.from_rows([["c0", "*"], ["c1", "*"], ["c2", "*"]]),
    }
    table = pl.DataFrame(
        {
            "q0": ["a0", "a2", "a2", "a2", "a2", "a3", "a4", "a4"],
            "q1": ["b0", "b0", "b0", "b1", "b1", "b2", "b2", "b3"],
            "q2": ["c0", "c0", "c0", "c0", "c0", "c0", "c1", "c2"],
            "s": ["s"] * 8,
        }
    )
    s = Hierarchy.from_rows([["s", "*"]])
    problem, evaluator = encode(table, h, s, PrivacyModel(k=3, suppression=0.25))
    assert optimal_search(problem, evaluator).levels == plain_search(problem, evaluator).levels == (1, 1, 1)


@settings(max_examples=200, deadline=None)
@given(
    heights=st.lists(st.integers(1, 9), min_size=1, max_size=6),
    data=st.data(),
)
def test_the_snapshot_cache_returns_the_smallest_snapshot_below_the_target(heights, data):
    heights = tuple(heights)
    bottom = Classes(tuple(0 for _ in heights), np.zeros((len(heights), 0)), np.zeros(1000), None)
    cache = SnapshotCache(bottom, heights, budget=3000)
    node = st.tuples(*[st.integers(0, h) for h in heights])
    stored = {}
    for levels, size in data.draw(st.lists(st.tuples(node, st.integers(1, 999)), max_size=30)):
        snap = Classes(levels, np.zeros((len(heights), 0)), np.zeros(size), None)
        cache.add(snap)
        stored = {s.levels: s for s in cache.snaps}
    target = data.draw(node)
    below = [s for lv, s in stored.items() if all(a <= b for a, b in zip(lv, target, strict=True))]
    expected = min((len(s) for s in below), default=len(bottom))
    assert len(cache.best_source(target)) == min(expected, len(bottom))
    assert all(a <= b for a, b in zip(cache.best_source(target).levels, target, strict=True))

"""The suppressed-row bound of the optimal search (`lattice.RowSets`), the rows it tracks along roll-ups, and the
box marking of down-sets and up-sets: each checked against a brute force over every node."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.privacy.engine import Hierarchy, PrivacyModel, optimal_search, plain_search
from madoguchi.privacy.engine import lattice as lattice_module
from madoguchi.privacy.engine.hierarchy import encode_hierarchy
from madoguchi.privacy.engine.lattice import (
    LatticeMasks,
    NodeList,
    Problem,
    RowSets,
    group,
    lattice_nodes,
    row_classes,
)
from madoguchi.privacy.engine.models import Evaluator
from madoguchi.privacy.engine.search import _Context

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def random_hierarchy(rng: np.random.Generator, name: str, domain: int, height: int) -> Hierarchy:
    rows = [[f"{name}{i}"] for i in range(domain)]
    group_of = list(range(domain))
    for level in range(1, height):
        n_groups = max(group_of) + 1
        parent = rng.integers(0, max(n_groups // 2, 1), size=n_groups)
        group_of = [int(parent[g]) for g in group_of]
        for row, g in zip(rows, group_of, strict=True):
            row.append(f"{name}-L{level}-{g}")
    for row in rows:
        row.append("*")
    return Hierarchy.from_rows(rows, source=name)


def random_problem(seed: int, n_rows: int, n_qi: int, sensitive: bool = False) -> Problem:
    """Skewed random codes (so that some classes are small and others large) over random trees."""
    rng = np.random.default_rng(seed)
    hierarchies, codes = [], []
    for q in range(n_qi):
        domain = int(rng.integers(2, 9))
        h = random_hierarchy(rng, f"q{q}", domain, int(rng.integers(1, 4)))
        hierarchies.append(encode_hierarchy(h))
        weights = rng.random(domain) ** 3 + 0.01
        codes.append(rng.choice(domain, size=n_rows, p=weights / weights.sum()))
    sens = rng.integers(0, 3, size=n_rows) if sensitive else None
    return Problem(
        tuple(f"q{q}" for q in range(n_qi)),
        np.stack(codes, axis=1).astype(np.int64),
        tuple(hierarchies),
        sens,
        3 if sensitive else 0,
    )


def suppressed_rows(problem: Problem, evaluator: Evaluator, levels: tuple[int, ...]) -> np.ndarray:
    """The rows a node suppresses, straight from the rows."""
    snap = group(problem, row_classes(problem), levels, with_inverse=True)
    fail = evaluator.failing(snap.counts, snap.hist)
    return np.flatnonzero(fail[snap.inverse])


def every_node(problem: Problem, evaluator: Evaluator) -> dict[tuple[int, ...], np.ndarray]:
    return {
        tuple(int(x) for x in node): suppressed_rows(problem, evaluator, tuple(int(x) for x in node))
        for node in lattice_nodes(problem.heights)
    }


@SETTINGS
@given(
    seed=st.integers(0, 10**6),
    n_rows=st.integers(10, 120),
    n_qi=st.integers(1, 4),
    k=st.integers(2, 6),
    ell=st.sampled_from([None, 2]),
    suppression=st.sampled_from([0.02, 0.05, 0.1, 0.2, 0.35]),
    data=st.data(),
)
def test_a_meet_found_by_the_row_sets_fails_and_every_provable_node_is_found(
    seed, n_rows, n_qi, k, ell, suppression, data
):
    problem = random_problem(seed, n_rows, n_qi, sensitive=ell is not None)
    model = PrivacyModel(k=k, l=ell, suppression=suppression)
    evaluator = Evaluator(model, problem.n_rows, problem.sensitive, problem.n_sensitive)
    limit = evaluator.max_suppressed
    rows = every_node(problem, evaluator)
    satisfying = [lv for lv, r in rows.items() if 0 < r.shape[0] <= limit]
    chosen = data.draw(st.lists(st.sampled_from(satisfying), unique=True) if satisfying else st.just([]))
    sets = RowSets(problem.heights, problem.n_rows, capacity=2)  # small: the store must grow
    for lv in chosen:
        sets.add(lv, rows[lv])
    for target in rows:
        above = [lv for lv in chosen if all(a >= b for a, b in zip(lv, target, strict=True))]
        union = set().union(*(set(rows[lv].tolist()) for lv in above)) if above else set()
        meet = sets.failing_meet(target, limit)
        # Complete: whenever the stored sets above a node hold more than the limit together, it is found.
        assert (meet is not None) == (len(above) >= 2 and len(union) > limit)
        if meet is not None:
            # Sound: the meet is above the node and really suppresses more than the limit (so does the node).
            assert all(m >= t for m, t in zip(meet, target, strict=True))
            assert rows[meet].shape[0] > limit
            assert rows[target].shape[0] > limit


def test_the_bound_needs_more_than_the_limit_not_the_limit_itself():
    sets = RowSets((1, 1), n_rows=130)
    sets.add((1, 0), np.array([0, 1, 64]))
    sets.add((0, 1), np.array([64, 65, 129]))
    # The two sets hold rows {0, 1, 64, 65, 129}: five rows, across 64-bit words.
    assert sets.failing_meet((0, 0), limit=5) is None
    assert sets.failing_meet((0, 0), limit=4) == (0, 0)
    # Only one stored node is above (1, 0): a single satisfying node proves nothing.
    assert sets.failing_meet((1, 0), limit=0) is None
    # The largest set first: a third, larger set above (0, 0) alone with one of the others is enough.
    sets.add((1, 1), np.arange(10, 20))
    assert sets.failing_meet((0, 0), limit=12) == (1, 0)


@SETTINGS
@given(
    seed=st.integers(0, 10**6),
    n_rows=st.integers(5, 150),
    n_qi=st.integers(1, 4),
    k=st.integers(1, 6),
    ell=st.sampled_from([None, 2]),
    data=st.data(),
)
def test_failing_rows_tracked_along_roll_ups_are_those_of_the_failing_classes(
    seed, n_rows, n_qi, k, ell, data
):
    problem = random_problem(seed, n_rows, n_qi, sensitive=ell is not None)
    evaluator = Evaluator(
        PrivacyModel(k=k, l=ell, suppression=0.1), problem.n_rows, problem.sensitive, problem.n_sensitive
    )
    ctx = _Context(problem, evaluator, None, roll_up=data.draw(st.booleans()), track_rows=True)
    levels = [0] * n_qi
    snaps = []
    for _ in range(data.draw(st.integers(1, 8))):  # a random walk up, each node rolled up from the cache
        q = data.draw(st.integers(0, n_qi - 1))
        levels[q] = min(levels[q] + data.draw(st.integers(0, 2)), problem.heights[q])
        snaps.append(ctx.classes(tuple(levels)))
    for snap in data.draw(st.permutations(snaps)):
        expected = suppressed_rows(problem, evaluator, snap.levels)
        assert np.array_equal(np.sort(ctx.failing_rows(snap)), expected)


@settings(max_examples=100, deadline=None)
@given(heights=st.lists(st.integers(0, 4), min_size=1, max_size=5), data=st.data())
def test_box_marking_equals_the_down_and_up_masks(heights, data):
    heights = tuple(heights)
    nodes = lattice_nodes(heights)
    masks = LatticeMasks(nodes, heights)
    levels = data.draw(st.tuples(*[st.integers(0, h) for h in heights]))
    down = np.zeros(nodes.shape[0], dtype=bool)
    masks.set_down(down, levels, True)
    up = np.zeros(nodes.shape[0], dtype=np.int8)
    masks.set_up(up, levels, 2)
    assert np.array_equal(down, np.all(nodes <= np.asarray(levels), axis=1))
    assert np.array_equal(up == 2, np.all(nodes >= np.asarray(levels), axis=1))
    assert np.array_equal(down, masks.down(levels)) and np.array_equal(up == 2, masks.up(levels))


@settings(max_examples=100, deadline=None)
@given(heights=st.lists(st.integers(1, 40), min_size=1, max_size=12), data=st.data())
def test_node_list_above_is_the_componentwise_comparison(heights, data):
    heights = tuple(heights)  # up to 12 × 6 bits: also the unpacked fallback
    node = st.tuples(*[st.integers(0, h) for h in heights])
    stored = data.draw(st.lists(node, max_size=20))
    nodes = NodeList(heights, capacity=4)
    for lv in stored:
        nodes.append(lv)
    target = data.draw(node)
    expected = [all(a >= b for a, b in zip(lv, target, strict=True)) for lv in stored]
    assert nodes.above(target).tolist() == expected


@pytest.mark.parametrize(
    "k, ell, suppression", [(3, None, 0.04), (5, None, 0.1), (2, 2, 0.05), (4, None, 0.0)]
)
def test_the_optimum_with_the_bound_equals_the_plain_search_on_larger_tables(
    k, ell, suppression, monkeypatch
):
    """Tables of a few hundred rows, where the bound really settles nodes (counted), give the plain optimum."""
    proofs = []
    original = lattice_module.RowSets.failing_meet

    def counted(self, levels, limit):
        meet = original(self, levels, limit)
        proofs.append(meet)
        return meet

    monkeypatch.setattr(lattice_module.RowSets, "failing_meet", counted)
    for seed in range(6):
        problem = random_problem(seed, 400, 5, sensitive=ell is not None)
        evaluator = Evaluator(
            PrivacyModel(k=k, l=ell, suppression=suppression),
            problem.n_rows,
            problem.sensitive,
            problem.n_sensitive,
        )
        plain = plain_search(problem, evaluator).levels
        assert optimal_search(problem, evaluator, row_bound=True).levels == plain
        assert optimal_search(problem, evaluator, row_bound=True, roll_up=False).levels == plain
    if suppression == 0.0:
        assert not proofs  # no row may go: satisfying nodes suppress nothing, and the bound is not used
    else:
        assert any(meet is not None for meet in proofs)  # the bound did settle nodes on these tables

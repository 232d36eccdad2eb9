"""Searching the generalization lattice for the best full-domain transformation.

The optimum is the node that minimises the objective among all nodes satisfying the privacy model, ties
broken by the lowest level sum, then by the level vector in lexicographic (column) order. Three searches:

`optimal` (the product).
  For the additive objectives (entropy, loss, precision; see `metrics.py`) the objective of every node is
  known up front, so nodes are visited **best first** — in the order of the tie-broken key (objectives within
  a relative 1e-9 count as equal, `metrics.tie_ranks`) — and the first one that satisfies the model is the
  optimum by definition. What makes this fast is that most nodes before the optimum are never evaluated:
  - **Pruning by monotonicity** (see `models.py`): if a node fails, every node below it fails; if it
    satisfies, every node above it does. Failures are marked on the whole down-set at once, satisfactions on
    the whole up-set (each a box of the lattice array: one slice assignment). The classes of a satisfied
    node are not even built (nothing above it will be evaluated to need them).
  - **Climbing**: almost every node visited before the optimum fails, so for an unresolved node n the search
    first looks for a failing node *above* n — joining in the next few unresolved nodes of the visiting
    order, then a binary search along one chain from there to the top (a long first step up), then, for
    each quasi-identifier in turn (cheapest first), a binary search for the highest level that still
    fails — and marks the down-set of the maximal failing node it reaches (one slice assignment: a down-set
    is a box of the lattice array, `LatticeMasks.set_down`). Nodes higher up have fewer classes, so they
    cost less to evaluate than n itself; n is evaluated only if nothing above it fails (in practice: at the
    optimum). The last step is where most evaluations were wasted (on Adult, k = 5, 4 %, nine in ten of
    them satisfied: the chain usually ends just below the border), so a raise is tried only when a model of
    how raising a quasi-identifier cuts the suppressed rows, learnt from the raises evaluated so far,
    predicts that the raised node still fails (`_RaiseEffect`); there, the nodes evaluated went from 992 to
    650 and the time by about a fifth. The joins of the first step are gated the same way, at a rate low
    enough that no join that would fail was skipped there (`_JOIN_RATE`): 650 → 594 nodes evaluated, the
    skipped ones all joins that would have satisfied, for a few per cent of the time (they were cheap ones).
    A skipped raise or join only leaves a smaller proven down-set; statuses stay exact.
  - **Suppressed-row bound** (optional, `row_bound=True`; monotone models with a suppression limit): the
    rows a node suppresses include those suppressed by every node above it, so when the rows suppressed by
    *satisfying* nodes above n together exceed the limit, n fails — and so does the meet of those nodes
    (`lattice.RowSets`). Each snapshot keeps its source and class map so that a satisfying node's
    suppressed rows can be worked out along its roll-up chain. On Adult (k = 5, 4 %) it cuts the nodes
    evaluated from 594 to 410, but its bookkeeping (row sets, unions) costs more than the evaluations it
    saves (about a fifth more time), and at k = 100 (4 %) more again (287 to 213 nodes, about two fifths
    more time): off by default, kept for larger inputs and measured in the tests.
  - **Projection bound** (k-anonymity with or without a suppression limit; `projection_bound=True`, the
    default): Incognito's subset property. The projection of a node onto two quasi-identifiers (its levels
    there, the top level elsewhere) is itself a node, above it, whose classes are unions of the node's; so
    a row suppressed by the projection is suppressed by the node. Before the walk, the suppressed rows of
    every level combination of every pair are counted at once from the pairs' contingency tables
    (`lattice.projection_failures`, about 5 ms on Adult), and the down-set of every maximal failing
    projection node is marked failing. On Adult it cuts the nodes evaluated from 140 to 30 (k = 5, 0 %),
    67 to 10 (k = 100, 0 %), 396 to 287 (k = 100, 4 %) and only 617 to 594 at k = 5, 4 %, where one
    pair fails (the failures there need most of the nine quasi-identifiers together) and the bound costs
    about what it saves.
  - **Roll-up**: each evaluated node's classes are grouped from the cached snapshot with the fewest classes
    among the nodes below it (`lattice.group`, `lattice.SnapshotCache`); the rows are read once, for the
    bottom node. Snapshots keep their class sizes as float weights too, so a roll-up counts with them as
    they are (`Classes.weights`).
  - **Cost** (Adult, k = 5, 4 %): grouping is about two thirds of the time, the rest the search's own
    bookkeeping (per evaluation: the source lookup, the suppressed count — a dot product with the mask — and
    the status marks, a satisfied up-set written as one box; per climb: the joins, the chain) and the fixed
    start (the lattice, the objective and its order, the projection bound). By a cost model fitted to
    `group`, the 143 failing nodes that must at least be evaluated to cover the 4,519 nodes ahead of the
    optimum would alone cost about 60 % of the grouping done now, most of them rolled up from the bottom
    (they form an antichain: none is a source for another). This case stays short of 100× the plain search:
    50–82× in runs of `bench/anonymize_adult.py` on a loaded 2-core machine (the other cases 100–450×).
  For entropy ℓ-diversity and t-closeness with a suppression limit, which are not monotone, failures are
  inferred only from the monotone relaxation (k, distinct ℓ), satisfaction only from "satisfied with no
  suppression", and a node is evaluated before any climb; every other node is still tested exactly, so the
  result is still the optimum, with less pruning.
  For the class-based objectives (discernibility, AECS) nothing is known before the classes are, so every
  node is evaluated bottom-up with roll-up; with no suppression allowed, a satisfied node also ends the
  search above it (those objectives only grow upwards then).

`plain` (the baseline and the test oracle): evaluates every node from the rows, keeps the best.

`heuristic` (lattices above `HEURISTIC_NODE_THRESHOLD` nodes, used automatically): greedy bottom-up. From the
  bottom, move to the direct generalization with the fewest records failing the (relaxed) model, ties by the
  objective, until a generalization satisfies the model; take the best satisfying one of that step, then walk
  down one level at a time while a lower node still satisfies and has a better key. Not guaranteed optimal:
  the result says `optimal=False`.
"""

from __future__ import annotations

import bisect
import math
import operator
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import AnonymizationError, NoSolutionError
from .lattice import (
    Classes,
    LatticeMasks,
    Problem,
    RowSets,
    SnapshotCache,
    group,
    lattice_nodes,
    node_index,
    projection_failures,
    row_classes,
    successors,
)
from .metrics import ADDITIVE, METRICS, AdditiveMetric, class_metric, tie_ranks
from .models import Evaluator

#: Above this many nodes the automatic search is the heuristic one (enumerating and ordering a lattice of a
#: million nodes takes well under a second; beyond it, time and memory grow with the lattice, not the data).
HEURISTIC_NODE_THRESHOLD = 1_000_000

Progress = Callable[[int, int], None]

# Node status in the optimal search. _FAIL: fails, and so does every node below it (inferred from the
# monotone predicate); _FAIL_ALONE: this node fails the model but the monotone relaxation holds, so nothing
# follows for other nodes (only with non-monotone models); _SAT: satisfies the model.
_UNKNOWN, _FAIL, _SAT, _FAIL_ALONE = 0, 1, 2, 3
# How many unresolved nodes ahead in the visiting order a climb tries to join in (see `climb`). On Adult, 4
# cut evaluations by about a third against none; 8 to 32 did not help further.
_LOOKAHEAD = 4
# The rate (see `_RaiseEffect`) below which a join is predicted to satisfy and so not tried. Raising several
# quasi-identifiers at once cuts the suppressed rows less per unit of shrink than one raise does (on Adult,
# k = 5, 4 %, the joins that failed fell at rates from 0.17 up, median 0.33; those that satisfied from 0.37
# up): at 0.2 a third of the satisfying joins are skipped and no failing one was.
_JOIN_RATE = 0.2


class _RaiseEffect:
    """What raising quasi-identifiers does to the suppressed rows of a failing node, learnt as the search goes,
    so that a climb can skip the evaluations that would almost surely satisfy.

    After the binary search along its chain a climb tries to raise each quasi-identifier of the failing node
    it reached; on Adult (k = 5, 4 %) nine in ten of those evaluations satisfied and were wasted (the node is
    usually just below the border already). Model: raising quasi-identifier q from level a to b divides the
    number of its values by size(a) / size(b) (raising several multiplies those factors); log(1 + suppressed
    rows) is taken to fall by `rate` times the log of that factor (`shrink`). The rate is the median of the
    rates seen on the raises evaluated so far, with ½ as a prior that counts as one of them (scaling the
    median up or down made the search evaluate more on Adult). A raise is tried only if the predicted count
    is still over the limit. Only which nodes are evaluated depends on this: a skipped raise leaves a smaller
    (still proven) failing down-set, never a wrong status."""

    def __init__(self, problem: Problem, limit: int) -> None:
        self.log_sizes = [[math.log(h.size(lv)) for lv in range(h.height + 1)] for h in problem.hierarchies]
        self.threshold = math.log1p(limit)
        self.rates = [0.5]
        self.rate = 0.5

    def shrink(self, lower: Sequence[int], upper: Sequence[int]) -> float:
        """log of the factor by which the value combinations shrink from node `lower` to node `upper` ≥ it."""
        return sum(map(list.__getitem__, self.log_sizes, lower)) - sum(
            map(list.__getitem__, self.log_sizes, upper)
        )

    def likely_fails(self, suppressed: int, shrink: float) -> bool:
        """Whether a node with `suppressed` rows, raised by `shrink`, is predicted to fail still."""
        return math.log1p(suppressed) - self.rate * shrink > self.threshold

    def may_fail(self, suppressed: int, shrink: float) -> bool:
        """Whether a node with `suppressed` rows, raised by `shrink` in several quasi-identifiers at once (a
        join), may fail still: the prediction at the low rate `_JOIN_RATE`."""
        return math.log1p(suppressed) - _JOIN_RATE * shrink > self.threshold

    def observe(self, before: int, after: int, shrink: float) -> None:
        """Learn from a raise of one quasi-identifier that took the suppressed rows from `before` to `after`."""
        if shrink <= 0:  # the level has as many values: no information about the rate
            return
        bisect.insort(self.rates, (math.log1p(before) - math.log1p(after)) / shrink)
        self.rate = self.rates[len(self.rates) // 2]


def _mark_satisfied_above(status_box: np.ndarray, levels: tuple[int, ...], overwrite: bool = False) -> None:
    """Mark every node ≥ `levels` satisfied, in the status array viewed with one axis per quasi-identifier
    (the up-set is a box of it). Only unknown nodes are overwritten: nothing above a satisfied node can have
    been found to fail, and a status already known stays as it is. `overwrite`: the caller knows that every
    status already known in the up-set is "satisfied" (monotone models, where no node above a satisfied one
    fails), so the box is written whole, without reading it first (about half the time)."""
    box = status_box[(*(slice(lv, None) for lv in levels), Ellipsis)]  # a view even with no quasi-identifier
    if overwrite:
        box[...] = _SAT
    else:
        box[box == _UNKNOWN] = _SAT


@dataclass(frozen=True)
class SearchOutcome:
    levels: tuple[int, ...]
    method: str  # "optimal" | "plain" | "heuristic"
    optimal: bool
    objective: float
    nodes_total: int
    nodes_evaluated: int  # nodes whose equivalence classes were computed
    seconds: float


class _Context:
    def __init__(
        self,
        problem: Problem,
        evaluator: Evaluator,
        progress: Progress | None,
        roll_up: bool = True,
        track_rows: bool = False,
    ) -> None:
        self.problem = problem
        self.roll_up = roll_up
        self.evaluator = evaluator
        self.progress = progress
        self.evaluated = 0
        self.total = problem.n_nodes
        self.heights = problem.heights
        # track_rows: every snapshot carries its failing rows (`Classes.failing_rows`) and `evaluate` returns
        # the rows a node suppresses (for `RowSets`). Only meaningful for a monotone model.
        self.track_rows = track_rows
        bottom_levels = tuple(0 for _ in self.heights)
        self.rows = row_classes(problem)
        self.bottom = group(problem, self.rows, bottom_levels, with_inverse=track_rows)
        if track_rows:
            self._attach_rows(self.rows, np.arange(problem.n_rows), np.arange(problem.n_rows))
            items = self.bottom.inverse
            self.bottom.inverse = None
            self._attach_rows(self.bottom, np.arange(problem.n_rows), items)
        self.cache = SnapshotCache(self.bottom, self.heights)
        self._count()

    def _attach_rows(self, snap: Classes, rows: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Keep, of the candidate rows (with their class index in `snap`), those in failing classes."""
        fail = self.evaluator.failing(snap.counts, snap.hist)
        keep = fail[classes]
        snap.failing_rows = (rows[keep], classes[keep])
        return snap.failing_rows[0]

    def failing_rows(self, snap: Classes) -> np.ndarray:
        """The input rows in the failing classes of `snap`, worked out along its chain of roll-up sources
        (each step keeps the source's failing rows whose class here fails: with a monotone model a row that
        passes at the source passes here). Done only when asked, i.e. for the satisfying nodes."""
        chain = []
        while snap.failing_rows is None:
            if snap.origin is None:
                raise AnonymizationError("抑制行の追跡が途切れました", "suppressed rows were not tracked")
            chain.append(snap)
            snap = snap.origin[0]
        rows, classes = snap.failing_rows
        for step in reversed(chain):
            source, inverse = step.origin  # type: ignore[misc]
            self._attach_rows(step, rows, inverse[classes])
            step.origin = None
            rows, classes = step.failing_rows  # type: ignore[misc]
        return rows

    def _count(self) -> None:
        self.evaluated += 1
        if self.progress is not None:
            self.progress(self.evaluated, self.total)

    def classes(
        self,
        levels: tuple[int, ...],
        source: Classes | None = None,
        keep_codes: Callable[[Classes], bool] | None = None,
    ) -> Classes:
        if levels == self.bottom.levels:
            return self.bottom
        if not self.roll_up:  # the ablation for benchmarks: every node from the rows
            source = self.rows
        elif source is None:
            source = self.cache.best_source(levels)
        snap = group(self.problem, source, levels, keep_codes=keep_codes, with_inverse=self.track_rows)
        if self.track_rows:
            snap.origin, snap.inverse = (source, snap.inverse), None  # type: ignore[assignment]
        if self.roll_up:
            self.cache.add(snap)
        self._count()
        return snap


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise AnonymizationError(
            f"評価指標「{metric}」は使えません（{', '.join(METRICS)}）",
            f"unknown metric {metric!r} (use {', '.join(METRICS)})",
        )


def find_transformation(
    problem: Problem,
    evaluator: Evaluator,
    metric: str = "entropy",
    *,
    method: str = "auto",
    heuristic_threshold: int = HEURISTIC_NODE_THRESHOLD,
    progress: Progress | None = None,
) -> SearchOutcome:
    """Find the transformation. Raises NoSolutionError when no node satisfies the model."""
    _check_metric(metric)
    if method == "auto":
        method = "heuristic" if problem.n_nodes > heuristic_threshold else "optimal"
    if method == "optimal":
        return optimal_search(problem, evaluator, metric, progress=progress)
    if method == "plain":
        return plain_search(problem, evaluator, metric, progress=progress)
    if method == "heuristic":
        return heuristic_search(problem, evaluator, metric, progress=progress)
    raise AnonymizationError(f"探索方法「{method}」は使えません", f"unknown search method {method!r}")


def _no_solution(evaluator: Evaluator) -> NoSolutionError:
    return NoSolutionError(
        f"どの一般化でもプライバシーモデル（{evaluator.model.describe()}）を満たせません。"
        "k・ℓ・t を緩めるか抑制率を上げてください",
        f"no generalization satisfies the privacy model ({evaluator.model.describe()}); "
        "relax k, ℓ or t, or allow more suppression",
    )


# --- optimal -------------------------------------------------------------------------------------------------
def optimal_search(
    problem: Problem,
    evaluator: Evaluator,
    metric: str = "entropy",
    *,
    progress: Progress | None = None,
    roll_up: bool = True,
    row_bound: bool = False,
    projection_bound: bool = True,
) -> SearchOutcome:
    """The optimum (see the module docstring). `roll_up=False` evaluates every visited node from the rows
    instead: the same answer, slower; it exists to measure what roll-up buys. `row_bound=True` adds the
    suppressed-row bound (module docstring): the same answer with far fewer nodes evaluated, but on Adult its
    bookkeeping costs about what it saves, so it is off by default. `projection_bound=False` leaves out the
    pair-projection failures (module docstring), for measuring them."""
    _check_metric(metric)
    started = time.perf_counter()
    if metric not in ADDITIVE:
        return _optimal_class_based(problem, evaluator, metric, progress, started, roll_up)
    monotone = evaluator.monotone
    # The row-set bound (see `RowSets`) needs a monotone model, and says nothing when no row may be suppressed
    # (satisfying nodes then suppress no rows).
    bound = row_bound and monotone and evaluator.max_suppressed > 0
    ctx = _Context(problem, evaluator, progress, roll_up, track_rows=bound)
    heights = ctx.heights
    nodes = lattice_nodes(heights)
    additive = AdditiveMetric(problem, metric)
    objective = additive.value(nodes)
    level_sum = nodes.sum(axis=1, dtype=np.int64)
    # The visiting order: by tie rank, then level sum, then position (one stable sort of a combined key).
    order = np.argsort(tie_ranks(objective) * (int(level_sum.max()) + 1) + level_sum, kind="stable")
    status = np.zeros(nodes.shape[0], dtype=np.int8)
    masks = LatticeMasks(nodes, heights)
    limit = evaluator.max_suppressed
    if projection_bound and monotone and not evaluator.model.needs_sensitive:
        # The projection bound (module docstring): sound for k-anonymity's monotone per-class test.
        for top in projection_failures(problem, evaluator.model.k, limit, ctx.bottom):
            masks.set_down(status, top, _FAIL)
    # Everything above a satisfied node satisfies (monotone models; for the others, above a node satisfied
    # with no suppression): its whole up-set is marked at once, one slice assignment over a box of the
    # lattice array (`_mark_satisfied_above`), so that "is some satisfied node below this one?" is a lookup.
    status_box = status.reshape(masks.shape)
    # Position of a level vector in `nodes` (mixed radix, as `node_index`), as a dot product with the strides.
    strides = [int(np.prod([h + 1 for h in heights[q + 1 :]], dtype=np.int64)) for q in range(len(heights))]

    def index_of(levels: tuple[int, ...]) -> int:
        return sum(map(operator.mul, levels, strides))

    # The rows each evaluated satisfying node suppresses, for the lower bound.
    suppressed_sets = RowSets(heights, problem.n_rows) if bound else None
    # Climb the cheapest quasi-identifiers first: the maximal failing node then sits high in the dimensions
    # along which low-objective nodes spread, so its down-set covers more of the nodes still to visit.
    span = [float(t[-1] - t[0]) for t in additive.tables]
    climb_order = sorted(range(len(heights)), key=lambda q: (span[q], q))

    # The suppressed-row count `keep_codes` worked out for a snapshot, so that `judge` need not redo it.
    counted: list = [None, 0]
    # The suppressed rows of every evaluated node, and what raising one quasi-identifier has been seen to do
    # to that count (`_RaiseEffect`, used to skip climbing steps that would almost surely satisfy).
    suppressed_counts: dict[tuple[int, ...], int] = {}
    raise_effect = _RaiseEffect(problem, limit)

    k_only = not evaluator.model.needs_sensitive  # then a class fails exactly when it is smaller than k

    def count_suppressed(snap: Classes) -> int:
        if k_only:  # a dot product with the mask: about half the time of indexing and summing
            return int(np.dot(snap.counts, snap.counts < evaluator.model.k))
        return int(snap.counts[evaluator.failing(snap.counts, snap.hist)].sum())

    if monotone:  # the bottom is a roll-up source too: its count is a base for predictions (`join_fails`)
        suppressed_counts[ctx.bottom.levels] = count_suppressed(ctx.bottom)

    def keep_codes(snap: Classes) -> bool:
        # With a monotone model, everything above a satisfied node is marked satisfied and never evaluated, so
        # a satisfied node's classes would never be rolled up from: skip building them.
        if not monotone:
            return True
        counted[0], counted[1] = snap, count_suppressed(snap)
        return counted[1] > limit

    def judge(snap: Classes) -> tuple[bool, bool]:
        """(satisfies the model, fails the monotone predicate used to infer failures); records the status."""
        suppressed = counted[1] if counted[0] is snap else count_suppressed(snap)
        counted[0] = None
        suppressed_counts[snap.levels] = suppressed
        here = index_of(snap.levels)
        if suppressed <= limit:
            status[here] = _SAT
            if monotone or suppressed == 0:
                _mark_satisfied_above(status_box, snap.levels, overwrite=monotone)
            if suppressed_sets is not None and suppressed:
                suppressed_sets.add(snap.levels, ctx.failing_rows(snap))
            return True, False
        if monotone or not evaluator.satisfied(snap.counts, snap.hist, relaxed=True):
            status[here] = _FAIL
            return False, True
        status[here] = _FAIL_ALONE
        return False, False

    def known(i: int, levels: tuple[int, ...]) -> int:
        st = status[i]
        if st == _UNKNOWN:
            if suppressed_sets is not None:
                # The bound: satisfying nodes above it suppress, together, too many rows for it.
                meet = suppressed_sets.failing_meet(levels, limit)
                if meet is not None:
                    masks.set_down(status, meet, _FAIL)
                    st = _FAIL
        return int(st)

    def fails_monotone(levels: tuple[int, ...], source: Classes | None = None) -> bool:
        """Whether the node fails the monotone predicate, from its status, the bound or by evaluating it."""
        st = known(index_of(levels), levels)
        if st != _UNKNOWN:
            return st == _FAIL
        sat, fails = judge(ctx.classes(levels, source, keep_codes=keep_codes))
        return fails and not sat

    def join_fails(cand: tuple[int, ...]) -> bool:
        """`fails_monotone` for a join, which is not evaluated when, predicted from the suppressed rows of the
        snapshot it would be rolled up from (a failing node below it, or the bottom), it would satisfy even
        at the low rate `_JOIN_RATE`: skipping it only leaves the join untried."""
        if not monotone or not roll_up or status[index_of(cand)] != _UNKNOWN or suppressed_sets is not None:
            return fails_monotone(cand)
        source = ctx.cache.best_source(cand)
        base = suppressed_counts.get(source.levels)
        if base is not None and not raise_effect.may_fail(base, raise_effect.shrink(source.levels, cand)):
            return False
        return fails_monotone(cand, source)

    def next_unresolved(pos: int) -> list[int]:
        """The next `_LOOKAHEAD` nodes after position `pos` of the visiting order whose status is unknown
        (scanned in vector chunks: late in a search most nodes ahead are already resolved)."""
        found: list[int] = []
        start = pos + 1
        while len(found) < _LOOKAHEAD and start < order.shape[0]:
            chunk = order[start : start + 512]
            found.extend(int(j) for j in chunk[status[chunk] == _UNKNOWN][: _LOOKAHEAD - len(found)])
            start += 512
        return found

    def climb(levels: tuple[int, ...], evaluated: bool, pos: int) -> None:
        """Go up from a node to a maximal node that fails the monotone predicate and mark its down-set:
        1. join in the next few unresolved nodes of the visiting order (each join that still fails covers a
           node the loop would otherwise evaluate);
        2. binary search along one chain from there to the top (raising the quasi-identifiers in climb order,
           one level at a time): a long first step up, to fewer classes, and the predicate switches once on a
           chain;
        3. raise one quasi-identifier at a time as far as it still fails (binary search again).

        `evaluated`: the node itself was evaluated and failed. If not, every failing node found above it proves
        it fails too, and those higher nodes have fewer classes, so they cost less than the node itself; if
        nothing above it fails, it stays unresolved. Each evaluation rolls up from the best cached snapshot."""
        cur = list(levels)
        for j in next_unresolved(pos):
            cand = tuple(map(max, nodes[j].tolist(), cur))
            if list(cand) != cur and join_fails(cand):
                cur = list(cand)
        chain = [tuple(cur)]
        step = list(cur)
        for q in climb_order:
            for lv in range(step[q] + 1, heights[q] + 1):
                step[q] = lv
                chain.append(tuple(step))
        lo, hi = 0, len(chain) - 1  # chain[0] is not known to fail: index 0 stands for "none found"
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fails_monotone(chain[mid]):
                lo = mid
            else:
                hi = mid - 1
        cur = list(chain[lo])
        for q in climb_order:
            lo, hi = cur[q], heights[q]
            start = suppressed_counts.get(tuple(cur))
            if lo < hi and start is not None:
                one_up = cur[:q] + [lo + 1] + cur[q + 1 :]
                if not raise_effect.likely_fails(start, raise_effect.shrink(cur, one_up)):
                    continue  # predicted to satisfy one level up: not worth an evaluation
            while lo < hi:
                mid = (lo + hi + 1) // 2
                cand = tuple(cur[:q] + [mid] + cur[q + 1 :])
                fails = fails_monotone(cand)
                if start is not None and cand in suppressed_counts:
                    raise_effect.observe(start, suppressed_counts[cand], raise_effect.shrink(cur, cand))
                if fails:
                    lo = mid
                else:
                    hi = mid - 1
            cur[q] = lo
        if evaluated or cur != list(levels):
            masks.set_down(status, tuple(cur), _FAIL)

    pos, n_order = 0, order.shape[0]
    while pos < n_order:
        # Skip the nodes already known to fail, a vector chunk at a time (_FAIL and _FAIL_ALONE are the odd
        # codes): before the optimum nearly every node is, most of them marked by an earlier climb.
        chunk = status[order[pos : pos + 256]]
        open_ = ((chunk & 1) == 0).nonzero()[0]
        if open_.shape[0] == 0:
            pos += chunk.shape[0]
            continue
        pos += int(open_[0])
        i = int(order[pos])
        levels = tuple(nodes[i].tolist())
        st = known(i, levels)
        if st == _UNKNOWN and monotone:
            # Nearly every node visited before the optimum fails: look for a failing node above it first.
            climb(levels, False, pos)
            st = status[i]
        if st == _UNKNOWN:
            snap = ctx.classes(levels)
            sat, infer_fail = judge(snap)
            if not sat:
                if infer_fail and not monotone:
                    climb(levels, True, pos)
                pos += 1
                continue
        elif st != _SAT:
            pos += 1
            continue
        return SearchOutcome(
            levels=levels,
            method="optimal",
            optimal=True,
            objective=float(objective[i]),
            nodes_total=ctx.total,
            nodes_evaluated=ctx.evaluated,
            seconds=time.perf_counter() - started,
        )
    raise _no_solution(evaluator)


def _optimal_class_based(
    problem: Problem,
    evaluator: Evaluator,
    metric: str,
    progress: Progress | None,
    started: float,
    roll_up: bool,
) -> SearchOutcome:
    ctx = _Context(problem, evaluator, progress, roll_up)
    heights = ctx.heights
    nodes = lattice_nodes(heights)
    level_sum = nodes.sum(axis=1, dtype=np.int64)
    order = np.lexsort((np.arange(nodes.shape[0]), level_sum))
    pruned = np.zeros(nodes.shape[0], dtype=bool)
    masks = LatticeMasks(nodes, heights)
    prune_above = evaluator.max_suppressed == 0  # see the module docstring
    best: tuple[float, int, int] | None = None
    for i in order:
        if pruned[i]:
            continue
        levels = tuple(int(x) for x in nodes[i])
        snap = ctx.classes(levels)
        fail = evaluator.failing(snap.counts, snap.hist)
        if int(snap.counts[fail].sum()) > evaluator.max_suppressed:
            continue
        key = (class_metric(metric, snap.counts, fail, problem.n_rows), int(level_sum[i]), int(i))
        if best is None or key < best:
            best = key
        if prune_above:
            masks.set_up(pruned, levels, True)
    if best is None:
        raise _no_solution(evaluator)
    return SearchOutcome(
        levels=tuple(int(x) for x in nodes[best[2]]),
        method="optimal",
        optimal=True,
        objective=best[0],
        nodes_total=ctx.total,
        nodes_evaluated=ctx.evaluated,
        seconds=time.perf_counter() - started,
    )


# --- plain ---------------------------------------------------------------------------------------------------
def plain_search(
    problem: Problem, evaluator: Evaluator, metric: str = "entropy", *, progress: Progress | None = None
) -> SearchOutcome:
    """Evaluate every node of the lattice from the rows (no pruning, no roll-up) and keep the best."""
    _check_metric(metric)
    started = time.perf_counter()
    nodes = lattice_nodes(problem.heights)
    objective = AdditiveMetric(problem, metric).value(nodes) if metric in ADDITIVE else None
    ranks = tie_ranks(objective) if objective is not None else None
    rows = row_classes(problem)
    best: tuple[float, int, int] | None = None
    best_value = 0.0
    for i in range(nodes.shape[0]):
        levels = tuple(int(x) for x in nodes[i])
        snap = group(problem, rows, levels)
        if progress is not None:
            progress(i + 1, nodes.shape[0])
        fail = evaluator.failing(snap.counts, snap.hist)
        if int(snap.counts[fail].sum()) > evaluator.max_suppressed:
            continue
        value = (
            float(objective[i])
            if objective is not None
            else class_metric(metric, snap.counts, fail, problem.n_rows)
        )
        key = (float(ranks[i]) if ranks is not None else value, sum(levels), i)
        if best is None or key < best:
            best, best_value = key, value
    if best is None:
        raise _no_solution(evaluator)
    return SearchOutcome(
        levels=tuple(int(x) for x in nodes[best[2]]),
        method="plain",
        optimal=True,
        objective=best_value,
        nodes_total=int(nodes.shape[0]),
        nodes_evaluated=int(nodes.shape[0]),
        seconds=time.perf_counter() - started,
    )


# --- heuristic -----------------------------------------------------------------------------------------------
def heuristic_search(
    problem: Problem, evaluator: Evaluator, metric: str = "entropy", *, progress: Progress | None = None
) -> SearchOutcome:
    _check_metric(metric)
    started = time.perf_counter()
    ctx = _Context(problem, evaluator, progress)
    heights = ctx.heights
    additive = AdditiveMetric(problem, metric) if metric in ADDITIVE else None

    def key_of(levels: tuple[int, ...], snap: Classes, fail: np.ndarray) -> tuple[float, int, int]:
        if additive is not None:
            value = float(additive.value(np.asarray([levels]))[0])
        else:
            value = class_metric(metric, snap.counts, fail, problem.n_rows)
        return (value, sum(levels), node_index(levels, heights))

    def judge(snap: Classes) -> tuple[bool, np.ndarray]:
        fail = evaluator.failing(snap.counts, snap.hist)
        return int(snap.counts[fail].sum()) <= evaluator.max_suppressed, fail

    cur, snap = ctx.bottom.levels, ctx.bottom
    sat, fail = judge(snap)
    while not sat:
        steps = successors(cur, heights)
        if not steps:
            raise _no_solution(evaluator)
        scored = []
        for cand in steps:
            cand_snap = ctx.classes(cand, snap)
            cand_sat, cand_fail = judge(cand_snap)
            relaxed_bad = evaluator.suppressed(cand_snap.counts, cand_snap.hist, relaxed=True)
            scored.append(
                (cand_sat, key_of(cand, cand_snap, cand_fail), relaxed_bad, cand, cand_snap, cand_fail)
            )
        good = [s for s in scored if s[0]]
        if good:
            _, _, _, cur, snap, fail = min(good, key=lambda s: s[1])
            sat = True
        else:
            _, _, _, cur, snap, fail = min(scored, key=lambda s: (s[2], s[1]))
    best_key = key_of(cur, snap, fail)
    improved = True
    while improved:
        improved = False
        for q in range(len(cur)):
            if cur[q] == 0:
                continue
            cand = cur[:q] + (cur[q] - 1,) + cur[q + 1 :]
            cand_snap = ctx.classes(cand)
            cand_sat, cand_fail = judge(cand_snap)
            if cand_sat:
                k = key_of(cand, cand_snap, cand_fail)
                if k < best_key:
                    cur, best_key, improved = cand, k, True
                    break
    return SearchOutcome(
        levels=cur,
        method="heuristic",
        optimal=False,
        objective=best_key[0],
        nodes_total=ctx.total,
        nodes_evaluated=ctx.evaluated,
        seconds=time.perf_counter() - started,
    )

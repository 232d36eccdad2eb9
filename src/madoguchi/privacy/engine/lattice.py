"""The encoded table, the generalization lattice and equivalence classes with roll-up.

The table reaches the search as a (rows × quasi-identifiers) integer array of leaf codes; each hierarchy as
per-level mapping arrays (`EncodedHierarchy.maps`, and `up[a][b]` from level a codes to level b codes). A node
of the lattice is a level vector (one level per quasi-identifier). The equivalence classes of a node are a
`Classes` snapshot: for each quasi-identifier the classes' codes at the node's level, the class sizes and,
when there is a sensitive column, a (classes × sensitive values) count matrix.

Roll-up: for a node n and any node m ≤ n (every level of m at most that of n), every class of n is a union of
classes of m, because generalization only merges groups (the hierarchies are validated to be trees). So the
classes of n are found by mapping m's class codes up to n's levels and grouping m's *classes* — adding their
counts — instead of re-reading every row. Near the top of the lattice that is a few hundred classes instead of
tens of thousands of rows.

Grouping combines the codes into one mixed-radix integer key per class and counts keys in a dense table when
the key range is small (no sort); sparse partial keys are renumbered on the way to keep it small, and only
large ranges fall back to sorting.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .hierarchy import EncodedHierarchy

_KEY_LIMIT = 1 << 62
_DENSE_LIMIT = 1 << 22  # the largest counting table worth allocating instead of sorting


@dataclass(frozen=True)
class Problem:
    """What the search needs: the leaf codes, the hierarchies as integer maps, the sensitive codes."""

    qi_names: tuple[str, ...]
    codes: np.ndarray  # (n_rows, n_qi) int64 leaf codes
    hierarchies: tuple[EncodedHierarchy, ...]
    sensitive: np.ndarray | None = None  # (n_rows,) int64 codes 0..n_sensitive-1
    n_sensitive: int = 0

    @property
    def n_rows(self) -> int:
        return int(self.codes.shape[0])

    @property
    def heights(self) -> tuple[int, ...]:
        return tuple(h.height for h in self.hierarchies)

    @property
    def n_nodes(self) -> int:
        return int(np.prod([h + 1 for h in self.heights], dtype=np.float64))


@dataclass
class Classes:
    """Equivalence classes of one node (see the module docstring)."""

    levels: tuple[int, ...]
    codes: tuple[np.ndarray, ...]  # per QI, each class's code at this node's level
    counts: np.ndarray  # (n_classes,) int64
    hist: np.ndarray | None  # (n_classes, n_sensitive) int64, or None
    inverse: np.ndarray | None = None  # class of each source item, when asked for
    materialized: bool = True  # codes present, so it can be a roll-up source (see `group`)
    # When the search tracks suppressed rows (see `RowSets`): the input rows in failing classes and the index
    # of each one's class here, so that a node rolled up from this one can tell its own suppressed rows;
    # computed on demand from `origin`, the source this snapshot was grouped from and the class here of each
    # of the source's classes.
    failing_rows: tuple[np.ndarray, np.ndarray] | None = None
    origin: tuple[Classes, np.ndarray] | None = None
    # The class sizes as float64, when grouping produced them that way (the dense path): the weights a roll-up
    # from this snapshot counts with, without converting `counts` again every time.
    weights: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.counts.shape[0])


def lattice_nodes(heights: tuple[int, ...]) -> np.ndarray:
    """All level vectors, in lexicographic order (row index = mixed-radix number of the vector)."""
    if not heights:
        return np.zeros((1, 0), dtype=np.int16)
    grids = np.meshgrid(*[np.arange(h + 1, dtype=np.int16) for h in heights], indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1)


def row_classes(problem: Problem) -> Classes:
    """Every row as its own 'class' of size 1 at the bottom node: the source for evaluating from scratch."""
    hist = None
    if problem.sensitive is not None:
        hist = np.zeros((problem.n_rows, problem.n_sensitive), dtype=np.int64)
        hist[np.arange(problem.n_rows), problem.sensitive] = 1
    levels = tuple(0 for _ in problem.qi_names)
    # Level-0 codes are the leaf indices (the first column of a hierarchy has one label per row).
    codes = tuple(np.ascontiguousarray(problem.codes[:, q]) for q in range(problem.codes.shape[1]))
    # Float weights as well, as every grouped snapshot has them: the plain search groups from these rows, and
    # must count the same way as the optimal search's roll-ups do (not convert the sizes at every node).
    ones = np.ones(problem.n_rows, dtype=np.int64)
    return Classes(levels, codes, ones, hist, weights=ones.astype(np.float64))


def _compact_dense(key: np.ndarray, bound: int) -> tuple[np.ndarray, int]:
    """Renumber keys to 0..distinct-1 (order kept) with a table of `bound` flags: O(bound + n), no sort."""
    seen = np.zeros(bound, dtype=bool)
    seen[key] = True
    present = seen.nonzero()[0]  # much faster than a cumulative sum over the table
    renumber = np.empty(bound, dtype=np.int64)
    renumber[present] = np.arange(present.shape[0])
    return renumber[key], int(present.shape[0])


def _combine(columns: list[np.ndarray], sizes: list[int], dense: int, n: int) -> tuple[np.ndarray, int]:
    """One int64 key per item from several code columns (mixed radix). Returns the keys and an exclusive
    upper bound.

    When the product of the domain sizes is about to pass `dense` (the largest counting table `group` will
    allocate) while the partial key is sparse (bound well above the number of items) but its table still
    cheap, the partial key is renumbered to its distinct values first: the final key then usually stays
    small enough to count without sorting. Keys are renumbered with a sort only to avoid int64 overflow."""
    key: np.ndarray | None = None
    bound = 1
    for col, size in zip(columns, sizes, strict=True):
        if size == 1:
            continue
        if key is None:
            key = col.astype(np.int64, copy=True)
            bound = size
            continue
        if bound * size > dense and n < bound <= 4 * dense:
            key, bound = _compact_dense(key, bound)
        if bound * size >= _KEY_LIMIT:
            uniq, inv = np.unique(key, return_inverse=True)
            key, bound = inv.astype(np.int64, copy=False), int(uniq.shape[0])
        key *= size
        key += col
        bound *= size
    if key is None:
        return np.zeros(n, dtype=np.int64), 1
    return key, bound


def _sum_rows(inv: np.ndarray, n_groups: int, values: np.ndarray) -> np.ndarray:
    """Row sums of `values` (items × columns) per group: a bincount per column, faster than np.add.at."""
    out = np.empty((n_groups, values.shape[1]), dtype=np.int64)
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(inv, weights=values[:, j], minlength=n_groups)
    return out


def group(
    problem: Problem,
    source: Classes,
    levels: tuple[int, ...],
    *,
    with_inverse: bool = False,
    keep_codes: Callable[[Classes], bool] | None = None,
) -> Classes:
    """The classes of node `levels`, rolled up from `source`, whose levels must all be ≤ `levels`.

    `keep_codes`, when given, sees the classes (sizes and sensitive counts, no codes yet) and says whether the
    codes are wanted; without them the snapshot cannot serve as a roll-up source (`materialized` is False),
    which saves their gathers for nodes the search will never roll up from."""
    n = source.counts.shape[0]
    if n == 0:
        empty = tuple(c[:0] for c in source.codes)
        return Classes(levels, empty, source.counts[:0], None if source.hist is None else source.hist[:0])
    cols: list[np.ndarray | None] = []
    live: list[np.ndarray] = []
    sizes: list[int] = []
    for q, h in enumerate(problem.hierarchies):
        lv, have = levels[q], source.levels[q]
        size = h.size(lv)
        if size == 1:  # generalized to one value: no part of the key, code 0 for every class
            cols.append(None)
            continue
        col = source.codes[q] if lv == have else h.up[have][lv][source.codes[q]]
        cols.append(col)
        live.append(col)
        sizes.append(size)
    dense = min(8 * n + 16384, _DENSE_LIMIT)
    key, bound = _combine(live, sizes, dense, n)
    slot = first = inv = hist = weights_out = None
    if bound <= dense:
        # Dense path: the keys fit a small array, so counting needs no sort.
        weights = source.counts if source.weights is None else source.weights
        counts = np.bincount(key, weights=weights, minlength=bound)
        present = (counts > 0).nonzero()[0]  # 4× faster than flatnonzero on floats
        weights_out = counts[present]
        counts_out = weights_out.astype(np.int64)
        if with_inverse or source.hist is not None:
            slot = np.empty(bound, dtype=np.int64)
            slot[present] = np.arange(present.shape[0])
            inv = slot[key]
            if source.hist is not None:
                hist = _sum_rows(inv, present.shape[0], source.hist)
    else:
        order = np.argsort(key)
        sk = key[order]
        new_group = np.r_[True, sk[1:] != sk[:-1]]
        starts = np.flatnonzero(new_group)
        counts_out = np.add.reduceat(source.counts[order], starts)
        hist = None if source.hist is None else np.add.reduceat(source.hist[order], starts, axis=0)
        if with_inverse:
            inv = np.empty(n, dtype=np.int64)
            inv[order] = np.cumsum(new_group) - 1
        first = order[starts]
    snap = Classes(levels, (), counts_out, hist, inv if with_inverse else None, materialized=False)
    snap.weights = weights_out
    if keep_codes is not None and not keep_codes(snap):
        return snap
    if first is None:
        if slot is None:
            slot = np.empty(bound, dtype=np.int64)
        slot[key] = np.arange(n)  # any member represents its class
        first = slot[present]
    zeros = np.zeros(first.shape[0], dtype=np.int64)
    snap.codes = tuple(zeros if c is None else c[first] for c in cols)
    snap.materialized = True
    return snap


_NO_SOURCE = np.iinfo(np.int64).max


class NodeList:
    """A growing list of nodes that answers "which stored nodes are ≤ this one" with one vector operation.

    Each node's levels are packed into one int64 with a guard bit above every field: per field,
    (target + guard) − stored keeps the guard bit exactly when target ≥ stored, and no field borrows from the
    next. When the fields do not fit in 62 bits the levels are compared column by column instead.
    """

    def __init__(self, heights: tuple[int, ...], capacity: int = 256) -> None:
        q = len(heights)
        self.width = max(heights, default=1).bit_length() + 1  # bits per field: the levels and a guard bit
        self.packed_ok = q * self.width <= 62
        self.guard = sum(1 << (i * self.width + self.width - 1) for i in range(q))
        self.shifts = [i * self.width for i in range(q)]
        self.levels = np.zeros((capacity, q), dtype=np.int16)
        self.packed = np.zeros(capacity, dtype=np.int64)
        self.used = 0

    def _pack(self, levels: tuple[int, ...]) -> int:
        return sum(map(operator.lshift, levels, self.shifts)) if self.packed_ok else 0

    def append(self, levels: tuple[int, ...]) -> int:
        if self.used == self.packed.shape[0]:
            self.levels = np.concatenate([self.levels, np.zeros_like(self.levels)])
            self.packed = np.concatenate([self.packed, np.zeros_like(self.packed)])
        i = self.used
        self.levels[i] = levels
        self.packed[i] = self._pack(levels)
        self.used += 1
        return i

    def keep(self, indices: np.ndarray) -> None:
        """Keep only the given stored nodes (in that order)."""
        n = indices.shape[0]
        self.levels[:n] = self.levels[indices]
        self.packed[:n] = self.packed[indices]
        self.used = n

    def below(self, levels: tuple[int, ...]) -> np.ndarray:
        """Mask over the stored nodes: which are ≤ `levels` in every quasi-identifier."""
        if self.packed_ok:
            return ((self._pack(levels) | self.guard) - self.packed[: self.used]) & self.guard == self.guard
        return np.all(self.levels[: self.used] <= np.asarray(levels, dtype=np.int16), axis=1)

    def any_below(self, levels: tuple[int, ...]) -> bool:
        return bool(self.used) and bool(self.below(levels).any())

    def above(self, levels: tuple[int, ...]) -> np.ndarray:
        """Mask over the stored nodes: which are ≥ `levels` in every quasi-identifier."""
        if self.packed_ok:
            return ((self.packed[: self.used] | self.guard) - self._pack(levels)) & self.guard == self.guard
        return np.all(self.levels[: self.used] >= np.asarray(levels, dtype=np.int16), axis=1)


class SnapshotCache:
    """Class snapshots of evaluated nodes, to roll the next node up from the smallest one below it.

    Bounded by the total number of stored classes; the bottom snapshot is never evicted.
    """

    def __init__(self, bottom: Classes, heights: tuple[int, ...], budget: int = 4_000_000) -> None:
        self.bottom = bottom
        self.budget = budget
        self.nodes = NodeList(heights)
        self.sizes = np.zeros(self.nodes.packed.shape[0], dtype=np.int64)
        self.snaps: list[Classes] = []
        self.total = 0
        self.index: set[tuple[int, ...]] = set()

    def best_source(self, levels: tuple[int, ...]) -> Classes:
        if not self.snaps:
            return self.bottom
        below = self.nodes.below(levels)
        i = int(np.argmin(np.where(below, self.sizes[: len(self.snaps)], _NO_SOURCE)))
        if not below[i] or self.sizes[i] >= len(self.bottom):
            return self.bottom
        return self.snaps[i]

    def add(self, snap: Classes) -> None:
        n = len(snap)
        if not snap.materialized or snap.levels in self.index or n * 4 > self.budget:
            return
        snap.inverse = None
        if self.total + n > self.budget:
            self._evict(n)
        i = self.nodes.append(snap.levels)
        if i >= self.sizes.shape[0]:
            self.sizes = np.concatenate([self.sizes, np.zeros_like(self.sizes)])
        self.sizes[i] = n
        self.snaps.append(snap)
        self.index.add(snap.levels)
        self.total += n

    def _evict(self, incoming: int) -> None:
        # Keep the smallest snapshots (the cheap sources near the top); drop the larger half.
        count = len(self.snaps)
        keep = np.sort(np.argsort(self.sizes[:count], kind="stable")[: count // 2])
        self.nodes.keep(keep)
        self.sizes[: keep.shape[0]] = self.sizes[keep]
        self.snaps = [self.snaps[i] for i in keep]
        self.index = {s.levels for s in self.snaps}
        self.total = int(self.sizes[: keep.shape[0]].sum())
        if self.total + incoming > self.budget:  # even the small half is too much: start afresh
            self.nodes.keep(np.zeros(0, dtype=np.int64))
            self.snaps, self.index, self.total = [], set(), 0


class RowSets:
    """Sets of input rows (as bitmaps) attached to nodes: the rows each evaluated, *satisfying* node
    suppresses, for the lower bound of the optimal search.

    Why it is a bound: with a monotone per-class test (k-anonymity, distinct ℓ-diversity), a row suppressed at
    a node a is suppressed at every node n ≤ a (its class at n is a part of its class at a, and a part of a
    failing class fails). So the rows n must suppress include the union of the rows suppressed by all nodes
    above it; when that union exceeds the limit, n fails — although every node of the union satisfies.
    """

    def __init__(self, heights: tuple[int, ...], n_rows: int, capacity: int = 64) -> None:
        self.nodes = NodeList(heights)
        # The bitmaps cover only the rows some stored set holds, numbered as they first appear (a few
        # thousand at most where the bound matters, against every input row): unions and counts stay short.
        self.slot = np.full(max(n_rows, 1), -1, dtype=np.int64)
        self.seen = 0
        self.bits = np.zeros((capacity, 1), dtype=np.uint64)
        self.sizes = np.zeros(capacity, dtype=np.int64)

    def add(self, levels: tuple[int, ...], rows: np.ndarray) -> None:
        i = self.nodes.append(levels)
        if i >= self.bits.shape[0]:
            self.bits = np.concatenate([self.bits, np.zeros_like(self.bits)])
            self.sizes = np.concatenate([self.sizes, np.zeros_like(self.sizes)])
        new = rows[self.slot[rows] < 0]
        if new.shape[0]:
            self.slot[new] = np.arange(self.seen, self.seen + new.shape[0])
            self.seen += new.shape[0]
            words = (self.seen + 63) // 64
            if words > self.bits.shape[1]:
                wider = np.zeros((self.bits.shape[0], max(words, 2 * self.bits.shape[1])), dtype=np.uint64)
                wider[:, : self.bits.shape[1]] = self.bits
                self.bits = wider
        self.sizes[i] = rows.shape[0]
        flags = np.zeros(self.bits.shape[1] * 64, dtype=bool)
        flags[self.slot[rows]] = True
        self.bits[i] = np.packbits(flags, bitorder="little").view(np.uint64)

    def failing_meet(self, levels: tuple[int, ...], limit: int) -> tuple[int, ...] | None:
        """A node ≥ `levels` that must suppress more than `limit` rows, or None if the sets do not show one.

        Takes the sets stored at nodes ≥ `levels`, largest first, until their union holds more than `limit`
        rows; every node below all of those nodes — in particular their meet, returned — suppresses that
        union. The meet is often well above `levels`, so its down-set settles many nodes at once."""
        if self.nodes.used < 2:
            return None
        above = self.nodes.above(levels).nonzero()[0]
        if above.shape[0] < 2:
            return None
        sizes = self.sizes[above]
        if int(sizes.sum()) <= limit:  # not even the sizes add up to more
            return None
        bits = self.bits[above, : (self.seen + 63) // 64]
        if int(np.bitwise_count(np.bitwise_or.reduce(bits, axis=0)).sum()) <= limit:  # nor the whole union
            return None
        by_size = np.argsort(-sizes, kind="stable")
        union = np.bitwise_or.accumulate(bits[by_size], axis=0)
        counts = np.bitwise_count(union).sum(axis=1, dtype=np.int64)
        first = int((counts > limit).nonzero()[0][0])
        used = self.nodes.levels[above[by_size[: first + 1]]]
        return tuple(int(x) for x in used.min(axis=0))


class LatticeMasks:
    """Down-sets and up-sets of nodes over `lattice_nodes(heights)`. In that order an array over the nodes
    reshapes (without a copy) to one axis per quasi-identifier, and a down-set or up-set is a box of it: `set_down`
    and `set_up` write a value into the box with one slice assignment. `down` and `up` return boolean masks (one
    comparison per quasi-identifier on its contiguous level column; dimensions at their bound are skipped)."""

    def __init__(self, nodes: np.ndarray, heights: tuple[int, ...]) -> None:
        self.n = nodes.shape[0]
        self.heights = heights
        self.shape = tuple(h + 1 for h in heights)
        self.columns = [np.ascontiguousarray(nodes[:, q], dtype=np.int16) for q in range(len(heights))]

    def set_down(self, flat: np.ndarray, levels: tuple[int, ...], value: int | bool) -> None:
        """flat[every node ≤ levels] = value (`flat` a contiguous array over the nodes)."""
        flat.reshape(self.shape)[tuple(slice(0, lv + 1) for lv in levels)] = value

    def set_up(self, flat: np.ndarray, levels: tuple[int, ...], value: int | bool) -> None:
        """flat[every node ≥ levels] = value."""
        flat.reshape(self.shape)[tuple(slice(lv, None) for lv in levels)] = value

    def down(self, levels: tuple[int, ...]) -> np.ndarray:
        mask = np.ones(self.n, dtype=bool)
        for q, lv in enumerate(levels):
            if lv < self.heights[q]:
                mask &= self.columns[q] <= lv
        return mask

    def up(self, levels: tuple[int, ...]) -> np.ndarray:
        mask = np.ones(self.n, dtype=bool)
        for q, lv in enumerate(levels):
            if lv > 0:
                mask &= self.columns[q] >= lv
        return mask


def node_index(levels: tuple[int, ...], heights: tuple[int, ...]) -> int:
    idx = 0
    for lv, h in zip(levels, heights, strict=True):
        idx = idx * (h + 1) + lv
    return idx


def successors(levels: tuple[int, ...], heights: tuple[int, ...]) -> list[tuple[int, ...]]:
    return [
        levels[:q] + (levels[q] + 1,) + levels[q + 1 :] for q in range(len(levels)) if levels[q] < heights[q]
    ]


def projection_failures(
    problem: Problem, k: int, limit: int, source: Classes | None = None
) -> list[tuple[int, ...]]:
    """Failure proofs from the projections onto pairs of quasi-identifiers (Incognito's subset property), for
    k-anonymity with at most `limit` suppressed rows.

    The projection of a node n onto a set S of quasi-identifiers is the node with n's levels on S and the top
    level elsewhere; every class of n lies inside one class of the projection, so a row in a projection class
    smaller than k is in a class of n smaller than k. So when the projection suppresses more than `limit`
    rows, n fails, and so does every node m with m_S ≤ n_S — the down-set of the projection node, which is
    itself a node of the lattice. This computes, for every pair S (which includes every single QI, the other
    one at its top level), the suppressed rows of each level combination in one count over the pair's
    contingency table, and returns the maximal failing projection nodes (their down-sets cover all the
    failures found). `source`: the classes to count from, at the bottom node (default: the rows)."""
    heights = problem.heights
    n_qi = len(heights)
    found: list[tuple[int, ...]] = []
    if n_qi < 2 or k <= 1:
        return found
    hs = problem.hierarchies
    if source is None:
        source = row_classes(problem)
    if any(source.levels):
        raise ValueError("projection_failures counts from classes at the bottom node")
    weights = source.counts.astype(np.float64)
    leaf = [h.size(0) for h in hs]
    # Per QI: the code of every leaf at every level (levels × leaves), and the domain size of every level.
    level_codes = [np.stack([h.maps[lv] for lv in range(h.height + 1)]) for h in hs]
    level_sizes = [np.array([h.size(lv) for lv in range(h.height + 1)], dtype=np.int64) for h in hs]
    for a in range(n_qi):
        for b in range(a + 1, n_qi):
            pair = source.codes[a] * leaf[b] + source.codes[b]
            table = np.bincount(pair, weights=weights, minlength=leaf[a] * leaf[b])
            # Both at the leaf level is the pair's finest combination: if it suppresses no more than the
            # limit, no combination of the pair does (raising a level only merges cells), so none is counted.
            if np.dot(table, (table > 0) & (table < k)) <= limit:
                continue
            cells = table.nonzero()[0]
            ca = level_codes[a][:, cells // leaf[b]]  # (levels of a, cells)
            cb = level_codes[b][:, cells % leaf[b]]  # (levels of b, cells)
            # One count for every level combination (la, lb) at once: combination-major keys, each in its own
            # block of size(la) × size(lb) slots.
            block = np.outer(level_sizes[a], level_sizes[b]).ravel()
            start = np.concatenate([[0], np.cumsum(block)[:-1]]).reshape(len(ca), len(cb))
            sb = level_sizes[b][None, :, None]
            key = start[:, :, None] + ca[:, None, :] * sb + cb[None, :, :]
            counts = np.bincount(key.ravel(), weights=np.tile(table[cells], key.shape[0] * key.shape[1]))
            suppressed = np.add.reduceat(np.where(counts < k, counts, 0.0), start.ravel()).reshape(
                start.shape
            )
            failing = suppressed > limit
            # Maximal failing combinations: failing, with neither level raisable while still failing.
            maximal = failing.copy()
            maximal[:-1, :] &= ~failing[1:, :]
            maximal[:, :-1] &= ~failing[:, 1:]
            for la, lb in zip(*maximal.nonzero(), strict=True):
                levels = list(heights)
                levels[a], levels[b] = int(la), int(lb)
                found.append(tuple(levels))
    # A node with only one QI below its top can be maximal for several pairs: keep it once.
    return list(dict.fromkeys(found))

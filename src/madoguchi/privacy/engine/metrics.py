"""Utility metrics of a transformation.

N is the number of rows entering the privacy model, Q the number of quasi-identifiers, and for a record r and
quasi-identifier q, v its original value and g its generalized value at the node's level for q.

- **Non-uniform entropy** (the default objective): Σ_r Σ_q −log2(#v / #g), where #v is the number of records
  whose original value is v and #g the number whose original value generalizes to g at that level, both
  counted over the input. Suppressed records are counted at their generalized value: suppression is bounded
  by the limit, not priced. 0 at the bottom node; it grows as values merge.
- **Generalization loss** (value-count based, as ARX's "Loss"): a record's loss for q is
  (leaves(g) − 1) / (leaves(*) − 1), leaves(x) being the number of values of the hierarchy (its level-0
  column, whether or not they occur in the data) under x; averaged over records, then over quasi-identifiers.
  In [0, 1]. Suppressed records counted at their generalized value, as for entropy.
- **Precision** (Sweeney's Prec): 1 − (1/Q) Σ_q level_q / height_q (a quasi-identifier whose hierarchy has
  height 0 counts 0). In full-domain generalization every record of q sits at the same level, so the per-record
  average is the per-column one. 1 is no generalization. Suppressed records as above.
- **Discernibility**: Σ |EC|² over released classes + |suppressed| × N (each suppressed record is
  indistinguishable from all N).
- **Average equivalence class size**: N ÷ the number of classes of the released table, the suppressed records
  forming one class (by definition: the records themselves are deleted from the released table).

Entropy, loss and precision are sums of one term per quasi-identifier that depends only on its level, so they
are tabulated once (`AdditiveMetric`) and known for every node before any class is computed: the search uses
that to visit nodes in objective order. Discernibility and AECS need the classes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .lattice import Problem

ADDITIVE = ("entropy", "loss", "precision")
CLASS_BASED = ("discernibility", "aecs")
METRICS = ADDITIVE + CLASS_BASED


@dataclass(frozen=True)
class Metrics:
    entropy: float
    loss: float
    precision: float
    discernibility: int
    aecs: float

    def as_dict(self) -> dict:
        return asdict(self)


class AdditiveMetric:
    """Per-quasi-identifier, per-level terms of entropy, loss and precision; `value(nodes)` sums them."""

    def __init__(self, problem: Problem, name: str) -> None:
        if name not in ADDITIVE:
            raise ValueError(name)
        self.name = name
        self.tables: list[np.ndarray] = []
        n = max(problem.n_rows, 1)
        q_count = max(len(problem.hierarchies), 1)
        for q, h in enumerate(problem.hierarchies):
            per_level = np.zeros(h.height + 1)
            counts0 = np.bincount(problem.codes[:, q], minlength=len(h.hierarchy.rows)).astype(np.float64)
            present = counts0 > 0
            leaves = len(h.hierarchy.rows)
            for level in range(h.height + 1):
                g = h.maps[level]
                if name == "entropy":
                    count_g = np.bincount(g, weights=counts0, minlength=h.size(level))
                    per_level[level] = float(
                        np.sum(counts0[present] * (np.log2(count_g[g[present]]) - np.log2(counts0[present])))
                    )
                elif name == "loss":
                    per_leaf = (
                        (h.leaves_under[level][g] - 1) / (leaves - 1) if leaves > 1 else np.zeros(leaves)
                    )
                    per_level[level] = float(np.sum(counts0 * per_leaf) / n) / q_count
                else:  # precision, as its complement (what is lost), so that lower is better for all three
                    per_level[level] = (level / h.height if h.height else 0.0) / q_count
            if name == "entropy":
                per_level[0] = 0.0
            self.tables.append(per_level)

    def value(self, nodes: np.ndarray) -> np.ndarray:
        """Objective of each node (rows of levels); the same summation order for one node or all of them."""
        nodes = np.atleast_2d(nodes)
        total = np.zeros(nodes.shape[0])
        for q, table in enumerate(self.tables):
            total = total + table[nodes[:, q]]
        return total


#: Objective values closer than this (relative) are a tie, broken by level sum and then lexicographic order.
#: Sums of logarithms that are equal in exact arithmetic differ in their last bits depending on the order of
#: the terms; without a tolerance the tie-break would depend on rounding.
TIE_TOLERANCE = 1e-9


def tie_ranks(values: np.ndarray) -> np.ndarray:
    """Rank of each value, equal for values within TIE_TOLERANCE of their sorted neighbour (chained)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    gaps = np.diff(ordered) > TIE_TOLERANCE * np.maximum(1.0, np.abs(ordered[1:]))
    ranks = np.empty(values.shape[0], dtype=np.int64)
    ranks[order] = np.concatenate(([0], np.cumsum(gaps)))
    return ranks


def class_metric(name: str, counts: np.ndarray, failing: np.ndarray, n_rows: int) -> float:
    """Discernibility or AECS of a node from its class sizes and the mask of suppressed classes."""
    released = counts[~failing]
    suppressed = int(counts[failing].sum())
    if name == "discernibility":
        return float(int(np.sum(released.astype(np.int64) ** 2)) + suppressed * n_rows)
    classes = int(released.shape[0]) + (1 if suppressed else 0)
    return n_rows / classes if classes else 0.0


def all_metrics(
    problem: Problem, levels: tuple[int, ...], counts: np.ndarray, failing: np.ndarray
) -> Metrics:
    node = np.asarray([levels])
    entropy = float(AdditiveMetric(problem, "entropy").value(node)[0])
    loss = float(AdditiveMetric(problem, "loss").value(node)[0])
    precision = 1.0 - float(AdditiveMetric(problem, "precision").value(node)[0])
    return Metrics(
        entropy=entropy,
        loss=loss,
        precision=precision,
        discernibility=int(class_metric("discernibility", counts, failing, problem.n_rows)),
        aecs=class_metric("aecs", counts, failing, problem.n_rows),
    )

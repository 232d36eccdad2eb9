"""Privacy models, as a test on each equivalence class, and the record-suppression limit.

A node satisfies the model when the records of the classes that fail the per-class test number at most
⌊suppression × rows⌋; those records are suppressed (deleted from the released table).

Per-class tests (a class is released only if it passes all that are set):
- k-anonymity: size ≥ k.
- distinct ℓ-diversity: at least ℓ distinct sensitive values.
- entropy ℓ-diversity: −Σ p·ln p ≥ ln ℓ over the class's sensitive-value shares p.
- t-closeness: EMD(class distribution, distribution of the whole input) ≤ t, with the equal ground distance
  (EMD = ½ Σ|p − q|, the total variation distance) or the hierarchical one (Li, Li and Venkatasubramanian:
  the distance between two values is the level of their lowest common ancestor ÷ the hierarchy's height).

Monotonicity (what the search may infer; n' is any generalization of n, so each class of n' is a union of
classes of n):
- The test of every model is *union-closed*: if all classes merged into one pass, so does the union (sizes
  add; distinct values only grow; entropy is concave, so the entropy of a mixture is at least the smallest
  entropy mixed; EMD to a fixed distribution is convex, so the mixture is at most the largest distance mixed).
  So "satisfied with no suppression" is monotone for every model.
- For k-anonymity and distinct ℓ-diversity the converse also holds: a union that fails has only failing parts
  (a union smaller than k is made of classes smaller than k; fewer than ℓ values in the union means fewer in
  each part). So the suppressed records of n' are a subset of those of n, and "satisfied within the
  suppression limit" is monotone too: if n satisfies, every generalization of n does.
- For entropy ℓ-diversity and t-closeness with a suppression limit this fails (two passing classes can merge
  with a failing one into a failing union). The search then prunes with a *relaxation* that is monotone —
  size ≥ k and, for entropy ℓ-diversity, ≥ ℓ distinct values (entropy ≥ ln ℓ implies that) — and tests the
  full model on every node it does not prune. It stays exact, only with fewer nodes pruned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import AnonymizationError
from .hierarchy import EncodedHierarchy

_EPS = 1e-12


@dataclass(frozen=True)
class PrivacyModel:
    k: int = 2
    l: float | None = None  # noqa: E741 — ℓ is the name in the literature
    l_variant: str = "distinct"  # "distinct" | "entropy"
    t: float | None = None
    t_measure: str = "equal"  # "equal" | "hierarchical"
    suppression: float = 0.0  # largest share of rows that may be suppressed, 0 ≤ s < 1

    def __post_init__(self) -> None:
        if int(self.k) != self.k or self.k < 1:
            raise AnonymizationError("k は1以上の整数です", "k must be an integer ≥ 1")
        if not (0.0 <= self.suppression < 1.0):
            raise AnonymizationError(
                "抑制率は0以上1未満で指定してください", "the suppression limit must be in [0, 1)"
            )
        if self.l is not None and self.l < 1:
            raise AnonymizationError("ℓ は1以上です", "ℓ must be ≥ 1")
        if self.l_variant not in ("distinct", "entropy"):
            raise AnonymizationError(
                "ℓ多様性の種類は distinct か entropy です", "the ℓ-diversity variant is distinct or entropy"
            )
        if self.t is not None and not (0.0 <= self.t <= 1.0):
            raise AnonymizationError("t は0以上1以下です", "t must be in [0, 1]")
        if self.t_measure not in ("equal", "hierarchical"):
            raise AnonymizationError(
                "t近接性の距離は equal か hierarchical です",
                "the t-closeness distance is equal or hierarchical",
            )

    @property
    def needs_sensitive(self) -> bool:
        return self.l is not None or self.t is not None

    @property
    def monotone_with_suppression(self) -> bool:
        return self.t is None and (self.l is None or self.l_variant == "distinct")

    def describe(self) -> str:
        parts = [f"{self.k}-anonymity"]
        if self.l is not None:
            parts.append(f"{self.l_variant} {self.l:g}-diversity")
        if self.t is not None:
            parts.append(f"{self.t:g}-closeness ({self.t_measure} EMD)")
        parts.append(f"suppression ≤ {self.suppression:.2%}")
        return ", ".join(parts)


class Evaluator:
    """The model bound to a problem: which classes fail, how many records may be suppressed."""

    def __init__(
        self,
        model: PrivacyModel,
        n_rows: int,
        sensitive: np.ndarray | None = None,
        n_sensitive: int = 0,
        sensitive_hierarchy: EncodedHierarchy | None = None,
    ) -> None:
        self.model = model
        self.n_rows = n_rows
        self.max_suppressed = math.floor(model.suppression * n_rows + 1e-9)
        self.monotone = model.monotone_with_suppression
        if model.needs_sensitive and sensitive is None:
            raise AnonymizationError(
                "ℓ多様性・t近接性には機微属性（sensitive）の列が必要です",
                "ℓ-diversity and t-closeness need a sensitive column",
            )
        self.overall: np.ndarray | None = None
        if sensitive is not None and n_sensitive:
            self.overall = np.bincount(sensitive, minlength=n_sensitive) / max(n_rows, 1)
        self._tree: list[tuple[np.ndarray, np.ndarray, float]] = []
        if model.t is not None and model.t_measure == "hierarchical":
            if sensitive_hierarchy is None:
                raise AnonymizationError(
                    "階層的EMDには機微属性の階層が必要です",
                    "hierarchical EMD needs a hierarchy for the sensitive column",
                )
            self._prepare_tree(sensitive_hierarchy)

    def _prepare_tree(self, h: EncodedHierarchy) -> None:
        # Sensitive codes are the hierarchy's leaf indices. For each level j ≥ 1 keep the leaf → level j-1 node
        # map, the level j-1 node → level j parent map and the cost factor j / height.
        height = h.height
        for j in range(1, height + 1):
            child_of_leaf = h.maps[j - 1]
            parent = np.zeros(h.size(j - 1), dtype=np.int64)
            parent[h.maps[j - 1]] = h.maps[j]
            self._tree.append((child_of_leaf, parent, j / height))
        self._tree_sizes = [h.size(j) for j in range(height + 1)]

    # --- per-class tests -----------------------------------------------------------------------------------
    def _shares(self, counts: np.ndarray, hist: np.ndarray) -> np.ndarray:
        return hist / counts[:, None]

    def emd(self, counts: np.ndarray, hist: np.ndarray) -> np.ndarray:
        if self.overall is None:
            raise AnonymizationError("機微属性の分布がありません", "no sensitive distribution")
        diff = self._shares(counts, hist) - self.overall[None, :]
        if self.model.t_measure == "equal":
            return 0.5 * np.abs(diff).sum(axis=1)
        # Hierarchical EMD: at each inner node, the surplus and deficit of its children cancel at the cost
        # of moving mass up to that node: cost(node) = level/height × min(Σ positive, Σ negative surplus).
        total = np.zeros(diff.shape[0])
        extra = diff
        for j, (child_of_leaf, parent, factor) in enumerate(self._tree, start=1):
            if j == 1:
                child_extra = extra  # level 0 nodes are the leaves themselves
            else:
                child_extra = np.zeros((diff.shape[0], self._tree_sizes[j - 1]))
                np.add.at(child_extra.T, child_of_leaf, diff.T)
            pos = np.zeros((diff.shape[0], self._tree_sizes[j]))
            neg = np.zeros_like(pos)
            np.add.at(pos.T, parent, np.maximum(child_extra, 0).T)
            np.add.at(neg.T, parent, np.maximum(-child_extra, 0).T)
            total += factor * np.minimum(pos, neg).sum(axis=1)
        return total

    def failing(self, counts: np.ndarray, hist: np.ndarray | None, *, relaxed: bool = False) -> np.ndarray:
        """Boolean mask of the classes that must be suppressed. `relaxed` drops the non-monotone parts."""
        m = self.model
        fail = counts < m.k
        if m.needs_sensitive and hist is None:
            raise AnonymizationError("機微属性の度数がありません", "no sensitive-value counts")
        if m.l is not None and hist is not None:
            distinct = np.count_nonzero(hist, axis=1)
            if m.l_variant == "distinct":
                fail |= distinct < math.ceil(m.l - _EPS)
            elif relaxed:
                # Entropy ≥ ln ℓ needs at least ℓ distinct values; the margin keeps the relaxation implied
                # by the tolerant entropy test below, so it never fails a class that test passes.
                fail |= distinct < math.ceil(m.l - 1e-6)
            else:
                p = self._shares(counts, hist)
                with np.errstate(divide="ignore", invalid="ignore"):
                    ent = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1)
                fail |= ent < math.log(m.l) - 1e-9
        if m.t is not None and not relaxed and hist is not None:
            fail |= self.emd(counts, hist) > m.t + 1e-9
        return fail

    def suppressed(self, counts: np.ndarray, hist: np.ndarray | None, *, relaxed: bool = False) -> int:
        return int(counts[self.failing(counts, hist, relaxed=relaxed)].sum())

    def satisfied(self, counts: np.ndarray, hist: np.ndarray | None, *, relaxed: bool = False) -> bool:
        return self.suppressed(counts, hist, relaxed=relaxed) <= self.max_suppressed

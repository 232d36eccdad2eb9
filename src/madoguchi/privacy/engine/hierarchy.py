"""Generalization hierarchies: loaded from `value;level1;…;*` files or built from a rule, validated, encoded.

A hierarchy is a table with one row per original value: column 0 the value, column i its generalization at
level i, the last column one value for everything (usually `*`). It must be a tree read bottom-up:

- every row has the same number of levels (no ragged rows);
- no value appears twice in column 0;
- two rows that share a value at level i share their value at level i+1 (groups only merge going up:
  full-domain generalization and every monotonicity argument in `search.py` rely on it);
- the last level is one single value.

A bad hierarchy is refused with the 1-based line of the file that is wrong (for ragged rows and a last level
that differs, the line that differs from what most rows have, which may be line 1). Encoding maps each level to
integer codes (`EncodedHierarchy.maps[level][leaf] -> code`), which is all the search ever looks at.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from .errors import HierarchyError

SUPPRESSED = "*"


@dataclass(frozen=True)
class Hierarchy:
    """A validated hierarchy. Build with `Hierarchy.from_rows`, `load_hierarchy_csv` or a rule function."""

    rows: tuple[tuple[str, ...], ...]
    source: str = ""
    lines: tuple[int, ...] = field(default=(), repr=False)  # 1-based source line of each row

    @classmethod
    def from_rows(
        cls, rows: Iterable[Sequence[str]], *, source: str = "", lines: Sequence[int] | None = None
    ) -> Hierarchy:
        rows_t = tuple(tuple(str(v) for v in r) for r in rows)
        lines_t = tuple(lines) if lines is not None else tuple(range(1, len(rows_t) + 1))
        _validate(rows_t, source, lines_t)
        return cls(rows=rows_t, source=source, lines=lines_t)

    @property
    def height(self) -> int:
        """Number of generalization steps: levels are 0 (original) … height (all one value)."""
        return len(self.rows[0]) - 1

    @property
    def values(self) -> list[str]:
        return [r[0] for r in self.rows]

    def line_of(self, index: int) -> int:
        return self.lines[index] if self.lines else index + 1


def _most_common(values: Sequence, lines: tuple[int, ...]) -> tuple[object, int]:
    """The value most rows have (ties go to the earliest row), and the first line that has it. The rows that
    differ from it are the wrong ones: a file whose first line alone is ragged is wrong on line 1, not 2."""
    counts: dict[object, int] = {}
    first: dict[object, int] = {}
    for value, line in zip(values, lines, strict=True):
        counts[value] = counts.get(value, 0) + 1
        first.setdefault(value, line)
    best = max(counts, key=lambda v: (counts[v], -first[v]))
    return best, first[best]


def _validate(rows: tuple[tuple[str, ...], ...], source: str, lines: tuple[int, ...]) -> None:
    if not rows:
        raise HierarchyError("階層が空です", "the hierarchy is empty", source=source)
    width, width_line = _most_common([len(r) for r in rows], lines)
    for row, line in zip(rows, lines, strict=True):
        if len(row) != width:
            raise HierarchyError(
                f"段階数が {len(row) - 1} で、多くの行（{width_line}行目など）の {width - 1} と揃っていません"
                "（行ごとに段階数が違う階層）",
                f"{len(row) - 1} levels where most rows (e.g. line {width_line}) have {width - 1}"
                " (ragged rows)",
                source=source,
                line=line,
            )
    if width < 2:
        raise HierarchyError(
            "階層には元の値と少なくとも1段階の一般化（最後は * など1つの値）が必要です",
            "a hierarchy needs the value and at least one generalization level (the last one single-valued)",
            source=source,
            line=lines[0],
        )
    top, top_line = _most_common([r[-1] for r in rows], lines)
    for row, line in zip(rows, lines, strict=True):
        if row[-1] != top:
            raise HierarchyError(
                f"最上位の段階が「{row[-1]}」で、多くの行（{top_line}行目など）の「{top}」と違います"
                "（最上位は1つの値でなければなりません）",
                f"the last level is {row[-1]!r} where most rows (e.g. line {top_line}) have {top!r}"
                " (the last level must be one value)",
                source=source,
                line=line,
            )
    for level in range(width - 1):
        parent: dict[str, tuple[str, int]] = {}
        for row, line in zip(rows, lines, strict=True):
            seen = parent.get(row[level])
            if seen is None:
                parent[row[level]] = (row[level + 1], line)
            elif level == 0:
                raise HierarchyError(
                    f"値「{row[0]}」が {seen[1]}行目にもあります（値の重複）",
                    f"the value {row[0]!r} is already on line {seen[1]} (duplicate value)",
                    source=source,
                    line=line,
                )
            elif seen[0] != row[level + 1]:
                raise HierarchyError(
                    f"段階{level}の「{row[level]}」が段階{level + 1}で「{row[level + 1]}」になりますが、"
                    f"{seen[1]}行目では「{seen[0]}」です（上の段階でグループが分かれています）",
                    f"{row[level]!r} at level {level} becomes {row[level + 1]!r} at level {level + 1}, but "
                    f"{seen[0]!r} on line {seen[1]} (a group splits going up: not monotone)",
                    source=source,
                    line=line,
                )


def parse_hierarchy_text(text: str, *, source: str = "", sep: str = ";") -> Hierarchy:
    """Parse `value;level1;…;*` rows. Blank lines are skipped but still counted for line numbers."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    for row in reader:
        if row and any(cell.strip() for cell in row):
            rows.append([cell.rstrip("\r") for cell in row])
            lines.append(start)
        start = reader.line_num + 1
    return Hierarchy.from_rows(rows, source=source, lines=lines)


def load_hierarchy_csv(path: str | Path, *, sep: str = ";") -> Hierarchy:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise HierarchyError("UTF-8 として読めません", "not readable as UTF-8", source=path.name) from exc
    return parse_hierarchy_text(text, source=path.name, sep=sep)


# --- rules ---------------------------------------------------------------------------------------------------
def _distinct(values: Iterable[object]) -> list[str]:
    if isinstance(values, pl.Series):
        values = values.cast(pl.String, strict=False).unique(maintain_order=True).to_list()
    out = dict.fromkeys("" if v is None else str(v) for v in values)
    return list(out)


def interval_hierarchy(
    values: Iterable[object], widths: Sequence[float], *, start: float = 0, source: str = "interval rule"
) -> Hierarchy:
    """Numbers grouped into intervals of growing width, then `*`.

    Each width must be a multiple of the one before (5, 10, 20 …) so that intervals nest. Integer data gives
    labels like `20-24`; other numbers give half-open `[20, 25)`.
    """
    widths = list(widths)
    for a, b in zip(widths, widths[1:], strict=False):
        ratio = b / a
        if b <= a or abs(ratio - round(ratio)) > 1e-9:
            raise HierarchyError(
                f"区間幅 {b} が前の幅 {a} の倍数ではありません（区間が入れ子になりません）",
                f"width {b} is not a multiple of the previous width {a} (intervals would not nest)",
                source=source,
            )
    distinct = _distinct(values)
    numbers: list[float] = []
    for i, v in enumerate(distinct):
        try:
            numbers.append(float(v))
        except ValueError as exc:
            raise HierarchyError(
                f"値「{v}」が数値ではありません",
                f"the value {v!r} is not a number",
                source=source,
                line=i + 1,
            ) from exc
    integral = all(float(n).is_integer() for n in numbers) and all(float(w).is_integer() for w in widths)
    rows = []
    for v, x in zip(distinct, numbers, strict=True):
        row = [v]
        for w in widths:
            lo = start + math.floor((x - start) / w) * w
            row.append(f"{int(lo)}-{int(lo + w - 1)}" if integral else f"[{lo:g}, {lo + w:g})")
        row.append(SUPPRESSED)
        rows.append(row)
    return Hierarchy.from_rows(rows, source=source)


_DATE_STEPS = ("month", "year", "decade")


def date_hierarchy(
    values: Iterable[object], steps: Sequence[str] = ("month", "year"), *, source: str = "date rule"
) -> Hierarchy:
    """ISO dates (YYYY-MM-DD) truncated day → month (YYYY-MM) → year (YYYY) [→ decade (1990s)], then `*`."""
    for s in steps:
        if s not in _DATE_STEPS:
            raise HierarchyError(
                f"日付の段階「{s}」は使えません（{', '.join(_DATE_STEPS)}）",
                f"unknown date step {s!r} (use {', '.join(_DATE_STEPS)})",
                source=source,
            )
    rows = []
    for i, v in enumerate(_distinct(values)):
        try:
            d = dt.date.fromisoformat(v.replace("/", "-"))
        except ValueError as exc:
            raise HierarchyError(
                f"値「{v}」が日付（YYYY-MM-DD）ではありません",
                f"the value {v!r} is not a date (YYYY-MM-DD)",
                source=source,
                line=i + 1,
            ) from exc
        labels = {
            "month": f"{d.year:04d}-{d.month:02d}",
            "year": f"{d.year:04d}",
            "decade": f"{d.year // 10 * 10}s",
        }
        rows.append([v, *(labels[s] for s in steps), SUPPRESSED])
    return Hierarchy.from_rows(rows, source=source)


def prefix_hierarchy(
    values: Iterable[object], keep: Sequence[int], *, mask: str = "*", source: str = "prefix rule"
) -> Hierarchy:
    """Codes and postcodes masked from the right: keep=(5, 3, 1) turns 1000001 into 10000**, 100****,
    1******, then `*`. Lengths are kept so that codes of different lengths never merge below the top."""
    keep = list(keep)
    if any(b >= a for a, b in zip(keep, keep[1:], strict=False)) or any(k < 0 for k in keep):
        raise HierarchyError(
            "残す桁数は減っていく順に指定してください（例: 5,3,1）",
            "prefix lengths must decrease (for example 5,3,1)",
            source=source,
        )
    rows = []
    for v in _distinct(values):
        rows.append([v, *(v[:k] + mask * max(len(v) - k, 0) for k in keep), SUPPRESSED])
    return Hierarchy.from_rows(rows, source=source)


def merge_values(h: Hierarchy, merged: Iterable[str], label: str) -> Hierarchy:
    """The hierarchy after the values `merged` were replaced in the data by one `label` (top-coding, rare
    categories). The label generalizes like the merged values do from the lowest level where they all agree
    (their lowest common ancestor); below that level it stays itself."""
    merged = set(merged)
    if label in h.values:
        merged.add(label)
    rows = [r for r in h.rows if r[0] in merged]
    if not rows:
        return h
    agree = next(i for i in range(1, h.height + 1) if len({r[i] for r in rows}) == 1)
    new_row = (label, *([label] * (agree - 1)), *rows[0][agree:])
    kept = [(r, line) for r, line in zip(h.rows, h.lines, strict=True) if r[0] not in merged]
    return Hierarchy.from_rows(
        [r for r, _ in kept] + [new_row],
        source=h.source,
        lines=[line for _, line in kept] + [max(h.lines, default=0) + 1],
    )


# --- encoding ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EncodedHierarchy:
    """Integer form of a hierarchy: maps[level][leaf] is the code of the leaf's label at that level."""

    hierarchy: Hierarchy
    maps: tuple[np.ndarray, ...]
    labels: tuple[tuple[str, ...], ...]
    leaves_under: tuple[np.ndarray, ...]  # per level, per code: how many leaf values it covers
    up: tuple[tuple[np.ndarray | None, ...], ...] = ()  # up[a][b][code at level a] -> code at level b ≥ a

    @property
    def height(self) -> int:
        return self.hierarchy.height

    def size(self, level: int) -> int:
        return len(self.labels[level])


def encode_hierarchy(h: Hierarchy) -> EncodedHierarchy:
    maps, labels, under = [], [], []
    for level in range(h.height + 1):
        index: dict[str, int] = {}
        codes = np.fromiter(
            (index.setdefault(r[level], len(index)) for r in h.rows), dtype=np.int64, count=len(h.rows)
        )
        maps.append(codes)
        labels.append(tuple(index))
        under.append(np.bincount(codes, minlength=len(index)))
    up = []
    for a in range(h.height + 1):
        row: list[np.ndarray | None] = []
        for b in range(h.height + 1):
            if b <= a:
                row.append(None)
                continue
            m = np.zeros(len(labels[a]), dtype=np.int64)
            m[maps[a]] = maps[b]  # well defined: the hierarchy is a tree (validated)
            row.append(m)
        up.append(tuple(row))
    return EncodedHierarchy(h, tuple(maps), tuple(labels), tuple(under), tuple(up))


def column_codes(
    h: Hierarchy, series: pl.Series, *, data_source: str = "data", row_offset: int = 1
) -> np.ndarray:
    """Leaf index of each value of `series`. A value missing from the hierarchy is refused with its row
    (1-based, plus `row_offset - 1`: pass 2 when the data file has a header line)."""
    text = series.cast(pl.String, strict=False).fill_null("")
    codes = text.replace_strict(h.values, list(range(len(h.rows))), default=None, return_dtype=pl.Int64)
    missing = codes.is_null()
    if missing.any():
        row = int(missing.arg_max())
        value = text[row]
        raise HierarchyError(
            f"列「{series.name}」の値「{value}」が階層 {h.source or ''} にありません",
            f"the value {value!r} of column {series.name!r} is missing from the hierarchy {h.source or ''}".rstrip(),
            source=data_source,
            line=row + row_offset,
        )
    return codes.to_numpy().astype(np.int64, copy=False)

"""匿名加工情報 from a table: the processing standard's steps (1)–(4), then the privacy model and the search (5).

`anonymize()` is the one entry point; it returns everything a report needs. It writes nothing.

Record suppression is deletion of the record (削除): the records of the classes that fail the model are not in
the returned table at all (not kept with `*` quasi-identifiers, which would release their other values in a
class of their own). The report gives their number; the risks are those of the returned table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from .errors import AnonymizationError
from .hierarchy import Hierarchy, column_codes, encode_hierarchy
from .lattice import Problem, group, row_classes
from .metrics import Metrics, all_metrics
from .models import Evaluator, PrivacyModel
from .processing import (
    ProcessingRecord,
    ProcessingStep,
    RareCategory,
    Role,
    TopCode,
    delete_identification_codes,
    delete_identifiers,
    normalize_roles,
    replace_linking_codes,
    treat_peculiar_values,
)
from .search import HEURISTIC_NODE_THRESHOLD, Progress, SearchOutcome, find_transformation

#: Records in released classes smaller than this are counted as "at risk" (prosecutor risk above 1/5 = 20 %).
DEFAULT_RISK_CLASS_SIZE = 5


@dataclass(frozen=True)
class Risk:
    """Prosecutor re-identification risk of the released table. Suppressed records are deleted from it (record
    suppression is deletion of the record, 削除), so every figure is over the released records only; their
    number is reported beside (`AnonymizationResult.suppressed`)."""

    highest: float  # 1 / size of the smallest released class
    average: float  # mean over released records of 1 / |class|
    share_below_threshold: float  # share of the released records that are in classes smaller than threshold
    threshold: int  # class size

    def as_dict(self) -> dict:
        return asdict(self)


def risk_of(class_sizes: np.ndarray, threshold: int) -> Risk:
    """Risk of a table from the sizes of its classes (zero sizes, i.e. deleted classes, are ignored)."""
    sizes = class_sizes[class_sizes > 0]
    released = int(sizes.sum())
    if released == 0:
        return Risk(0.0, 0.0, 0.0, threshold)
    return Risk(
        highest=float(1.0 / sizes.min()),
        average=float(sizes.shape[0] / released),  # Σ_records 1/|EC| = number of classes
        share_below_threshold=float(sizes[sizes < threshold].sum() / released),
        threshold=threshold,
    )


@dataclass
class AnonymizationResult:
    qi_columns: tuple[str, ...]
    transformation: tuple[int, ...]  # a level per quasi-identifier, in column order
    heights: tuple[int, ...]
    table: pl.DataFrame  # the released table: the suppressed records are not in it
    suppressed: int  # records suppressed, i.e. deleted from the released table
    suppressed_rows: np.ndarray  # bool per input row: True for the rows deleted
    metrics: Metrics
    risk: Risk
    risk_input: Risk
    model: PrivacyModel
    metric: str
    search: SearchOutcome
    record: ProcessingRecord

    def report(self) -> dict:
        return {
            "kind": "匿名加工情報 (anonymized information)",
            "privacy_model": {**asdict(self.model), "description": self.model.describe()},
            "metric": self.metric,
            "transformation": {
                "levels": list(self.transformation),
                "columns": {
                    c: {"level": lv, "height": h}
                    for c, lv, h in zip(self.qi_columns, self.transformation, self.heights, strict=True)
                },
            },
            "rows": int(self.suppressed_rows.shape[0]),
            "suppressed": self.suppressed,
            "rows_released": self.table.height,
            "suppression": {
                "method": "record_deletion",
                "records_deleted": self.suppressed,
                "note_ja": "抑制したレコードは削除し、提供する表に含めない",
                "note_en": "suppressed records are deleted and are not in the released table",
            },
            "metrics": self.metrics.as_dict(),
            "risk": self.risk.as_dict(),
            "risk_input": self.risk_input.as_dict(),
            "search": asdict(self.search),
            "processing_record": self.record.to_dict(),
        }


def _sensitive_codes(series: pl.Series, hierarchy: Hierarchy | None, data_source: str, row_offset: int):
    if hierarchy is not None:
        return column_codes(hierarchy, series, data_source=data_source, row_offset=row_offset), len(
            hierarchy.rows
        )
    text = series.cast(pl.String, strict=False).fill_null("")
    values, codes = np.unique(text.to_numpy().astype(str), return_inverse=True)
    return codes.astype(np.int64), int(values.shape[0])


def anonymize(
    table: pl.DataFrame,
    *,
    roles: Mapping[str, Role | str],
    hierarchies: Mapping[str, Hierarchy],
    model: PrivacyModel,
    metric: str = "entropy",
    token_key: bytes | None = None,
    top_codes: Sequence[TopCode] = (),
    rare_categories: Sequence[RareCategory] = (),
    risk_class_size: int = DEFAULT_RISK_CLASS_SIZE,
    search_method: str = "auto",
    heuristic_threshold: int = HEURISTIC_NODE_THRESHOLD,
    progress: Progress | None = None,
    data_source: str = "data",
    row_offset: int = 1,
) -> AnonymizationResult:
    """Apply the processing standard and the privacy model to `table`.

    `roles` maps columns to `Role` values (undeclared columns are insensitive); `hierarchies` gives one per
    quasi-identifier, and one for the sensitive column when t-closeness uses the hierarchical distance.
    Errors (AnonymizationError and its subclasses) say in Japanese, then English, what is wrong; a value
    missing from a hierarchy names its data row (1-based, shifted by `row_offset - 1`).
    """
    role_map = normalize_roles(table, roles)
    qi = [c for c in table.columns if role_map[c] == Role.QUASI_IDENTIFIER]
    sensitive = [c for c in table.columns if role_map[c] == Role.SENSITIVE]
    if not qi:
        raise AnonymizationError(
            "準識別子（quasi-identifier）の列を1つ以上指定してください", "no quasi-identifier"
        )
    if model.needs_sensitive and len(sensitive) != 1:
        raise AnonymizationError(
            "ℓ多様性・t近接性には機微属性の列をちょうど1つ指定してください",
            "ℓ-diversity and t-closeness need exactly one sensitive column",
        )
    missing = [c for c in qi if c not in hierarchies]
    if missing:
        raise AnonymizationError(
            f"準識別子 {', '.join(missing)} の一般化階層がありません",
            f"no generalization hierarchy for {', '.join(missing)}",
        )

    record = ProcessingRecord(
        kind="anonymized",
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        rows_in=table.height,
        columns_in=list(table.columns),
        notes_ja=[
            "匿名加工情報: 作成に用いた個人情報との照合・本人の識別をしてはならない（識別行為の禁止）",
            "行政機関等匿名加工情報は施行規則第62条により同じ基準で作成する",
        ],
    )
    work = delete_identifiers(table, role_map, record)
    work = delete_identification_codes(work, role_map, record)
    work = replace_linking_codes(work, role_map, record, token_key)
    work, hier = treat_peculiar_values(work, dict(hierarchies), record, top_codes, rare_categories)

    encoded = []
    codes = []
    for c in qi:
        h = hier[c]
        codes.append(column_codes(h, work[c], data_source=data_source, row_offset=row_offset))
        encoded.append(encode_hierarchy(h))
    sens_codes, n_sens, sens_h = None, 0, None
    if sensitive and model.needs_sensitive:
        s_col = sensitive[0]
        s_hier = hier.get(s_col) if model.t is not None and model.t_measure == "hierarchical" else None
        if model.t is not None and model.t_measure == "hierarchical" and s_hier is None:
            raise AnonymizationError(
                f"階層的EMDには機微属性「{s_col}」の階層が必要です",
                f"hierarchical EMD needs a hierarchy for the sensitive column {s_col!r}",
            )
        sens_codes, n_sens = _sensitive_codes(work[s_col], s_hier, data_source, row_offset)
        sens_h = encode_hierarchy(s_hier) if s_hier is not None else None
    problem = Problem(
        qi_names=tuple(qi),
        codes=np.stack(codes, axis=1) if table.height else np.zeros((0, len(qi)), dtype=np.int64),
        hierarchies=tuple(encoded),
        sensitive=sens_codes,
        n_sensitive=n_sens,
    )
    evaluator = Evaluator(model, problem.n_rows, sens_codes, n_sens, sens_h)
    outcome = find_transformation(
        problem,
        evaluator,
        metric,
        method=search_method,
        heuristic_threshold=heuristic_threshold,
        progress=progress,
    )

    levels = outcome.levels
    rows = row_classes(problem)
    final = group(problem, rows, levels, with_inverse=True)
    failing = evaluator.failing(final.counts, final.hist)
    suppressed_rows = failing[final.inverse] if final.inverse is not None else np.zeros(0, dtype=bool)
    suppressed = int(final.counts[failing].sum())

    # Record suppression is deletion of the record (削除): a suppressed record is not released at all. Keeping it
    # with "*" quasi-identifiers would release its sensitive and other values in a class of its own.
    keep = ~suppressed_rows
    kept_codes = problem.codes[keep]
    generalized = [
        pl.Series(c, h.labels[levels[q]], dtype=pl.String).gather(h.maps[levels[q]][kept_codes[:, q]])
        for q, (c, h) in enumerate(zip(qi, encoded, strict=True))
    ]
    out = work.filter(pl.Series(keep, dtype=pl.Boolean)) if suppressed else work
    out = out.with_columns(generalized)

    # The metrics keep their definitions over the N rows that entered the model (suppressed records counted at
    # their generalized value, or priced as their definition says); the risks are those of the released table.
    metrics = all_metrics(problem, levels, final.counts, failing)
    risk = risk_of(np.where(failing, 0, final.counts), risk_class_size)
    bottom = group(problem, rows, tuple(0 for _ in qi))
    risk_input = risk_of(bottom.counts, risk_class_size)

    record.steps.append(
        ProcessingStep(
            step="5",
            basis="施行規則第34条第5号",
            title_ja="個人情報データベース等の性質を勘案した適切な措置（プライバシーモデルによる一般化・抑制）",
            title_en="measures suited to the data: generalization and suppression under a privacy model",
            action="privacy_model",
            columns=list(qi),
            details={
                "model": model.describe(),
                "metric": metric,
                "transformation": dict(zip(qi, levels, strict=True)),
                "generalized_to": {
                    c: f"level {lv}/{h.height}" for c, lv, h in zip(qi, levels, encoded, strict=True)
                },
                "suppressed_records": suppressed,
                "suppression": "レコード削除（抑制したレコードは提供する表に含めない） / record deletion",
                "rows_released": out.height,
                "search": outcome.method,
                "optimal": outcome.optimal,
                "highest_prosecutor_risk": risk.highest,
            },
        )
    )
    record.rows_out = out.height
    record.columns_out = list(out.columns)
    return AnonymizationResult(
        qi_columns=tuple(qi),
        transformation=levels,
        heights=problem.heights,
        table=out,
        suppressed=suppressed,
        suppressed_rows=suppressed_rows,
        metrics=metrics,
        risk=risk,
        risk_input=risk_input,
        model=model,
        metric=metric,
        search=outcome,
        record=record,
    )

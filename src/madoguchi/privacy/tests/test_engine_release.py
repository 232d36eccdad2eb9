"""Record suppression deletes the record: the released table, read exactly as returned (no row filtered out),
meets its privacy model, and the report's counts and risks are those of that table."""

import math
from collections import Counter

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings

from madoguchi.privacy.engine import (
    Hierarchy,
    NoSolutionError,
    PrivacyModel,
    anonymize,
    parse_hierarchy_text,
)
from madoguchi.privacy.tests.test_search import hierarchical_emd, random_case

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_meets_model(
    released: pl.DataFrame,
    qi: list[str],
    model: PrivacyModel,
    overall: dict[str, float],
    s_hier: Hierarchy | None = None,
    sensitive: str = "s",
) -> None:
    """Every class of `released` — grouped on its quasi-identifier columns as they are, `*` rows included —
    passes k, and ℓ and t when set. t is measured against `overall`, the sensitive column's distribution in
    the input (the model's definition)."""
    for key, members in released.group_by(qi):
        size = members.height
        assert size >= model.k, f"class {key} has {size} < k = {model.k} records"
        if not model.needs_sensitive:
            continue
        counts = Counter(members[sensitive].to_list())
        if model.l is not None:
            if model.l_variant == "distinct":
                assert len(counts) >= math.ceil(model.l - 1e-12), f"class {key}: {dict(counts)}"
            else:
                entropy = -sum(c / size * math.log(c / size) for c in counts.values())
                assert entropy >= math.log(model.l) - 1e-9, f"class {key}: {dict(counts)}"
        if model.t is not None:
            p = {v: c / size for v, c in counts.items()}
            if model.t_measure == "equal":
                emd = 0.5 * sum(abs(p.get(v, 0.0) - overall.get(v, 0.0)) for v in set(p) | set(overall))
            else:
                emd = hierarchical_emd(p, overall, s_hier)
            assert emd <= model.t + 1e-9, f"class {key}: EMD {emd} > t = {model.t}"


def risk_from_table(released: pl.DataFrame, qi: list[str], threshold: int) -> dict:
    sizes = np.asarray(released.group_by(qi).len()["len"].to_list(), dtype=np.int64)
    n = int(sizes.sum())
    return {
        "highest": 1 / sizes.min(),
        "average": sizes.shape[0] / n,
        "share_below_threshold": sizes[sizes < threshold].sum() / n,
        "threshold": threshold,
    }


def assert_report_matches_table(report: dict, released: pl.DataFrame, qi: list[str], n_input: int) -> None:
    """The counts, risks and class-based metrics of the report agree with the table as released."""
    assert report["rows"] == n_input
    assert report["rows_released"] == released.height == n_input - report["suppressed"]
    assert report["suppression"]["records_deleted"] == report["suppressed"]
    assert report["suppression"]["method"] == "record_deletion"
    if released.height:
        expected = risk_from_table(released, qi, report["risk"]["threshold"])
        assert report["risk"] == pytest.approx(expected)
    # Discernibility and AECS keep their definitions: released classes as written, plus the suppressed
    # (deleted) records priced at N each and counted as one class.
    sizes = released.group_by(qi).len()["len"].to_list() if released.height else []
    suppressed = report["suppressed"]
    assert report["metrics"]["discernibility"] == sum(s * s for s in sizes) + suppressed * n_input
    classes = len(sizes) + (1 if suppressed else 0)
    assert report["metrics"]["aecs"] == pytest.approx(n_input / classes if classes else 0.0)


def test_a_suppressed_record_is_deleted_not_released_with_its_sensitive_value():
    # Nine people in their 30s with flu, one in their 40s with HIV; k = 5 with 10 % suppression keeps age at
    # level 0 and suppresses the one 40s record. Before: it stayed as "*,HIV", a class of one.
    table = pl.DataFrame(
        {"age": ["30"] * 9 + ["40"], "dx": ["flu"] * 9 + ["HIV"], "id": [str(i) for i in range(10)]}
    )
    age = parse_hierarchy_text("30;30s;*\n40;40s;*\n", source="age")
    result = anonymize(
        table,
        roles={"age": "quasi_identifier", "dx": "sensitive"},
        hierarchies={"age": age},
        model=PrivacyModel(k=5, suppression=0.1),
    )
    assert result.transformation == (0,)
    assert result.suppressed == 1 and result.suppressed_rows.tolist() == [False] * 9 + [True]
    assert result.table.height == 9
    assert "HIV" not in result.table["dx"].to_list() and "9" not in result.table["id"].to_list()
    assert "*" not in result.table["age"].to_list()
    assert_meets_model(result.table, ["age"], PrivacyModel(k=5), {})
    report = result.report()
    assert_report_matches_table(report, result.table, ["age"], 10)
    assert report["risk"]["highest"] == pytest.approx(1 / 9)
    step5 = result.record.steps[-1]
    assert step5.details["suppressed_records"] == 1 and step5.details["rows_released"] == 9
    assert result.record.rows_in == 10 and result.record.rows_out == 9


def test_risk_share_is_over_the_released_records():
    # k = 2, up to 2 of 8 suppressed: classes 30 (3), 40 (3) released, 50 (1) and 60 (1) deleted. With the
    # threshold 4 the at-risk share is 6 of the 6 released records (not 6 of the 8 input rows).
    table = pl.DataFrame({"age": ["30"] * 3 + ["40"] * 3 + ["50", "60"]})
    age = parse_hierarchy_text("30;*\n40;*\n50;*\n60;*\n", source="age")
    result = anonymize(
        table,
        roles={"age": "quasi_identifier"},
        hierarchies={"age": age},
        model=PrivacyModel(k=2, suppression=0.25),
        risk_class_size=4,
    )
    assert result.table["age"].to_list() == ["30"] * 3 + ["40"] * 3
    assert result.risk.share_below_threshold == pytest.approx(1.0)
    assert result.risk.highest == pytest.approx(1 / 3) and result.risk.average == pytest.approx(2 / 6)
    assert result.risk_input.share_below_threshold == pytest.approx(1.0)
    assert_report_matches_table(result.report(), result.table, ["age"], 8)


@FAST
@given(case=random_case())
def test_every_released_table_as_returned_meets_its_privacy_model(case):
    table, hierarchies, s_hier, model = case
    table = table.with_columns(pl.Series("row", [f"r{i}" for i in range(table.height)]))
    roles = {n: "quasi_identifier" for n in hierarchies} | {"s": "sensitive"}
    try:
        result = anonymize(table, roles=roles, hierarchies=hierarchies | {"s": s_hier}, model=model)
    except NoSolutionError:
        return
    qi = list(hierarchies)
    n = table.height
    overall = {v: c / n for v, c in Counter(table["s"].to_list()).items()}
    # The table as returned, nothing filtered.
    assert_meets_model(result.table, qi, model, overall, s_hier)
    assert result.suppressed <= math.floor(model.suppression * n + 1e-9)
    assert_report_matches_table(result.report(), result.table, qi, n)
    # The released rows are the kept input rows, in order, each at its node's labels, the rest untouched.
    kept = np.flatnonzero(~result.suppressed_rows)
    assert result.table["row"].to_list() == [f"r{i}" for i in kept]
    assert result.table["s"].to_list() == [table["s"][int(i)] for i in kept]
    for q, name in enumerate(qi):
        labels = {r[0]: r[result.transformation[q]] for r in hierarchies[name].rows}
        assert result.table[name].to_list() == [labels[table[name][int(i)]] for i in kept]

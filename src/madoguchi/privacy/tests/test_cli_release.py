"""The CSV file `madoguchi anonymize` writes, read back as written (every row, `*` or not), meets the privacy
model, and its report counts and risks are those of that file: suppressed records are deleted."""

import json
import math
import tempfile
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given, settings

from madoguchi.privacy.management.commands.anonymize import Command
from madoguchi.privacy.tests.test_engine_release import assert_meets_model, assert_report_matches_table
from madoguchi.privacy.tests.test_search import random_case

ADULT = Path(__file__).resolve().parents[1] / "data" / "adult"
QI = "sex,age,race,marital-status,education,native-country,workclass,occupation,salary-class"


def write_hierarchy(path: Path, hierarchy) -> None:
    path.write_text("".join(";".join(row) + "\n" for row in hierarchy.rows), encoding="utf-8")


def model_args(model) -> list[str]:
    args = ["--k", str(model.k), "--suppression", str(model.suppression), "--t-measure", model.t_measure]
    if model.l is not None:
        args += ["--l", str(model.l), "--l-variant", model.l_variant]
    if model.t is not None:
        args += ["--t", str(model.t)]
    return args


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=random_case())
def test_the_written_csv_meets_its_privacy_model(case):
    table, hierarchies, s_hier, model = case
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "h").mkdir()
        for name, h in hierarchies.items():
            write_hierarchy(d / "h" / f"{name}.csv", h)
        write_hierarchy(d / "h" / "s.csv", s_hier)
        table.write_csv(d / "in.csv")
        out, report = d / "out.csv", d / "report.json"
        try:
            call_command(
                Command(), "--input", str(d / "in.csv"), "--hierarchies", str(d / "h"), "--qi", ",".join(hierarchies),
                "--sensitive", "s", *model_args(model), "--out", str(out), "--report", str(report), verbosity=0,
            )  # fmt: skip
        except CommandError as exc:
            assert str(exc).startswith("どの一般化でも")  # no solution: the only refusal these inputs may get
            assert not out.exists()
            return
        written = pl.read_csv(out, infer_schema=False)
        data = json.loads(report.read_text(encoding="utf-8"))
    qi = list(hierarchies)
    n = table.height
    overall = {v: c / n for v, c in Counter(table["s"].to_list()).items()}
    assert_meets_model(written, qi, model, overall, s_hier)
    assert data["suppressed"] <= math.floor(model.suppression * n + 1e-9)
    assert_report_matches_table(data, written, qi, n)
    assert data["output"]["rows"] == written.height


def test_adult_k5_csv_as_written_meets_k_and_the_report_counts_the_deleted_records(tmp_path):
    out, report = tmp_path / "out.csv", tmp_path / "report.json"
    call_command(
        Command(), "--input", str(ADULT / "adult.csv"), "--sep", ";", "--hierarchies", str(ADULT), "--qi", QI,
        "--k", "5", "--suppression", "0.04", "--out", str(out), "--report", str(report), verbosity=0,
    )  # fmt: skip
    written = pl.read_csv(out, separator=";", infer_schema=False)
    data = json.loads(report.read_text(encoding="utf-8"))
    assert 0 < data["suppressed"] <= int(0.04 * 30162)
    assert written.height == 30162 - data["suppressed"]
    assert min(Counter(written.iter_rows()).values()) >= 5  # every row, as written
    assert_report_matches_table(data, written, QI.split(","), 30162)
    assert data["risk"]["highest"] == pytest.approx(0.2)
    step5 = data["processing_record"]["steps"][-1]
    assert step5["details"]["suppressed_records"] == data["suppressed"]
    assert data["processing_record"]["rows_out"] == written.height

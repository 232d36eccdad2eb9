"""`madoguchi anonymize` end to end. The app is not in INSTALLED_APPS yet, so the command is run from its class
(call_command accepts a command object); nothing here needs the database."""

import json
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from madoguchi.privacy.management.commands.anonymize import Command

ADULT = Path(__file__).resolve().parents[1] / "data" / "adult"
QI = "sex,age,race,marital-status,education,native-country,workclass,occupation,salary-class"


def run(*args: str) -> None:
    call_command(Command(), *args, verbosity=0)


def test_adult_with_k5_end_to_end(tmp_path):
    out, report = tmp_path / "out.csv", tmp_path / "report.json"
    run(
        "--input", str(ADULT / "adult.csv"), "--sep", ";", "--hierarchies", str(ADULT), "--qi", QI,
        "--k", "5", "--suppression", "0.04", "--metric", "entropy", "--out", str(out), "--report", str(report),
    )  # fmt: skip
    table = pl.read_csv(out, separator=";", infer_schema=False)
    data = json.loads(report.read_text(encoding="utf-8"))
    # Suppressed records (≤ 4 %) are deleted, not released; every class of the file as written has ≥ 5 records.
    assert 0 < data["suppressed"] <= int(0.04 * 30162)
    assert table.height == data["rows_released"] == 30162 - data["suppressed"]
    assert min(Counter(table.iter_rows()).values()) >= 5
    assert data["transformation"]["levels"] == [1, 0, 1, 1, 3, 2, 2, 0, 1]
    assert data["search"]["method"] == "optimal" and data["search"]["nodes_total"] == 12960
    assert data["risk"]["highest"] <= 0.2
    assert data["metrics"]["entropy"] == pytest.approx(data["search"]["objective"])
    assert [s["step"] for s in data["processing_record"]["steps"]] == ["1", "2", "3", "4", "5"]
    assert data["hierarchies"]["age"] == "adult_hierarchy_age.csv"
    assert len(data["input"]["sha256"]) == 64


def test_hierarchy_found_by_column_name_and_progress_on_stderr(tmp_path, capsys):
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "city.csv").write_text("a;*\nb;*\n", encoding="utf-8")
    (tmp_path / "in.csv").write_text("city,pay\na,1\nb,2\na,3\nb,4\n", encoding="utf-8")
    out, report = tmp_path / "o.csv", tmp_path / "r.json"
    call_command(
        Command(), "--input", str(tmp_path / "in.csv"), "--hierarchies", str(tmp_path / "h"), "--qi", "city",
        "--k", "2", "--out", str(out), "--report", str(report),
    )  # fmt: skip
    assert "評価したノード" in capsys.readouterr().err
    assert pl.read_csv(out)["city"].to_list() == ["a", "b", "a", "b"]


@pytest.mark.parametrize(
    ("hierarchy", "data", "expected"),
    [
        ("a;x;*\nb;y\n", "city\na\nb\n", "city.csv 2行目"),  # ragged
        ("a;x;P;*\nb;y;Q;*\nc;x;Q;*\n", "city\na\nb\nc\n", "city.csv 3行目"),  # not monotone
        # A value of the data missing from the hierarchy: its line in the input file.
        ("a;*\nb;*\n", "city\na\nb\nz\n", "in.csv 4行目"),
    ],
)
def test_bad_input_is_refused_in_japanese_and_nothing_is_written(tmp_path, hierarchy, data, expected):
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "city.csv").write_text(hierarchy, encoding="utf-8")
    (tmp_path / "in.csv").write_text(data, encoding="utf-8")
    out, report = tmp_path / "o.csv", tmp_path / "r.json"
    with pytest.raises(CommandError) as err:
        run("--input", str(tmp_path / "in.csv"), "--hierarchies", str(tmp_path / "h"), "--qi", "city",
            "--k", "1", "--out", str(out), "--report", str(report))  # fmt: skip
    assert expected in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h", "in.csv"]


def test_missing_hierarchy_and_impossible_model_are_refused(tmp_path):
    (tmp_path / "in.csv").write_text("city\na\nb\n", encoding="utf-8")
    args = ["--input", str(tmp_path / "in.csv"), "--hierarchies", str(tmp_path), "--qi", "city",
            "--out", str(tmp_path / "o.csv"), "--report", str(tmp_path / "r.json")]  # fmt: skip
    with pytest.raises(CommandError, match="^列「city」の階層ファイルがありません"):
        run(*args, "--k", "2")
    (tmp_path / "city.csv").write_text("a;*\nb;*\n", encoding="utf-8")
    with pytest.raises(CommandError, match="^どの一般化でも"):
        run(*args, "--k", "3")
    with pytest.raises(CommandError, match="抑制率"):
        run(*args, "--k", "1", "--suppression", "1.5")
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "r.json").exists()


def test_a_column_missing_from_the_input_is_named(tmp_path):
    (tmp_path / "in.csv").write_text("city\na\nb\n", encoding="utf-8")
    with pytest.raises(CommandError, match="^列 town が入力にありません"):
        run("--input", str(tmp_path / "in.csv"), "--hierarchies", str(tmp_path), "--qi", "town",
            "--out", str(tmp_path / "o.csv"), "--report", str(tmp_path / "r.json"))  # fmt: skip

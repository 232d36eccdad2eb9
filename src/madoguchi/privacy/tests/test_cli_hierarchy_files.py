"""`--hierarchies DIR` finds `DIR/<column>.csv` or `DIR/*_hierarchy_<column>.csv` with the column name taken
literally: `[`, `]`, `*` and `?` in a column name are not glob patterns."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from madoguchi.privacy.management.commands.anonymize import Command, find_hierarchy


def files(directory: Path, *names: str) -> Path:
    directory.mkdir(exist_ok=True)
    for name in names:
        (directory / name).write_text("a;*\nb;*\n", encoding="utf-8")
    return directory


def test_brackets_in_a_column_name_are_not_a_character_class(tmp_path):
    d = files(tmp_path / "h", "x_hierarchy_a1.csv")
    # Before: the pattern *_hierarchy_a[1].csv matched x_hierarchy_a1.csv, the hierarchy of another column.
    assert find_hierarchy(d, "a[1]") is None
    assert find_hierarchy(d, "a1") == d / "x_hierarchy_a1.csv"
    files(d, "x_hierarchy_a[1].csv")
    assert find_hierarchy(d, "a[1]") == d / "x_hierarchy_a[1].csv"
    assert find_hierarchy(d, "a1") == d / "x_hierarchy_a1.csv"


def test_wildcards_in_a_column_name_match_only_themselves(tmp_path):
    d = files(tmp_path / "h", "x_hierarchy_b*.csv", "x_hierarchy_bc.csv")
    assert find_hierarchy(d, "b?") is None
    assert find_hierarchy(d, "b*") == d / "x_hierarchy_b*.csv"  # not ambiguous with x_hierarchy_bc.csv
    assert find_hierarchy(d, "bc") == d / "x_hierarchy_bc.csv"


def test_a_column_name_with_a_path_separator_is_refused(tmp_path):
    d = files(tmp_path / "h")
    files(tmp_path, "secret.csv")
    with pytest.raises(CommandError, match="^列名「../secret」"):
        find_hierarchy(d, "../secret")


def test_the_command_does_not_use_another_columns_hierarchy(tmp_path):
    files(tmp_path / "h", "x_hierarchy_a1.csv")
    (tmp_path / "in.csv").write_text("a[1]\na\nb\na\nb\n", encoding="utf-8")
    out, report = tmp_path / "o.csv", tmp_path / "r.json"
    with pytest.raises(CommandError, match="^列「a\\[1\\]」の階層ファイルがありません"):
        call_command(
            Command(), "--input", str(tmp_path / "in.csv"), "--hierarchies", str(tmp_path / "h"), "--qi", "a[1]",
            "--k", "2", "--out", str(out), "--report", str(report), verbosity=0,
        )  # fmt: skip
    assert not out.exists() and not report.exists()

"""A bad hierarchy names the line that is wrong, also when that line is the first one."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from madoguchi.privacy.engine import HierarchyError, parse_hierarchy_text
from madoguchi.privacy.management.commands.anonymize import Command


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a;x;*\nb;*\nc;*\n", 1),  # the first line alone has an extra level
        ("a;*\nb;x;*\nc;*\n", 2),
        ("a;*\nb;*\nc;x;*\n", 3),
        ("\n\na;x;*\nb;*\nc;*\n", 3),  # leading blank lines still count
        ("a;x;*\nb;y;*\n\nc;y\n", 4),
    ],
)
def test_ragged_rows_name_their_own_line(text, line):
    with pytest.raises(HierarchyError) as err:
        parse_hierarchy_text(text, source="h.csv")
    assert err.value.line == line
    assert f"h.csv {line}行目" in str(err.value) and "段階数" in str(err.value)


def test_a_first_line_with_another_top_value_is_named():
    with pytest.raises(HierarchyError) as err:
        parse_hierarchy_text("a;x;ALL\nb;x;*\nc;y;*\n", source="h.csv")
    assert err.value.line == 1 and "最上位" in str(err.value)


def test_the_command_reports_line_one(tmp_path):
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "city.csv").write_text("a;x;*\nb;*\nc;*\n", encoding="utf-8")
    (tmp_path / "in.csv").write_text("city\na\nb\nc\n", encoding="utf-8")
    with pytest.raises(CommandError, match="^city.csv 1行目: 段階数が 2 で"):
        call_command(
            Command(), "--input", str(tmp_path / "in.csv"), "--hierarchies", str(tmp_path / "h"), "--qi", "city",
            "--k", "1", "--out", str(tmp_path / "o.csv"), "--report", str(tmp_path / "r.json"), verbosity=0,
        )  # fmt: skip

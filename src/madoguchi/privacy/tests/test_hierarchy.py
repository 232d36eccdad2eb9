"""Hierarchies: the Adult files load, bad ones are refused with the line that is wrong, rules build trees."""

from pathlib import Path

import polars as pl
import pytest

from madoguchi.privacy.engine import (
    HierarchyError,
    date_hierarchy,
    interval_hierarchy,
    load_hierarchy_csv,
    parse_hierarchy_text,
    prefix_hierarchy,
)
from madoguchi.privacy.engine.hierarchy import column_codes, encode_hierarchy, merge_values

ADULT = Path(__file__).resolve().parents[1] / "data" / "adult"


def test_adult_hierarchies_load_and_cover_the_data():
    data = pl.read_csv(ADULT / "adult.csv", separator=";", infer_schema=False)
    assert data.shape == (30162, 9)
    heights = {}
    for column in data.columns:
        h = load_hierarchy_csv(ADULT / f"adult_hierarchy_{column}.csv")
        column_codes(h, data[column])  # raises if a value is missing
        heights[column] = h.height
    assert heights == {
        "sex": 1, "age": 4, "race": 1, "marital-status": 2, "education": 3,
        "native-country": 2, "workclass": 2, "occupation": 2, "salary-class": 1,
    }  # fmt: skip


def test_ragged_rows_are_refused_with_their_line():
    text = "a;x;*\nb;x;*\n\nc;y\n"
    with pytest.raises(HierarchyError) as err:
        parse_hierarchy_text(text, source="h.csv")
    assert err.value.line == 4  # the blank line 3 still counts
    assert "4行目" in str(err.value) and "段階数" in str(err.value)


def test_non_monotone_groups_are_refused_with_the_later_line():
    # 'x' at level 1 goes to 'P' on line 1 and to 'Q' on line 3: the group splits going up.
    text = "a;x;P;*\nb;y;Q;*\nc;x;Q;*\n"
    with pytest.raises(HierarchyError) as err:
        parse_hierarchy_text(text, source="h.csv")
    assert err.value.line == 3
    assert "monotone" in err.value.message_en


def test_last_level_must_be_one_value():
    with pytest.raises(HierarchyError) as err:
        parse_hierarchy_text("a;x;*\nb;y;*\nc;z;ALL\n", source="h.csv")
    assert err.value.line == 3


def test_duplicate_values_are_refused():
    with pytest.raises(HierarchyError) as err:
        parse_hierarchy_text("a;x;*\nb;x;*\na;x;*\n")
    assert err.value.line == 3


def test_a_value_missing_from_the_hierarchy_names_the_data_row():
    h = parse_hierarchy_text("M;*\nF;*\n", source="sex.csv")
    with pytest.raises(HierarchyError) as err:
        column_codes(h, pl.Series("sex", ["M", "F", "X", "M"]), data_source="in.csv", row_offset=2)
    # Data row 3 is line 4 of a file with a header line.
    assert err.value.line == 4 and err.value.source == "in.csv"
    assert "「X」" in str(err.value)


def test_interval_rule_nests_and_labels():
    h = interval_hierarchy(["21", "24", "25", "39", "101"], widths=[5, 10, 20])
    rows = {r[0]: r[1:] for r in h.rows}
    assert rows["24"] == ("20-24", "20-29", "20-39", "*")
    assert rows["25"] == ("25-29", "20-29", "20-39", "*")
    assert rows["101"] == ("100-104", "100-109", "100-119", "*")
    with pytest.raises(HierarchyError):
        interval_hierarchy(["1"], widths=[5, 7])  # 7 is not a multiple of 5: intervals would not nest


def test_date_and_prefix_rules():
    d = date_hierarchy(["2024-04-01", "2024-05-31", "1999-12-31"])
    assert {r[0]: r[1:] for r in d.rows}["2024-05-31"] == ("2024-05", "2024", "*")
    p = prefix_hierarchy(["1000001", "1000014", "0600000"], keep=[5, 3, 1])
    assert {r[0]: r[1:] for r in p.rows}["1000014"] == ("10000**", "100****", "1******", "*")
    with pytest.raises(HierarchyError):
        prefix_hierarchy(["123"], keep=[1, 2])


def test_merged_values_generalize_like_their_common_ancestor():
    h = interval_hierarchy(["95", "101", "116"], widths=[5, 10, 20])
    merged = merge_values(h, ["101", "116"], "100+")
    rows = {r[0]: r[1:] for r in merged.rows}
    assert "101" not in rows and "116" not in rows
    # 101 and 116 first agree at level 3 (100-119); below it the label stands for itself.
    assert rows["100+"] == ("100+", "100+", "100-119", "*")


def test_encoding_maps_levels_consistently():
    h = parse_hierarchy_text("a;x;*\nb;x;*\nc;y;*\n")
    e = encode_hierarchy(h)
    assert e.labels[1] == ("x", "y") and list(e.maps[1]) == [0, 0, 1]
    assert list(e.leaves_under[1]) == [2, 1] and list(e.up[1][2]) == [0, 0]

"""The processing standard's steps (施行規則 第34条) and pseudonymization (第31条), as recorded."""

import hashlib
import hmac

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.privacy.engine import (
    AnonymizationError,
    PrivacyModel,
    RareCategory,
    TopCode,
    anonymize,
    card_number_luhn_ok,
    interval_hierarchy,
    keyed_tokens,
    my_number_check_digit_ok,
    parse_hierarchy_text,
    pseudonymize,
)

KEY = b"0123456789abcdef-test-key"
# Synthetic My Numbers (valid check digits; DOMAIN.md §1 examples and two more computed from the formula).
MY_NUMBERS = ["123456789018", "621498320257", "100000000005", "987654321093"]


def residents() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "name": [
                "山田太郎",
                "佐藤花子",
                "鈴木一郎",
                "高橋次郎",
                "田中三郎",
                "伊藤四郎",
                "渡辺五郎",
                "中村六郎",
            ],
            "my_number": MY_NUMBERS * 2,
            "resident_id": ["R1", "R2", "R3", "R4", "R5", "R6", "R7", "R1"],
            "age": ["34", "36", "101", "116", "35", "38", "102", "37"],
            "sex": ["M", "F", "F", "M", "M", "F", "F", "M"],
            "note": MY_NUMBERS[::-1] * 2,  # an undeclared column that is in fact My Numbers
            "visits": ["1", "2", "3", "4", "5", "6", "7", "8"],
        }
    )


@settings(max_examples=300)
@given(st.text(alphabet="0123456789", min_size=11, max_size=13))
def test_my_number_check_agrees_with_the_platform_validator(value):
    # The engine may not import madoguchi.core.codes (Django); the tests may, to prove the copy is the same.
    from madoguchi.core.codes import is_valid_my_number

    assert my_number_check_digit_ok(value) == is_valid_my_number(value)


def test_my_number_check_digit():
    assert all(my_number_check_digit_ok(v) for v in MY_NUMBERS)
    assert not my_number_check_digit_ok("123456789012")
    assert not my_number_check_digit_ok("12345678901")
    assert card_number_luhn_ok("4111 1111 1111 1111") and not card_number_luhn_ok("4111 1111 1111 1112")


def test_processing_standard_steps_are_applied_and_recorded():
    data = residents()
    sex = parse_hierarchy_text("M;*\nF;*\n", source="sex")
    result = anonymize(
        data,
        roles={
            "name": "identifier",
            "my_number": "identification_code",
            "resident_id": "linking_code",
            "age": "quasi_identifier",
            "sex": "quasi_identifier",
        },
        hierarchies={"age": interval_hierarchy(data["age"], widths=[5, 10, 20]), "sex": sex},
        model=PrivacyModel(k=2),
        token_key=KEY,
        top_codes=[TopCode("age", 100)],
    )
    out = result.table
    # (1) identifiers and (2) identification codes are gone, the undetected-by-role My Number column too.
    assert "name" not in out.columns and "my_number" not in out.columns and "note" not in out.columns
    # (3) the linking code is a keyed token: irreversible, the same for the same resident, not the raw value.
    tokens = out["resident_id"].to_list()
    expected = hmac.new(KEY, b"R1", hashlib.sha256).hexdigest()[:32]
    assert tokens[0] == tokens[7] == expected
    assert len(set(tokens)) == 7 and not any(t.startswith("R") for t in tokens)
    # (4) ages ≥ 100 were top-coded before generalization: no 101, 102 or 116 remains anywhere.
    assert not set(out["age"].to_list()) & {"101", "102", "116"}
    steps = {s.step: s for s in result.record.steps}
    assert [s.step for s in result.record.steps] == ["1", "2", "3", "4", "5"]
    assert steps["1"].columns == ["name"] and steps["1"].action == "deleted"
    assert steps["2"].details == {"declared": ["my_number"], "detected_as_my_number": ["note"]}
    assert steps["3"].action == "tokenized"
    assert steps["4"].details["rules"][0]["records"] == 3
    assert steps["4"].details["rules"][0]["values"] == ["101", "102", "116"]
    assert (
        steps["5"].action == "privacy_model" and steps["5"].details["suppressed_records"] == result.suppressed
    )
    assert result.record.to_dict()["kind"] == "anonymized"
    assert "R1" not in str(result.report())


def test_top_coded_values_become_the_label_at_level_zero():
    data = pl.DataFrame({"age": ["30", "101", "116", "31"]})
    result = anonymize(
        data,
        roles={"age": "quasi_identifier"},
        hierarchies={"age": interval_hierarchy(data["age"], widths=[10, 20])},
        model=PrivacyModel(k=1),
        top_codes=[TopCode("age", 100)],
    )
    assert result.table["age"].to_list() == ["30", "100+", "100+", "31"]


def test_linking_codes_are_deleted_without_a_key_and_rare_categories_grouped():
    data = pl.DataFrame(
        {
            "rid": ["a", "b", "c", "d", "e"],
            "job": ["clerk", "clerk", "clerk", "pilot", "diver"],
            "x": ["1"] * 5,
        }
    )
    job = parse_hierarchy_text("clerk;office;*\npilot;transport;*\ndiver;marine;*\n", source="job")
    result = anonymize(
        data,
        roles={"rid": "linking_code", "job": "quasi_identifier"},
        hierarchies={"job": job},
        model=PrivacyModel(k=1),
        rare_categories=[RareCategory("job", 2)],
    )
    assert "rid" not in result.table.columns
    assert result.table["job"].to_list() == ["clerk", "clerk", "clerk", "その他", "その他"]
    assert result.record.steps[2].action == "deleted"


def test_a_quasi_identifier_holding_my_numbers_is_refused():
    data = pl.DataFrame({"id": MY_NUMBERS})
    h = parse_hierarchy_text("\n".join(f"{v};*" for v in MY_NUMBERS))
    with pytest.raises(AnonymizationError, match="個人番号"):
        anonymize(data, roles={"id": "quasi_identifier"}, hierarchies={"id": h}, model=PrivacyModel(k=1))


def test_keyed_tokens_need_a_real_key():
    with pytest.raises(ValueError):
        keyed_tokens(pl.Series(["a"]), b"short")


def test_pseudonymization_keeps_data_drops_identifiers_and_financial_items():
    data = residents().with_columns(
        pl.Series(
            "card", ["4111111111111111", "5555555555554444", "4012888888881881", "378282246310005"] * 2
        ),
        pl.Series("bank", ["1234567"] * 8),
    )
    result = pseudonymize(
        data,
        roles={
            "name": "identifier",
            "my_number": "identification_code",
            "resident_id": "linking_code",
            "bank": "financial",
        },
        token_key=KEY,
    )
    out = result.table
    assert set(out.columns) == {"resident_id", "age", "sex", "visits"}
    assert out["age"].to_list() == data["age"].to_list()  # no generalization: pseudonymized, not anonymized
    assert out["resident_id"][0] == hmac.new(KEY, b"R1", hashlib.sha256).hexdigest()[:32]
    record = result.record
    assert record.kind == "pseudonymized" and record.internal_use_only
    assert any("第三者に提供しない" in n for n in record.notes_ja)
    steps = {s.step: s for s in record.steps}
    assert steps["P2"].columns == ["my_number", "note"]
    assert steps["P4"].details == {"declared": ["bank"], "detected_as_card_number": ["card"]}

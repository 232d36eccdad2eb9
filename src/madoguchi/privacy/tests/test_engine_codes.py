"""My Numbers and card numbers are found however they are written: with hyphens, spaces, full-width digits or
the dashes Japanese input produces. Both the anonymization and the pseudonymization paths delete them."""

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.privacy.engine import (
    AnonymizationError,
    PrivacyModel,
    anonymize,
    my_number_check_digit_ok,
    parse_hierarchy_text,
    pseudonymize,
)
from madoguchi.privacy.engine.codes import (
    card_number_luhn_ok,
    looks_like_card_number_column,
    looks_like_my_number_column,
    normalize_code,
)

# Valid check digits (test_processing.MY_NUMBERS and the audit's example 5970 4400 3437).
MY_NUMBERS = ["123456789018", "621498320257", "100000000005", "987654321093", "597044003437"]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
SEPARATORS = ["-", " ", "－", "‐", "‑", "–", "—", "―", "−", "ー", "ｰ", "\u3000", "﹣"]

WRITTEN = [
    "5970-4400-3437",
    "５９７０ ４４００ ３４３７",
    "1234－5678－9018",
    "6214ー9832ー0257",  # katakana long-vowel mark, as an IME often types a hyphen
    "1000\u30000000\u30000005",  # ideographic spaces
    "9876−5432−1093",  # minus sign
]


def written(number: str, sep: str, full_width: bool) -> str:
    text = f"{number[:4]}{sep}{number[4:8]}{sep}{number[8:]}"
    return text.translate(FULL_WIDTH) if full_width else text


@pytest.mark.parametrize("value", WRITTEN)
def test_a_written_my_number_normalizes_to_its_digits(value):
    digits = normalize_code(value)
    assert digits in MY_NUMBERS and my_number_check_digit_ok(digits)


@settings(max_examples=200)
@given(
    number=st.sampled_from(MY_NUMBERS),
    sep=st.sampled_from(SEPARATORS),
    full_width=st.booleans(),
)
def test_my_number_columns_are_found_however_written(number, sep, full_width):
    assert looks_like_my_number_column(pl.Series("x", [written(number, sep, full_width)]))


def test_card_numbers_with_full_width_digits_and_ideographic_spaces_pass_luhn():
    assert card_number_luhn_ok("４１１１\u3000１１１１\u3000１１１１\u3000１１１１")
    assert card_number_luhn_ok("5555－5555－5555－4444")
    assert not card_number_luhn_ok("４１１１\u3000１１１１\u3000１１１１\u3000１１１２")
    assert looks_like_card_number_column(pl.Series("c", ["４１１１ー１１１１ー１１１１ー１１１１"]))


def test_numbers_that_are_not_my_numbers_stay_undetected():
    # Phone numbers and postcodes have other lengths; a wrong check digit still fails once normalized.
    assert not looks_like_my_number_column(pl.Series("t", ["03-1234-5678", "090-1234-5678", "100-0001"]))
    assert not looks_like_my_number_column(pl.Series("t", ["1234-5678-9012"]))


def people() -> pl.DataFrame:
    n = len(WRITTEN)
    return pl.DataFrame(
        {
            "memo": WRITTEN,  # undeclared: My Numbers as people write them
            "card": ["４１１１ １１１１ １１１１ １１１１", "5555-5555-5555-4444"] * (n // 2),  # undeclared
            "sex": ["M", "F"] * (n // 2),
            "visits": [str(i) for i in range(n)],
        }
    )


def test_anonymize_deletes_an_undeclared_column_of_written_my_numbers():
    data = people()
    sex = parse_hierarchy_text("M;*\nF;*\n", source="sex")
    result = anonymize(
        data, roles={"sex": "quasi_identifier"}, hierarchies={"sex": sex}, model=PrivacyModel(k=2)
    )
    assert "memo" not in result.table.columns
    step2 = result.record.steps[1]
    assert step2.details["detected_as_my_number"] == ["memo"] and step2.action == "deleted"


def test_anonymize_refuses_written_my_numbers_as_a_quasi_identifier():
    data = pl.DataFrame({"id": WRITTEN})
    h = parse_hierarchy_text("".join(f"{v};*\n" for v in WRITTEN), source="id")
    with pytest.raises(AnonymizationError, match="個人番号"):
        anonymize(data, roles={"id": "quasi_identifier"}, hierarchies={"id": h}, model=PrivacyModel(k=1))


def test_pseudonymize_deletes_written_my_numbers_and_card_numbers():
    result = pseudonymize(people(), roles={}, token_key=None)
    assert result.table.columns == ["sex", "visits"]
    steps = {s.step: s for s in result.record.steps}
    assert steps["P2"].details["detected_as_my_number"] == ["memo"]
    assert steps["P4"].details["detected_as_card_number"] == ["card"]
    assert result.record.internal_use_only

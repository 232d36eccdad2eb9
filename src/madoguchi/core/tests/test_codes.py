"""Tests for madoguchi.core.codes: check digits and validators. Pure functions; no database.

What single-digit changes the check digits detect (the reasoning here; the properties below check it):

- 全国地方公共団体コード: a change to the check digit itself is always detected. A change of one of the first
  five digits changes S mod 11 (the weights 6..2 are units mod 11, 11 is prime), but the check digit
  (11 − r) mod 10 is 1 for both r = 0 and r = 10. So the change goes undetected exactly when it moves r
  between 0 and 10 — e.g. 012131 (苫小牧市) and 012181 (赤平市) are both valid and differ in one digit.
- 個人番号: likewise r = Σ P·Q mod 11 always changes (Q in 2..7, units mod 11), but r = 0 and r = 1 both give
  check digit 0; a change is undetected exactly when it moves r between 0 and 1 (000000000000 / 000000000060).
- 法人番号: the weights 1 and 2 are taken mod 9 and a digit change of ±9 (0 ↔ 9) is 0 mod 9, so swapping a 0
  and a 9 in the 12-digit base is never detected (8000020130001 / 8900020130001); every other change is.
"""

import csv
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from madoguchi.core.codes import (
    corporate_number_check_digit,
    is_valid_corporate_number,
    is_valid_local_government_code,
    is_valid_my_number,
    local_government_check_digit,
    local_government_corporate_number,
    my_number_check_digit,
    normalize_digits,
    validate_corporate_number,
    validate_local_government_code,
    validate_my_number,
)

# Rendering a ValidationError message goes through gettext, which needs settings. Under pytest-django they are
# the project's test settings; when run with `-p no:django` these tests configure a bare minimum themselves.
if not settings.configured:
    settings.configure(USE_I18N=False)

# Hypothesis's per-example deadline measures wall-clock time, which a loaded shared machine (or xdist) can
# exceed at random; these properties check results, not speed.
no_deadline = hypothesis_settings(deadline=None)

CSV_PATH = Path(__file__).resolve().parent.parent / "data" / "local_governments.csv"


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


def single_digit_changes(value: str) -> list[tuple[int, str]]:
    """Every (position, changed value) that differs from ``value`` in exactly one digit."""
    return [
        (i, value[:i] + c + value[i + 1 :]) for i in range(len(value)) for c in "0123456789" if c != value[i]
    ]


def lg_remainder(code: str) -> int:
    return sum(int(d) * w for d, w in zip(code[:5], (6, 5, 4, 3, 2), strict=True)) % 11


def my_number_remainder(number: str) -> int:
    return sum(int(ch) * (n + 1 if n <= 6 else n - 5) for n, ch in enumerate(reversed(number[:11]), 1)) % 11


def rendered(err: ValidationError) -> str:
    return " ".join(str(m) for m in err.messages)


# --- worked examples ------------------------------------------------------------------------------------------
def test_local_government_examples() -> None:
    assert local_government_check_digit("13101") == "6"
    assert is_valid_local_government_code("131016")  # 千代田区
    assert is_valid_local_government_code("130001")  # 東京都
    assert not is_valid_local_government_code("131017")
    assert not is_valid_local_government_code("13101")
    assert not is_valid_local_government_code("１３１０１６")  # full-width: normalise first
    assert is_valid_local_government_code(normalize_digits("１３１０１６"))


def test_my_number_examples() -> None:
    assert is_valid_my_number("123456789018")
    assert is_valid_my_number("621498320257")
    assert my_number_check_digit("12345678901") == "8"
    assert my_number_check_digit("62149832025") == "7"
    assert not is_valid_my_number("123456789012")
    assert not is_valid_my_number("12345678901")
    assert not is_valid_my_number("1234 5678 9018")
    assert is_valid_my_number(normalize_digits("１２３４－５６７８－９０１８"))


def test_corporate_number_examples() -> None:
    assert local_government_corporate_number("130001") == "8000020130001"  # 東京都
    assert is_valid_corporate_number("8000020130001")
    assert corporate_number_check_digit("000020130001") == "8"
    assert not is_valid_corporate_number("7000020130001")
    with pytest.raises(ValidationError):
        local_government_corporate_number("130002")  # bad check digit in the 団体コード


def test_every_listed_local_government_code_is_valid() -> None:
    with CSV_PATH.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    # 47 prefectures + 1,741 municipalities (DOMAIN.md).
    assert len(rows) == 47 + 1741
    codes = [row["code"] for row in rows]
    assert len(set(codes)) == len(codes)
    invalid = [c for c in codes if not is_valid_local_government_code(c)]
    assert invalid == []
    for code in codes:
        assert is_valid_corporate_number(local_government_corporate_number(code))


# --- check digit properties -----------------------------------------------------------------------------------
@no_deadline
@given(digits(5))
def test_local_government_appended_check_digit_validates(base: str) -> None:
    code = base + local_government_check_digit(base)
    assert is_valid_local_government_code(code)
    validate_local_government_code(code)


@no_deadline
@given(digits(11))
def test_my_number_appended_check_digit_validates(base: str) -> None:
    number = base + my_number_check_digit(base)
    assert is_valid_my_number(number)
    validate_my_number(number)


@no_deadline
@given(digits(12))
def test_corporate_number_prepended_check_digit_validates(base: str) -> None:
    number = corporate_number_check_digit(base) + base
    assert is_valid_corporate_number(number)
    validate_corporate_number(number)


def test_single_digit_changes_are_not_always_detected_known_pairs() -> None:
    # Real municipalities one typo apart: the check digit cannot tell them apart.
    assert is_valid_local_government_code("012131")  # 苫小牧市
    assert is_valid_local_government_code("012181")  # 赤平市
    assert {lg_remainder("012131"), lg_remainder("012181")} == {0, 10}
    assert is_valid_my_number("000000000000") and is_valid_my_number("000000000060")
    assert is_valid_corporate_number("8000020130001") and is_valid_corporate_number("8900020130001")


@no_deadline
@given(digits(5))
def test_local_government_single_digit_change(base: str) -> None:
    code = base + local_government_check_digit(base)
    for i, changed in single_digit_changes(code):
        undetected = i < 5 and {lg_remainder(code), lg_remainder(changed)} == {0, 10}
        assert is_valid_local_government_code(changed) == undetected, (code, changed)


@no_deadline
@given(digits(11))
def test_my_number_single_digit_change(base: str) -> None:
    number = base + my_number_check_digit(base)
    for i, changed in single_digit_changes(number):
        undetected = i < 11 and {my_number_remainder(number), my_number_remainder(changed)} == {0, 1}
        assert is_valid_my_number(changed) == undetected, (number, changed)


@no_deadline
@given(digits(12))
def test_corporate_number_single_digit_change(base: str) -> None:
    number = corporate_number_check_digit(base) + base
    for i, changed in single_digit_changes(number):
        # Position 0 is the check digit; in the base only a 0 ↔ 9 swap keeps the sum mod 9.
        undetected = i > 0 and {number[i], changed[i]} == {"0", "9"}
        assert is_valid_corporate_number(changed) == undetected, (number, changed)


@no_deadline
@given(digits(5), digits(11), digits(12))
def test_check_digit_changes_are_always_detected(lg_base: str, mn_base: str, corp_base: str) -> None:
    lg = lg_base + local_government_check_digit(lg_base)
    mn = mn_base + my_number_check_digit(mn_base)
    corp = corporate_number_check_digit(corp_base) + corp_base
    for c in "0123456789":
        if c != lg[5]:
            assert not is_valid_local_government_code(lg[:5] + c)
        if c != mn[11]:
            assert not is_valid_my_number(mn[:11] + c)
        if c != corp[0]:
            assert not is_valid_corporate_number(c + corp[1:])


@no_deadline
@given(digits(12))
def test_corporate_check_digit_is_never_zero(base: str) -> None:
    # 9 − (S mod 9) is in 1..9, so a valid corporate number never starts with 0.
    assert corporate_number_check_digit(base) in "123456789"
    assert not is_valid_corporate_number("0" + base)


def test_check_digit_functions_reject_bad_bases() -> None:
    for func, length in (
        (local_government_check_digit, 5),
        (my_number_check_digit, 11),
        (corporate_number_check_digit, 12),
    ):
        with pytest.raises(ValueError):
            func("1" * (length - 1))
        with pytest.raises(ValueError):
            func("１" * length)  # full-width digits are rejected, not silently accepted
        with pytest.raises(ValueError):
            func("a" * length)


# --- validators -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("validator", "value", "code"),
    [
        (validate_local_government_code, "13101", "lg_code_format"),
        (validate_local_government_code, "１３１０１６", "lg_code_format"),
        (validate_local_government_code, 131016, "lg_code_format"),
        (validate_local_government_code, "131017", "lg_code_check_digit"),
        (validate_my_number, "12345678901", "my_number_format"),
        (validate_my_number, "1234-5678-9018", "my_number_format"),
        (validate_my_number, "１２３４５６７８９０１８", "my_number_format"),
        (validate_my_number, 123456789018, "my_number_format"),
        (validate_my_number, "123456789012", "my_number_check_digit"),
        (validate_corporate_number, "800002013000", "corporate_number_format"),
        (validate_corporate_number, "7000020130001", "corporate_number_check_digit"),
    ],
)
def test_validator_error_codes(validator, value, code: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as excinfo:
        validator(value)
    assert excinfo.value.code == code
    assert rendered(excinfo.value).strip()


def test_validators_accept_valid_values() -> None:
    validate_local_government_code("131016")
    validate_my_number("123456789018")
    validate_corporate_number("8000020130001")


# Things people type for a My Number: 10–14 digits, full-width or not, with spaces or hyphens.
typed_numbers = st.text(alphabet="0123456789０１２３４５６７８９ -", min_size=10, max_size=18).filter(
    lambda v: len(normalize_digits(v)) >= 10
)


@no_deadline
@given(typed_numbers)
def test_my_number_never_appears_in_validation_errors(value: str) -> None:
    try:
        validate_my_number(value)
    except ValidationError as err:
        text = rendered(err) + repr(err.params) + str(err)
        assert value not in text
        assert normalize_digits(value) not in text
    else:
        assert is_valid_my_number(value)


@no_deadline
@given(digits(11))
def test_wrong_my_number_is_not_echoed(base: str) -> None:
    wrong = base + str((int(my_number_check_digit(base)) + 1) % 10)
    with pytest.raises(ValidationError) as excinfo:
        validate_my_number(wrong)
    assert excinfo.value.code == "my_number_check_digit"
    assert wrong not in rendered(excinfo.value)
    assert not excinfo.value.params

"""Tests for madoguchi.core.redaction: My Numbers never reach logs. Pure functions; no database."""

import io
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.core.codes import is_valid_my_number, my_number_check_digit
from madoguchi.core.redaction import (
    REDACTED,
    MyNumberRedactingFilter,
    contains_my_number,
    redact_my_numbers,
)

# Hypothesis's per-example deadline measures wall-clock time, which a loaded shared machine (or xdist) can
# exceed at random; these properties check results, not speed.
no_deadline = settings(deadline=None)

VALID = "123456789018"
VALID_2 = "621498320257"
INVALID = "123456789012"  # same base, wrong check digit
_TO_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


valid_numbers = digits(11).map(lambda base: base + my_number_check_digit(base))
invalid_numbers = digits(12).filter(lambda v: not is_valid_my_number(v))


@pytest.mark.parametrize(
    "text",
    [
        VALID,
        VALID_2,
        "１２３４５６７８９０１８",  # full-width
        "1234 5678 9018",
        "1234-5678-9018",
        "１２３４－５６７８－９０１８",  # full-width hyphen
        "１２３４　５６７８　９０１８",  # ideographic space
        "1234‐5678‐9018",  # U+2010 hyphen
        "1234５６７８9018",  # mixed widths
        "12345678 9018",  # each group separator is optional
    ],
)
def test_redacts_valid_my_numbers(text: str) -> None:
    line = f"申請者 個人番号:{text} を確認"
    assert redact_my_numbers(line) == f"申請者 個人番号:{REDACTED} を確認"
    assert contains_my_number(line)


def test_redacts_every_occurrence() -> None:
    assert redact_my_numbers(f"{VALID},{VALID_2}") == f"{REDACTED},{REDACTED}"
    assert redact_my_numbers(f"a{VALID}b") == f"a{REDACTED}b"


@pytest.mark.parametrize(
    "text",
    [
        INVALID,  # wrong check digit
        "1234 5678 9012",
        "12345678901",  # 11 digits
        "1" + VALID,  # 13-digit run containing a valid number
        VALID + "0",
        "０" + "１２３４５６７８９０１８",  # longer full-width run
        "注文番号 2020-0401-0001",
    ],
)
def test_leaves_other_numbers_alone(text: str) -> None:
    assert redact_my_numbers(text) == text
    assert not contains_my_number(text)


@no_deadline
@given(valid_numbers, st.sampled_from(["", " ", "-", "－", "\u3000"]), st.booleans())
def test_any_valid_number_is_redacted(number: str, sep: str, fullwidth: bool) -> None:
    text = sep.join((number[:4], number[4:8], number[8:]))
    if fullwidth:
        text = text.translate(_TO_FULLWIDTH)
    redacted = redact_my_numbers(f"id={text};")
    assert redacted == f"id={REDACTED};"
    assert number not in redacted


@no_deadline
@given(invalid_numbers)
def test_invalid_numbers_survive(number: str) -> None:
    assert redact_my_numbers(f"x {number} y") == f"x {number} y"


@no_deadline
@given(st.text(alphabet="0123456789", min_size=13, max_size=30))
def test_longer_digit_runs_survive(run: str) -> None:
    assert redact_my_numbers(run) == run


# --- logging filter ---------------------------------------------------------------------------------------------
@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(MyNumberRedactingFilter())
    logger = logging.getLogger("madoguchi.tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # keep the test's lines out of other handlers
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_filter_redacts_message_args(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("applicant %s, number %s", "山田", VALID)
    logger.info("number %(n)s", {"n": "１２３４ ５６７８ ９０１８"})
    logger.info("int arg %d", int(VALID_2))
    output = stream.getvalue()
    assert VALID not in output and VALID_2 not in output
    assert "１２３４ ５６７８ ９０１８" not in output
    assert output.count(REDACTED) == 3
    assert "applicant 山田" in output


def test_filter_redacts_message_text_and_keeps_invalid_numbers(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.warning(f"direct {VALID} and order {INVALID}")
    output = stream.getvalue()
    assert VALID not in output
    assert INVALID in output


def test_filter_redacts_exception_text(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        try:
            raise KeyError(VALID_2)
        except KeyError as inner:
            raise ValueError(f"lookup failed for {VALID}") from inner
    except ValueError:
        logger.exception("could not process %s", "申請")
    output = stream.getvalue()
    assert "Traceback" in output
    assert "ValueError: lookup failed for" in output
    assert VALID not in output
    assert VALID_2 not in output  # the chained cause too
    assert REDACTED in output


def test_filter_redacts_stack_info(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured

    def leaky(number: str) -> None:
        # The number is in the source line that stack_info prints.
        logger.info("here", stack_info=True)  # 123456789018

    leaky(VALID)
    assert VALID not in stream.getvalue()


def test_filter_drops_args_so_later_formatting_cannot_reinsert_them() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "n=%s", (VALID,), None)
    assert MyNumberRedactingFilter().filter(record) is True
    assert record.args is None
    assert record.getMessage() == f"n={REDACTED}"


def test_filter_survives_a_broken_format_string() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "n=%d %d", (VALID,), None)
    assert MyNumberRedactingFilter().filter(record) is True
    assert VALID not in record.getMessage()


@pytest.mark.parametrize(
    "text",
    ["1234  5678  9018", "123-456-789-018", "1234\t5678\t9018", "1234 5678 9018 2020"],
)
def test_redacts_other_groupings_and_a_number_followed_by_more_digits(text: str) -> None:
    redacted = redact_my_numbers(f"番号 {text} です")
    assert REDACTED in redacted and "9018" not in redacted


@pytest.mark.parametrize(
    "identifier",
    [
        "5e3f9012-1234-5678-9018-abcdef012345",  # a UUID whose middle groups spell a valid My Number
        "ab123456789018cd",  # a hex serial
        "123456789018" + "f" * 52,  # a SHA-256 digest
    ],
)
def test_strict_mode_ignores_digit_runs_inside_identifiers(identifier: str) -> None:
    assert not contains_my_number(identifier, strict=True)
    assert contains_my_number("番号 1234-5678-9018 です", strict=True)
    assert contains_my_number("q=123456789018&x=1", strict=True)


def test_strict_mode_ignores_twelve_digit_windows_of_a_longer_run() -> None:
    uuid = "00000000-0000-4000-8000-000000000000"
    assert not contains_my_number(uuid, strict=True)
    assert contains_my_number(uuid)  # the broad mode (logs) still errs on the side of redacting

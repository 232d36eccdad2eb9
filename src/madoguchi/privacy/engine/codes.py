"""Pure helpers for the processing standard: spot identification codes and financial items, make keyed tokens.

These are small on purpose. `madoguchi.core.codes` holds the platform's validators but imports Django; the
engine must run without Django, so the one formula it needs (the My Number check digit, DOMAIN.md §1) is
written here again in three lines rather than imported.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from collections.abc import Iterable

import polars as pl

#: A column is taken for an identification-code (or card-number) column when at least this share of its
#: non-empty values pass the check. One random 12-digit number in about eleven passes the My Number check,
#: so a column of phone or account numbers stays well below it.
DETECTION_SHARE = 0.9

#: Keyed tokens are the first 32 hex digits (128 bits) of HMAC-SHA256(key, value).
TOKEN_HEX_DIGITS = 32
MIN_KEY_BYTES = 16


#: Separators people write inside numbers, after NFKC: whitespace and the hyphen and dash family, including the
#: katakana long-vowel mark ー (U+30FC; NFKC turns the half-width ｰ into it) that Japanese input methods often
#: produce for a hyphen. NFKC already turns full-width digits, the full-width hyphen-minus － and the
#: ideographic space into their ASCII forms.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2043\u2212\u2796\u2e3a\u2e3b\u30fc\ufe58\ufe63\uff0d]+")


def normalize_code(value: str) -> str:
    """A written number as its bare digits: NFKC (full-width → ASCII), then spaces and hyphens/dashes removed.
    `５９７０ ４４００ ３４３７` and `5970-4400-3437` both become `597044003437`. Other characters are kept, so
    a value that is not a number stays one."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", value))


def my_number_check_digit_ok(value: str) -> bool:
    """True for a 12-digit string whose last digit is the My Number check digit of the first eleven."""
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        return False
    base = value[:11][::-1]  # P_1 is the rightmost digit of the base
    r = sum(int(d) * (n + 1 if n <= 6 else n - 5) for n, d in enumerate(base, start=1)) % 11
    return int(value[11]) == (0 if r <= 1 else 11 - r)


def card_number_luhn_ok(value: str) -> bool:
    """True for 13–19 digits that pass the Luhn check of payment card numbers (written with spaces, hyphens or
    full-width digits: see `normalize_code`)."""
    digits = normalize_code(value)
    if not (13 <= len(digits) <= 19) or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _share_passing(values: Iterable[str | None], check) -> tuple[float, int]:
    """Share (and number) of the non-empty values that pass `check` once normalized (`normalize_code`)."""
    seen = passing = 0
    for v in values:
        if v is None:
            continue
        text = normalize_code(str(v))
        if text == "":
            continue
        seen += 1
        passing += bool(check(text))
    return (passing / seen if seen else 0.0), passing


def looks_like_my_number_column(series: pl.Series) -> bool:
    """Almost all values are My Numbers, however written (`5970-4400-3437`, `５９７０ ４４００ ３４３７` …)."""
    share, passing = _share_passing(
        series.cast(pl.String, strict=False).unique().to_list(), my_number_check_digit_ok
    )
    return passing > 0 and share >= DETECTION_SHARE


def looks_like_card_number_column(series: pl.Series) -> bool:
    share, passing = _share_passing(
        series.cast(pl.String, strict=False).unique().to_list(), card_number_luhn_ok
    )
    return passing > 0 and share >= DETECTION_SHARE


def keyed_tokens(series: pl.Series, key: bytes) -> pl.Series:
    """Replace each value by HMAC-SHA256(key, value) (first 32 hex digits): the same value and key always give
    the same token, and without the key a token cannot be traced back or recomputed. Nulls stay null."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the token key must have at least {MIN_KEY_BYTES} bytes")
    as_text = series.cast(pl.String, strict=False)
    distinct = [v for v in as_text.unique().to_list() if v is not None]
    size = TOKEN_HEX_DIGITS // 2
    tokens = [hmac.digest(key, v.encode("utf-8"), "sha256")[:size].hex() for v in distinct]  # one-shot C HMAC
    return as_text.replace_strict(distinct, tokens, default=None, return_dtype=pl.String).alias(series.name)

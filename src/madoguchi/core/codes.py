"""Check digits of the public codes the platform handles, and Django validators with clear messages.

- 全国地方公共団体コード (local government code): 6 digits, the 6th a check digit over the first five with weights
  6,5,4,3,2: check = (11 − S mod 11) mod 10.  13101 → 131016.
- 個人番号 (My Number): 12 digits; with P_n the n-th digit of the 11-digit base counted from the right and
  Q_n = n+1 (n ≤ 6), n−5 (n ≥ 7): r = Σ P_n·Q_n mod 11; check = 0 if r ≤ 1 else 11 − r.
- 法人番号 (corporate number): 13 digits, the check digit FIRST: check = 9 − (Σ P_n·Q_n mod 9) over the 12-digit
  base counted from the right with Q_n = 1 (n odd), 2 (n even).

The pure functions take and return str; the validators raise ValidationError with a translated message and a
stable `code` so that APIs can return it. Full-width digits are not accepted silently: normalise input first
with `normalize_digits`.
"""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from madoguchi.core.checkdigits import is_valid_my_number, my_number_check_digit  # noqa: F401 (re-exported)


def normalize_digits(value: str) -> str:
    """Full-width digits to ASCII, and drop the spaces and hyphens people type between groups."""
    value = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in value if ch not in " -\u2010\u2011\u2012\u2013\u2212")


# --- 全国地方公共団体コード --------------------------------------------------------------------------------
def local_government_check_digit(base5: str) -> str:
    if len(base5) != 5 or not base5.isascii() or not base5.isdigit():
        raise ValueError("base must be 5 ASCII digits")
    s = sum(int(d) * w for d, w in zip(base5, (6, 5, 4, 3, 2), strict=True))
    return str((11 - s % 11) % 10)


def is_valid_local_government_code(code: str) -> bool:
    return (
        isinstance(code, str)
        and len(code) == 6
        and code.isascii()
        and code.isdigit()
        and local_government_check_digit(code[:5]) == code[5]
    )


def validate_local_government_code(value: str) -> None:
    if not (isinstance(value, str) and len(value) == 6 and value.isascii() and value.isdigit()):
        raise ValidationError(
            _("A local government code has 6 digits (for example 131016)."), code="lg_code_format"
        )
    if not is_valid_local_government_code(value):
        raise ValidationError(
            _("The check digit of local government code %(code)s is wrong."),
            code="lg_code_check_digit",
            params={"code": value},
        )


# --- 個人番号 (the check digit itself is in core.checkdigits, pure) ----------------------------------------
def validate_my_number(value: str) -> None:
    # The messages never echo the value: a mistyped My Number is still a My Number.
    if not (isinstance(value, str) and len(value) == 12 and value.isascii() and value.isdigit()):
        raise ValidationError(_("A My Number (個人番号) has 12 digits."), code="my_number_format")
    if not is_valid_my_number(value):
        raise ValidationError(
            _("This My Number (個人番号) is not valid: its check digit does not match. Please check it."),
            code="my_number_check_digit",
        )


# --- 法人番号 ---------------------------------------------------------------------------------------------
def corporate_number_check_digit(base12: str) -> str:
    if len(base12) != 12 or not base12.isascii() or not base12.isdigit():
        raise ValueError("base must be 12 ASCII digits")
    total = sum(int(ch) * (1 if n % 2 else 2) for n, ch in enumerate(reversed(base12), start=1))
    return str(9 - total % 9)


def is_valid_corporate_number(value: str) -> bool:
    return (
        isinstance(value, str)
        and len(value) == 13
        and value.isascii()
        and value.isdigit()
        and corporate_number_check_digit(value[1:]) == value[0]
    )


def validate_corporate_number(value: str) -> None:
    if not (isinstance(value, str) and len(value) == 13 and value.isascii() and value.isdigit()):
        raise ValidationError(
            _("A corporate number (法人番号) has 13 digits (for example 8000020130001)."),
            code="corporate_number_format",
        )
    if not is_valid_corporate_number(value):
        raise ValidationError(
            _("The check digit of corporate number %(number)s is wrong."),
            code="corporate_number_check_digit",
            params={"number": value},
        )


def local_government_corporate_number(lg_code: str) -> str:
    """A local government's 法人番号: check digit + "000020" + its 6-digit code (東京都 → 8000020130001)."""
    validate_local_government_code(lg_code)
    base = "000020" + lg_code
    return corporate_number_check_digit(base) + base

"""Check digits as pure functions (no Django import), for the pure engines; `core.codes` adds the Django
validators with translated messages on top of them.

個人番号 (My Number): 12 digits; with P_n the n-th digit of the 11-digit base counted from the right and
Q_n = n+1 (n ≤ 6), n−5 (n ≥ 7): r = Σ P_n·Q_n mod 11; check = 0 if r ≤ 1 else 11 − r.
"""


def my_number_check_digit(base11: str) -> str:
    """Check digit of a My Number from its first 11 digits (ValueError unless 11 ASCII digits)."""
    if len(base11) != 11 or not base11.isascii() or not base11.isdigit():
        raise ValueError("base must be 11 ASCII digits")
    total = 0
    for n, ch in enumerate(reversed(base11), start=1):
        total += int(ch) * (n + 1 if n <= 6 else n - 5)
    r = total % 11
    return "0" if r <= 1 else str(11 - r)


def is_valid_my_number(value: str) -> bool:
    return (
        isinstance(value, str)
        and len(value) == 12
        and value.isascii()
        and value.isdigit()
        and my_number_check_digit(value[:11]) == value[11]
    )

"""Reads that reveal nothing: whether a token exists. Plaintext only comes from services.my_number_reveal."""

from madoguchi.vault.models import MyNumberEntry

MASK = "●●●●●●●●●●●●"


def my_number_exists(token: str) -> bool:
    return MyNumberEntry.objects.filter(token=token).exists()


def my_number_masked(token: str) -> str:
    """What screens show in place of the number: a fixed mask, never any of its digits."""
    return MASK

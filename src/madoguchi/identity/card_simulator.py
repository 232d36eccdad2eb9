"""The browser's card simulator (development and demos only): demo card files under the test CA folder.

It runs the real protocol — a fresh challenge, the card's RSA signature under its PIN (which locks after
three wrong tries, on the "card"), and the same `resident_sign_in` a real card reader's client would call.
Production settings turn it off (JPKI_CARD_SIMULATOR=false).
"""

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.utils.translation import gettext as _

from madoguchi.identity import resident_services
from madoguchi.identity.jpki import VirtualCard, read_basic_info
from madoguchi.identity.jpki.errors import JpkiError

DEMO_CARD_DIR = "demo-cards"


class SimulatorError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DemoCard:
    key: str
    label: str
    path: Path


def enabled() -> bool:
    return settings.JPKI_CARD_SIMULATOR and not settings.PRODUCTION


def card_dir() -> Path:
    return settings.JPKI_TEST_CA_DIR / DEMO_CARD_DIR


def demo_cards() -> list[DemoCard]:
    if not enabled() or not card_dir().is_dir():
        return []
    cards = []
    for path in sorted(card_dir().glob("*.json")):
        info = read_basic_info(VirtualCard(path).signing_certificate)
        cards.append(
            DemoCard(key=path.stem, label=f"{info.name if info else path.stem} ({path.stem})", path=path)
        )
    return cards


def _card(key: str) -> VirtualCard:
    if not enabled():
        raise SimulatorError("simulator_off", _("The card simulator is not available."))
    # Only a card from the list: the key is never used to build an arbitrary path.
    found = next((c for c in demo_cards() if c.key == key), None)
    if found is None:
        raise SimulatorError("unknown_card", _("Choose one of the demo cards."))
    return VirtualCard(found.path)


def _card_error(exc: JpkiError) -> SimulatorError:
    return SimulatorError(exc.code, str(exc))


def sign_in(*, card: str, pin: str) -> resident_services.SignInResult:
    """Challenge → the card signs under its PIN → resident_sign_in, exactly as a card reader would."""
    virtual_card = _card(card)
    challenge = resident_services.challenge_issue()
    try:
        signature = virtual_card.sign_challenge(pin, bytes.fromhex(challenge.nonce))
    except JpkiError as exc:
        raise _card_error(exc) from None
    return resident_services.resident_sign_in(
        challenge_id=challenge.pk,
        certificate=virtual_card.auth_certificate.public_bytes(Encoding.DER),
        signature=signature,
    )


def sign_document(*, card: str, password: str, content: bytes) -> bytes:
    """A CMS detached signature over `content` with the card's signing key (password-protected)."""
    try:
        return _card(card).sign_document(password, content)
    except JpkiError as exc:
        raise _card_error(exc) from None


def reset_secret(*, card: str, which: str, new_secret: str, clerk, municipality) -> None:
    """The desk's 暗証番号再設定 for a demo card: a new PIN ("pin") or signing password ("password"), which also
    unlocks it. Only a clerk at the desk does this (the resident present with the card); always audited.

    Real cards are reset on J-LIS's own desk terminal, outside this platform; this is its stand-in.
    """
    from madoguchi.core import audit
    from madoguchi.identity.jpki import TestCA

    virtual_card = _card(card)
    if which not in ("pin", "password"):
        raise SimulatorError("invalid", _("Choose the PIN or the signing password."))
    try:
        key = TestCA.load(settings.JPKI_TEST_CA_DIR).management_key(virtual_card)
        if which == "pin":
            virtual_card.reset_pin(new_secret, management_key=key)
        else:
            virtual_card.reset_password(new_secret, management_key=key)
    except JpkiError as exc:
        raise _card_error(exc) from None
    audit.record(actor=clerk, action="identity.card_secret_reset", municipality=municipality,
                 target=("jpki.card", virtual_card.card_id), details={"which": which})  # fmt: skip

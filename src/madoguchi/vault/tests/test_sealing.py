"""Sealed My Numbers: the pure sealing module, the hand-over service, the key command and the checks."""

import base64
import io

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import call_command

from madoguchi.core.checks import sealing_rules
from madoguchi.core.models import AuditRecord
from madoguchi.core.zones import Zone
from madoguchi.identity.tests.factories import UserFactory, verified
from madoguchi.vault import sealing, services
from madoguchi.vault.models import MyNumberEntry, SealedMyNumber
from madoguchi.vault.sealing import SealError, generate_keypair, is_sealed, public_key_of, seal, unseal
from madoguchi.vault.services import Purpose, VaultZoneError

MY_NUMBER = "123456789018"  # the worked example of DOMAIN.md (synthetic)
CONTEXT = "madoguchi/mynumber/131016"


@pytest.fixture
def keys():
    return generate_keypair()


# --- The pure module ------------------------------------------------------------------------------------------
def test_round_trip_with_base64_and_key_objects(keys):
    private, public = keys
    token = seal(MY_NUMBER, public, CONTEXT)
    assert token.startswith("mns1_") and not token.startswith("mn_")
    assert len(token) == sealing.SEALED_LENGTH and is_sealed(token)
    assert unseal(token, private, CONTEXT) == MY_NUMBER
    key_object = X25519PrivateKey.from_private_bytes(base64.b64decode(private))
    assert unseal(token, key_object, CONTEXT) == MY_NUMBER
    assert public_key_of(private) == public


def test_each_seal_is_different_and_never_contains_the_number(keys):
    _private, public = keys
    tokens = {seal(MY_NUMBER, public, CONTEXT) for _ in range(20)}
    assert len(tokens) == 20  # a fresh ephemeral key (and nonce) every time
    for token in tokens:
        body = base64.urlsafe_b64decode(token[5:] + "=" * (-len(token[5:]) % 4))
        assert MY_NUMBER not in token and MY_NUMBER.encode() not in body
        assert MY_NUMBER.encode().hex() not in body.hex()


def test_a_wrong_private_key_does_not_open(keys):
    _private, public = keys
    token = seal(MY_NUMBER, public, CONTEXT)
    other_private, _other_public = generate_keypair()
    with pytest.raises(SealError) as excinfo:
        unseal(token, other_private, CONTEXT)
    assert MY_NUMBER not in str(excinfo.value) and token not in str(excinfo.value)


def test_a_wrong_context_does_not_open(keys):
    private, public = keys
    token = seal(MY_NUMBER, public, CONTEXT)
    with pytest.raises(SealError):
        unseal(token, private, "madoguchi/mynumber/011002")


@pytest.mark.parametrize("position", [0, 31, 32, 43, 44, 60, 71])
def test_tampering_with_any_part_is_refused(keys, position):
    """Ephemeral key (0–31), nonce (32–43), ciphertext (44–55) and tag (56–71): each flipped bit fails."""
    private, public = keys
    token = seal(MY_NUMBER, public, CONTEXT)
    body = bytearray(base64.urlsafe_b64decode(token[5:]))
    body[position] ^= 0x01
    tampered = "mns1_" + base64.urlsafe_b64encode(bytes(body)).decode("ascii")
    assert tampered != token and is_sealed(tampered)
    with pytest.raises(SealError):
        unseal(tampered, private, CONTEXT)


@pytest.mark.parametrize(
    "bad", ["", "mn_abcdefghijklmnopqrstuvwx", "mns1_short", "mns2_" + "A" * 96, "mns1_" + "*" * 96, None]
)
def test_malformed_tokens_are_not_sealed_and_do_not_open(keys, bad):
    private, _public = keys
    assert not is_sealed(bad)
    with pytest.raises(SealError):
        unseal(bad, private, CONTEXT)


@pytest.mark.parametrize("bad", ["12345678901", "1234567890123", "１２３４５６７８９０１８", "abcdefghijkl"])
def test_only_twelve_ascii_digits_are_sealed(keys, bad):
    with pytest.raises(ValueError):
        seal(bad, keys[1], CONTEXT)


def test_bad_keys_and_an_empty_context_are_refused(keys):
    with pytest.raises(ValueError):
        seal(MY_NUMBER, "not base64!", CONTEXT)
    with pytest.raises(ValueError):
        seal(MY_NUMBER, base64.b64encode(b"x" * 31).decode(), CONTEXT)
    with pytest.raises(ValueError):
        seal(MY_NUMBER, keys[1], "")


# --- The hand-over service ------------------------------------------------------------------------------------
@pytest.fixture
def sealing_settings(settings, keys):
    settings.MYNUMBER_SEALING_PRIVATE_KEY, settings.MYNUMBER_SEALING_PUBLIC_KEY = keys
    return settings


@pytest.mark.django_db(databases=["default", "vault"])
def test_unseal_stores_once_and_resolves_afterwards(sealing_settings, keys):
    token = seal(MY_NUMBER, keys[1], CONTEXT)
    assert services.my_number_sealed_token(sealed=token) is None
    clerk = verified(UserFactory())
    vault_token = services.my_number_unseal(
        sealed=token, context=CONTEXT, actor=clerk, purpose=Purpose.SOCIAL_SECURITY
    )
    assert vault_token.startswith("mn_")
    assert services.my_number_sealed_token(sealed=token) == vault_token
    again = services.my_number_unseal(
        sealed=token, context=CONTEXT, actor=clerk, purpose=Purpose.SOCIAL_SECURITY
    )
    assert again == vault_token
    assert MyNumberEntry.objects.count() == 1 and SealedMyNumber.objects.count() == 1
    assert AuditRecord.objects.filter(action="vault.my_number_unseal").count() == 1
    assert AuditRecord.objects.filter(action="vault.my_number_store").count() == 1
    record = AuditRecord.objects.get(action="vault.my_number_unseal")
    assert record.target_id == vault_token and record.actor_id == str(clerk.pk)
    assert record.details["sealed_sha256"] == SealedMyNumber.objects.get().sealed_sha256
    for r in AuditRecord.objects.all():
        assert MY_NUMBER not in str(r.details) + r.target_id and token not in str(r.details)
    # A second sealing of the same number is a new hand-over that finds the same vault entry.
    second = seal(MY_NUMBER, keys[1], CONTEXT)
    assert (
        services.my_number_unseal(sealed=second, context=CONTEXT, actor=None, purpose=Purpose.TAX)
        == vault_token
    )
    assert MyNumberEntry.objects.count() == 1 and SealedMyNumber.objects.count() == 2
    # Revealing the answer goes through the resolution and is audited as a reveal.
    revealed = services.my_number_reveal_answer(
        value=second, actor=clerk, purpose=Purpose.TAX, reason="住民税 賦課"
    )
    assert revealed == MY_NUMBER
    assert AuditRecord.objects.get(action="vault.my_number_reveal").target_id == vault_token


@pytest.mark.django_db(databases=["default", "vault"])
def test_a_token_that_does_not_open_writes_nothing(sealing_settings, keys):
    other = seal(MY_NUMBER, generate_keypair()[1], CONTEXT)
    with pytest.raises(ValidationError) as excinfo:
        services.my_number_unseal(sealed=other, context=CONTEXT, actor=None, purpose=Purpose.TAX)
    assert excinfo.value.code == "sealed_invalid"
    wrong_context = seal(MY_NUMBER, keys[1], CONTEXT)
    with pytest.raises(ValidationError):
        services.my_number_unseal(sealed=wrong_context, context="other", actor=None, purpose=Purpose.TAX)
    assert MyNumberEntry.objects.count() == 0 and SealedMyNumber.objects.count() == 0
    assert AuditRecord.objects.count() == 0
    with pytest.raises(LookupError):
        services.my_number_reveal_answer(value=other, actor=None, purpose=Purpose.TAX, reason="確認")


@pytest.mark.django_db(databases=["default", "vault"])
def test_unseal_needs_the_vault_zone_a_private_key_and_two_step_verification(sealing_settings, keys):
    token = seal(MY_NUMBER, keys[1], CONTEXT)
    sealing_settings.MADOGUCHI_ZONE = Zone.INTERNET
    with pytest.raises(VaultZoneError):
        services.my_number_unseal(sealed=token, context=CONTEXT, actor=None, purpose=Purpose.TAX)
    with pytest.raises(VaultZoneError):
        services.my_number_sealed_token(sealed=token)
    sealing_settings.MADOGUCHI_ZONE = Zone.MYNUMBER
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.my_number_unseal(sealed=token, context=CONTEXT, actor=UserFactory(), purpose=Purpose.TAX)
    sealing_settings.MYNUMBER_SEALING_PRIVATE_KEY = ""
    with pytest.raises(ImproperlyConfigured):
        services.my_number_unseal(sealed=token, context=CONTEXT, actor=None, purpose=Purpose.TAX)
    assert MyNumberEntry.objects.count() == 0 and SealedMyNumber.objects.count() == 0


# --- Key command and checks -----------------------------------------------------------------------------------
def test_keygen_prints_a_matching_pair():
    out = io.StringIO()
    call_command("vault", "sealing-keygen", stdout=out)
    values = dict(line.split("=", 1) for line in out.getvalue().splitlines() if line.startswith("MYNUMBER_"))
    private, public = values["MYNUMBER_SEALING_PRIVATE_KEY"], values["MYNUMBER_SEALING_PUBLIC_KEY"]
    assert public_key_of(private) == public
    assert unseal(seal(MY_NUMBER, public, CONTEXT), private, CONTEXT) == MY_NUMBER


def _ids(settings_) -> set[str]:
    return {problem.id for problem in sealing_rules(None)}


def test_checks_report_a_private_key_outside_the_vault_zones(settings, keys, monkeypatch):
    settings.MYNUMBER_SEALING_PRIVATE_KEY, settings.MYNUMBER_SEALING_PUBLIC_KEY = keys
    assert _ids(settings) == set()
    settings.MADOGUCHI_ZONE = Zone.INTERNET
    monkeypatch.setenv("MYNUMBER_SEALING_PRIVATE_KEY", keys[0])
    assert "madoguchi.E006" in _ids(settings)


def test_checks_report_bad_or_mismatched_keys_and_a_missing_public_key(settings, keys):
    settings.MYNUMBER_SEALING_PRIVATE_KEY, settings.MYNUMBER_SEALING_PUBLIC_KEY = keys
    settings.MYNUMBER_SEALING_PUBLIC_KEY = "short"
    assert _ids(settings) == {"madoguchi.E007"}
    settings.MYNUMBER_SEALING_PUBLIC_KEY = generate_keypair()[1]
    assert _ids(settings) == {"madoguchi.E008"}
    settings.MADOGUCHI_ZONE = Zone.INTERNET
    settings.MYNUMBER_SEALING_PRIVATE_KEY = ""
    settings.MYNUMBER_SEALING_PUBLIC_KEY = ""
    settings.PRODUCTION = True
    assert _ids(settings) == {"madoguchi.W009"}
    settings.MYNUMBER_SEALING_PUBLIC_KEY = keys[1]
    assert _ids(settings) == set()

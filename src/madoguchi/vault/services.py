"""The only way in and out of the vault (個人番号利用事務系).

- `my_number_store` validates a My Number, encrypts it and returns an opaque token; storing the same number
  twice returns the same token (found through a keyed hash, without decrypting anything).
- `my_number_reveal` decrypts one value for a named legal purpose; every call is audited, refused ones too.
- `my_number_unseal` takes a My Number sealed in the Internet zone (sealing.py), stores it and remembers the
  hand-over, so that `my_number_sealed_token` resolves the sealed answer to its vault token afterwards.

Other apps keep only tokens. Nothing here logs a value, and errors never echo one. The process must be in a
zone that may read the vault (`all` or `mynumber`); the Internet zone is refused at call time. A person
acting must have passed two-step verification.
"""

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _

from madoguchi.core import audit
from madoguchi.core.codes import normalize_digits, validate_my_number
from madoguchi.core.models import Municipality
from madoguchi.vault.models import MyNumberEntry, SealedMyNumber
from madoguchi.vault.routers import VAULT_DB
from madoguchi.vault.sealing import SealError, is_sealed, unseal

TOKEN_PREFIX = "mn_"  # noqa: S105  (a prefix that marks vault tokens, not a secret)


class Purpose(TextChoices):
    """The uses the マイナンバー法 allows (別表): social security, tax and disaster response."""

    SOCIAL_SECURITY = "social_security", _("social security (社会保障)")
    TAX = "tax", _("tax (税)")
    DISASTER = "disaster", _("disaster response (災害対策)")


class VaultZoneError(PermissionDenied):
    """This process's zone may not touch the vault."""


def _decode_key(value: str, what: str) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except ValueError:
        raise ImproperlyConfigured(f"{what} is not valid base64") from None
    if len(key) != 32:
        raise ImproperlyConfigured(f"{what} must be 32 bytes (base64 of 32 random bytes)")
    return key


@lru_cache(maxsize=1)
def _keys() -> tuple[str, dict[str, AESGCM], bytes]:
    current = settings.VAULT_KEY_ID
    ciphers = {current: AESGCM(_decode_key(settings.VAULT_KEY, "MADOGUCHI_VAULT_KEY"))}
    for item in settings.VAULT_PREVIOUS_KEYS:
        key_id, _sep, value = item.partition(":")
        if not key_id or not value:
            raise ImproperlyConfigured("MADOGUCHI_VAULT_PREVIOUS_KEYS entries are id:base64")
        ciphers.setdefault(key_id, AESGCM(_decode_key(value, f"previous vault key {key_id}")))
    index_key = _decode_key(settings.VAULT_INDEX_KEY, "MADOGUCHI_VAULT_INDEX_KEY")
    return current, ciphers, index_key


def _check_zone() -> None:
    if not settings.MADOGUCHI_ZONE.may_read_vault:
        raise VaultZoneError(f"the {settings.MADOGUCHI_ZONE} zone may not use the My Number vault")


def _check_actor(actor) -> None:
    """A person who touches the vault must have passed the TOTP step in this session (MFA is mandatory for
    個人番号利用事務系). System work passes actor=None or an audit.Actor, which is recorded as such."""
    if actor is None or isinstance(actor, audit.Actor):
        return
    is_verified = getattr(actor, "is_verified", None)
    if not (callable(is_verified) and is_verified()):
        raise PermissionDenied(_("Two-step verification is required to use My Numbers."))


def _lookup(value: str) -> str:
    return hmac.new(_keys()[2], value.encode("ascii"), hashlib.sha256).hexdigest()


def _clean(value: str) -> str:
    value = normalize_digits(value) if isinstance(value, str) else value
    validate_my_number(value)
    return value


def my_number_store(*, value: str, actor, purpose: str, municipality: Municipality | None = None) -> str:
    """Store a My Number and return its token (the existing token if the number is already stored).

    Raises ValidationError (code my_number_format / my_number_check_digit) for a bad value, before anything
    is written. The audit record names the purpose and the token, never the value.
    """
    _check_zone()
    _check_actor(actor)
    purpose = Purpose(purpose)
    value = _clean(value)
    lookup = _lookup(value)
    key_id, ciphers, _index = _keys()
    created = False
    with transaction.atomic(using=VAULT_DB):
        entry = MyNumberEntry.objects.filter(lookup=lookup).first()
        if entry is None:
            token = TOKEN_PREFIX + secrets.token_urlsafe(24)
            nonce = secrets.token_bytes(12)
            ciphertext = ciphers[key_id].encrypt(nonce, value.encode("ascii"), token.encode("ascii"))
            try:
                with transaction.atomic(using=VAULT_DB):
                    entry = MyNumberEntry.objects.create(
                        token=token, lookup=lookup, key_id=key_id, nonce=nonce, ciphertext=ciphertext
                    )
                created = True
            except IntegrityError:  # another request stored the same number just now
                entry = MyNumberEntry.objects.get(lookup=lookup)
    # The vault and the audit log are two databases: record after the vault write succeeded, so an audit
    # record never claims a store that did not happen.
    audit.record(
        actor=actor,
        action="vault.my_number_store",
        target=("vault.mynumberentry", entry.token),
        municipality=municipality,
        details={"purpose": purpose.value, "created": created},
    )
    return entry.token


def my_number_reveal(
    *, token: str, actor, purpose: str, reason: str, municipality: Municipality | None = None
) -> str:
    """Decrypt and return the My Number behind `token`.

    The audit record (purpose, reason, token, actor) is written before the value is decrypted, in the
    caller's transaction on the default database if there is one (then it commits with the caller's work). Raises ValidationError for a missing reason, LookupError for an unknown
    token (also audited), VaultZoneError outside the vault's zones.
    """
    _check_zone()
    _check_actor(actor)
    purpose = Purpose(purpose)
    if not reason or not reason.strip():
        raise ValidationError(_("State why the My Number is needed."), code="reason_required")
    entry = MyNumberEntry.objects.filter(token=token).first()
    audit.record(
        actor=actor,
        action="vault.my_number_reveal",
        target=("vault.mynumberentry", token),
        municipality=municipality,
        details={"purpose": purpose.value, "reason": reason.strip()[:200], "found": entry is not None},
    )
    if entry is None:
        raise LookupError("no My Number is stored under that token")
    _current, ciphers, _index = _keys()
    cipher = ciphers.get(entry.key_id)
    if cipher is None:
        raise ImproperlyConfigured(f"vault key {entry.key_id!r} is not configured")
    return cipher.decrypt(bytes(entry.nonce), bytes(entry.ciphertext), token.encode("ascii")).decode("ascii")


# --- Sealed hand-over from the Internet zone (sealing.py) ----------------------------------------------------
def _sealed_digest(sealed: str) -> str:
    return hashlib.sha256(sealed.encode("ascii")).hexdigest()


def _sealing_private_key() -> str:
    key = getattr(settings, "MYNUMBER_SEALING_PRIVATE_KEY", "")
    if not key:
        raise ImproperlyConfigured("MYNUMBER_SEALING_PRIVATE_KEY is not set for this (My Number) zone")
    return key


def my_number_sealed_token(*, sealed: str) -> str | None:
    """The vault token a sealed My Number was handed over as, or None if it has not been handed over yet.

    Reveals nothing: it reads the hand-over table by the SHA-256 of the sealed token, never decrypts.
    """
    _check_zone()
    if not is_sealed(sealed):
        return None
    entry = SealedMyNumber.objects.filter(sealed_sha256=_sealed_digest(sealed)).first()
    return entry.token if entry is not None else None


def my_number_unseal(
    *, sealed: str, context: str, actor, purpose: str, municipality: Municipality | None = None
) -> str:
    """Open a sealed My Number with this zone's private key, store it in the vault and return its token.

    Idempotent: a sealed token handed over before returns the token it resolved to, stores nothing and writes
    no audit record. Otherwise the number is stored with `my_number_store` (same purpose and actor, audited as
    `vault.my_number_store`) and the hand-over is audited as `vault.my_number_unseal` (the digest of the
    sealed token and the vault token, never the value), in the same transactions. Raises ValidationError
    (code sealed_invalid) for a token that does not open with this key and `context`, before anything is
    written; ImproperlyConfigured without a private key; VaultZoneError outside the vault's zones.
    """
    _check_zone()
    _check_actor(actor)
    purpose = Purpose(purpose)
    digest = _sealed_digest(sealed) if is_sealed(sealed) else ""
    if digest:
        existing = SealedMyNumber.objects.filter(sealed_sha256=digest).first()
        if existing is not None:
            return existing.token
    try:
        value = unseal(sealed, _sealing_private_key(), context)
    except SealError:
        raise ValidationError(
            _("The sealed My Number cannot be opened (wrong key, wrong context or damaged)."),
            code="sealed_invalid",
        ) from None
    with transaction.atomic(), transaction.atomic(using=VAULT_DB):
        token = my_number_store(value=value, actor=actor, purpose=purpose, municipality=municipality)
        created = False
        try:
            with transaction.atomic(using=VAULT_DB):
                SealedMyNumber.objects.create(sealed_sha256=digest, token=token)
            created = True
        except IntegrityError:  # handed over by another process just now
            token = SealedMyNumber.objects.get(sealed_sha256=digest).token
        if created:
            audit.record(
                actor=actor,
                action="vault.my_number_unseal",
                target=("vault.mynumberentry", token),
                municipality=municipality,
                details={"purpose": purpose.value, "sealed_sha256": digest},
            )
    return token


def my_number_reveal_answer(
    *, value: str, actor, purpose: str, reason: str, municipality: Municipality | None = None
) -> str:
    """`my_number_reveal` for a My Number answer, which is a vault token or a sealed token (Internet zone).

    A sealed token is resolved through the hand-over table (`my_number_unseal` must have run: LookupError
    otherwise); the reveal itself is `my_number_reveal`, audited as always.
    """
    token = value
    if is_sealed(value):
        _check_zone()
        token = my_number_sealed_token(sealed=value)
        if token is None:
            raise LookupError("this sealed My Number has not been handed over to the vault yet")
    return my_number_reveal(
        token=token, actor=actor, purpose=purpose, reason=reason, municipality=municipality
    )

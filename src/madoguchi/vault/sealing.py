"""Sealed My Numbers: how the Internet zone hands a My Number to the My Number zone without reading the vault.

The Internet zone (ぴったりサービス side) may not touch the vault, but it may take a My Number and seal it to the
My Number zone's static X25519 public key. Only the holder of the private key (the My Number zone) can open
it; it then stores the number in the vault (`services.my_number_unseal`).

Format of a sealed token (text, safe in JSON answers, signed canonical bytes and URLs of no one):

    "mns1_" + base64url-without-padding( ephemeral_public(32) || nonce(12) || AES-256-GCM(ciphertext+tag) )

- key agreement: a fresh ephemeral X25519 key per seal with the recipient's static public key;
- key derivation: HKDF-SHA256 over the shared secret, salt = ephemeral public || recipient public, info =
  the version label (a token of another version, or of a future format, never decrypts as this one);
- encryption: AES-256-GCM, associated data = the version label and the caller's `context` (e.g. the
  municipality), so a token moved to another context does not open.

The plaintext is always 12 ASCII digits, so every token has the same length (101 characters) and says nothing
about the number. This module is pure (no Django): keys come in as base64 text, raw bytes or key objects.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEALED_PREFIX = "mns1_"
VERSION_LABEL = b"madoguchi/mynumber-seal/v1"
_KEY_BYTES = 32
_NONCE_BYTES = 12
_NUMBER_BYTES = 12
_TAG_BYTES = 16
_BODY_BYTES = _KEY_BYTES + _NONCE_BYTES + _NUMBER_BYTES + _TAG_BYTES  # 72
SEALED_LENGTH = len(SEALED_PREFIX) + (_BODY_BYTES * 4 + 2) // 3  # 101 characters (no padding)

__all__ = [
    "SEALED_LENGTH",
    "SEALED_PREFIX",
    "SealError",
    "generate_keypair",
    "is_sealed",
    "public_key_of",
    "seal",
    "unseal",
]


class SealError(ValueError):
    """A sealed token that does not open: malformed, wrong key, wrong context or tampered. Never echoes it."""


def _raw_key(value: str | bytes, what: str) -> bytes:
    if isinstance(value, str):
        try:
            value = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{what} is not valid base64") from None
    if not isinstance(value, bytes) or len(value) != _KEY_BYTES:
        raise ValueError(f"{what} must be 32 bytes (base64 of a raw X25519 key)")
    return value


def _public(key: X25519PublicKey | str | bytes) -> X25519PublicKey:
    if isinstance(key, X25519PublicKey):
        return key
    return X25519PublicKey.from_public_bytes(_raw_key(key, "the sealing public key"))


def _private(key: X25519PrivateKey | str | bytes) -> X25519PrivateKey:
    if isinstance(key, X25519PrivateKey):
        return key
    return X25519PrivateKey.from_private_bytes(_raw_key(key, "the sealing private key"))


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def generate_keypair() -> tuple[str, str]:
    """A new (private, public) pair, each base64 of the raw 32 bytes."""
    private = X25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return _b64(raw_private), _b64(_raw_public(private.public_key()))


def public_key_of(private_key: X25519PrivateKey | str | bytes) -> str:
    """The base64 public key that belongs to a private key."""
    return _b64(_raw_public(_private(private_key).public_key()))


def _aead_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral_public + recipient_public,
        info=VERSION_LABEL,
    ).derive(shared)
    return AESGCM(key)


def _associated_data(context: str) -> bytes:
    if not isinstance(context, str) or not context:
        raise ValueError("a sealing context is required")
    return VERSION_LABEL + b"\x00" + context.encode("utf-8")


def seal(my_number: str, public_key: X25519PublicKey | str | bytes, context: str) -> str:
    """Seal a 12-digit My Number (already validated by the caller) to `public_key`, bound to `context`."""
    if not (
        isinstance(my_number, str)
        and len(my_number) == _NUMBER_BYTES
        and my_number.isascii()
        and my_number.isdigit()
    ):
        raise ValueError("only a 12-digit My Number can be sealed")
    aad = _associated_data(context)
    recipient = _public(public_key)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = _raw_public(ephemeral.public_key())
    shared = ephemeral.exchange(recipient)
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _aead_key(shared, ephemeral_public, _raw_public(recipient)).encrypt(
        nonce, my_number.encode("ascii"), aad
    )
    body = base64.urlsafe_b64encode(ephemeral_public + nonce + sealed).rstrip(b"=").decode("ascii")
    return SEALED_PREFIX + body


def _body(sealed: str) -> bytes | None:
    if not isinstance(sealed, str) or len(sealed) != SEALED_LENGTH or not sealed.startswith(SEALED_PREFIX):
        return None
    text = sealed[len(SEALED_PREFIX) :]
    try:
        body = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(body) != _BODY_BYTES or base64.urlsafe_b64encode(body).rstrip(b"=").decode("ascii") != text:
        return None
    return body


def is_sealed(value: object) -> bool:
    """True for a well-formed sealed token (says nothing about whether it opens)."""
    return isinstance(value, str) and _body(value) is not None


def unseal(sealed: str, private_key: X25519PrivateKey | str | bytes, context: str) -> str:
    """Open a sealed token with the recipient's private key; SealError if it does not open in `context`."""
    aad = _associated_data(context)
    body = _body(sealed)
    if body is None:
        raise SealError("not a sealed My Number token")
    recipient = _private(private_key)
    ephemeral_public = body[:_KEY_BYTES]
    nonce = body[_KEY_BYTES : _KEY_BYTES + _NONCE_BYTES]
    ciphertext = body[_KEY_BYTES + _NONCE_BYTES :]
    try:
        shared = recipient.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
        plain = _aead_key(shared, ephemeral_public, _raw_public(recipient.public_key())).decrypt(
            nonce, ciphertext, aad
        )
    except (InvalidTag, ValueError):  # ValueError: a low-order point gives an all-zero shared secret
        raise SealError("the sealed My Number does not open with this key and context") from None
    value = plain.decode("ascii", errors="replace")
    if len(value) != _NUMBER_BYTES or not value.isdigit():
        raise SealError("the sealed value is not a My Number")
    return value

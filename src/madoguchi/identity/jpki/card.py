"""A virtual My Number Card: the JPKI application of the chip, kept in a JSON file.

The file holds both certificates (PEM), the issuing CA certificates, and two private keys:

- the user-authentication key, PKCS#8 encrypted under the 4-digit PIN (3 wrong tries lock it);
- the signing key, PKCS#8 encrypted under the 6–16 character password (5 wrong tries lock it).

A PIN/password is checked by decrypting its key. Retry counters live in the file: a wrong entry increments
the counter, a correct one resets it, and a locked key refuses even the correct entry. Only the municipal
desk unlocks it (`reset_pin` / `reset_password`), which needs the card's *management key*: a random secret
held by the issuer (the test CA keeps it under ``<ca dir>/cards/``), never in the card file. The file
carries a second copy of each private key encrypted under that management key, so a reset re-encrypts the
key under the new PIN without knowing the old one — as the desk terminal does with a real chip.

This is a test device, not a secure one. A real chip enforces the counters in hardware; here they hold only
through this API, and a 4-digit PIN falls to an offline search of 10,000 candidates. Keep card files like
private keys and never let a virtual card near production (``JPKI_CARD_SIMULATOR``).

Real-card rules not modelled: the JPKI password must mix upper-case letters and digits (here: any 6–16
ASCII letters/digits); the card's other applications (券面事項入力補助 etc.) and their PINs.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from madoguchi.identity.jpki._files import locked, write_atomic
from madoguchi.identity.jpki.errors import (
    InvalidPasswordFormat,
    InvalidPinFormat,
    JpkiError,
    Malformed,
    PasswordLocked,
    PinLocked,
    WrongPassword,
    WrongPin,
)

CARD_FORMAT = "madoguchi-virtual-jpki-card/1"
PIN_ATTEMPTS = 3
PASSWORD_ATTEMPTS = 5
MAX_NONCE_BYTES = 1024

_PIN_RE = re.compile(r"[0-9]{4}")
_PASSWORD_RE = re.compile(r"[A-Za-z0-9]{6,16}")

# slot name -> (attempt limit, wrong error, locked error)
_SLOTS: dict[str, tuple[int, type[JpkiError], type[JpkiError]]] = {
    "auth": (PIN_ATTEMPTS, WrongPin, PinLocked),
    "sign": (PASSWORD_ATTEMPTS, WrongPassword, PasswordLocked),
}


def validate_pin(pin: object) -> str:
    """Exactly 4 ASCII digits, or InvalidPinFormat."""
    if not isinstance(pin, str) or not _PIN_RE.fullmatch(pin):
        raise InvalidPinFormat()
    return pin


def validate_password(password: object) -> str:
    """6–16 ASCII letters or digits, or InvalidPasswordFormat."""
    if not isinstance(password, str) or not _PASSWORD_RE.fullmatch(password):
        raise InvalidPasswordFormat()
    return password


def _encrypt(key: rsa.RSAPrivateKey, secret: bytes) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret),
    ).decode("ascii")


def _management_secret(management_key: bytes) -> bytes:
    if not isinstance(management_key, bytes) or len(management_key) < 16:
        raise ValueError("the management key must be at least 16 random bytes")
    return management_key.hex().encode("ascii")


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _same_key(key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bool:
    public = cert.public_key()
    return (
        isinstance(public, rsa.RSAPublicKey) and public.public_numbers() == key.public_key().public_numbers()
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class VirtualCard:
    """One card file. Cheap to construct; every operation re-reads the file under a lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._read()  # fail early on a missing or malformed file

    # --- Creation (by the issuer) ---------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: Path | str,
        *,
        auth_certificate: x509.Certificate,
        auth_key: rsa.RSAPrivateKey,
        signing_certificate: x509.Certificate,
        signing_key: rsa.RSAPrivateKey,
        pin: str,
        password: str,
        management_key: bytes,
        ca_certificates: tuple[x509.Certificate, ...] | list[x509.Certificate] = (),
        card_id: str | None = None,
    ) -> VirtualCard:
        """Write a new card file (replacing any file at `path`) and return it."""
        validate_pin(pin)
        validate_password(password)
        if not _same_key(auth_key, auth_certificate) or not _same_key(signing_key, signing_certificate):
            raise ValueError("a private key does not match its certificate")
        secret = _management_secret(management_key)
        data = {
            "format": CARD_FORMAT,
            "card_id": card_id or secrets.token_hex(8),
            "auth": {
                "certificate": _cert_pem(auth_certificate),
                "key": _encrypt(auth_key, pin.encode("ascii")),
                "recovery_key": _encrypt(auth_key, secret),
                "failures": 0,
            },
            "sign": {
                "certificate": _cert_pem(signing_certificate),
                "key": _encrypt(signing_key, password.encode("ascii")),
                "recovery_key": _encrypt(signing_key, secret),
                "failures": 0,
            },
            "ca_certificates": [_cert_pem(cert) for cert in ca_certificates],
            "updated_at": _now(),
        }
        path = Path(path)
        with locked(cls._lock_path(path)):
            cls._write_file(path, data)
        return cls(path)

    # --- File handling --------------------------------------------------------------------------------------
    @staticmethod
    def _lock_path(path: Path) -> Path:
        return path.with_name(f".{path.name}.lock")

    @staticmethod
    def _write_file(path: Path, data: dict[str, Any]) -> None:
        data["updated_at"] = _now()
        write_atomic(path, json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as exc:
            raise Malformed(f"card file unreadable: {type(exc).__name__}") from exc
        if not isinstance(data, dict) or data.get("format") != CARD_FORMAT:
            raise Malformed("not a virtual card file")
        for slot in _SLOTS:
            entry = data.get(slot)
            if not isinstance(entry, dict) or not isinstance(entry.get("failures"), int):
                raise Malformed(f"card file lacks the {slot} slot")
            for field in ("certificate", "key", "recovery_key"):
                if not isinstance(entry.get(field), str):
                    raise Malformed(f"card file lacks {slot}.{field}")
        return data

    def _certificate(self, slot: str) -> x509.Certificate:
        try:
            return x509.load_pem_x509_certificate(self._read()[slot]["certificate"].encode("ascii"))
        except ValueError as exc:
            raise Malformed(f"bad {slot} certificate in the card file") from exc

    def _unlock(self, slot: str, secret: str) -> rsa.RSAPrivateKey:
        """Check the PIN/password by decrypting the key; count failures; refuse when locked.

        Like a chip, the attempt is counted (and saved) BEFORE the check and cleared after a success, so an
        attempt interrupted half-way still counts.
        """
        limit, wrong, locked_error = _SLOTS[slot]
        with locked(self._lock_path(self.path)):
            data = self._read()
            entry = data[slot]
            if entry["failures"] >= limit:
                raise locked_error()
            entry["failures"] += 1
            self._write_file(self.path, data)
            try:
                key = serialization.load_pem_private_key(entry["key"].encode("ascii"), secret.encode("ascii"))
            except ValueError:
                left = limit - entry["failures"]
                if left <= 0:
                    raise locked_error("locked by this attempt") from None
                raise wrong(left) from None  # type: ignore[call-arg]
            except TypeError as exc:
                raise Malformed(f"{slot} key in the card file is not encrypted") from exc
            entry["failures"] = 0
            self._write_file(self.path, data)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise Malformed(f"{slot} key is not an RSA key")
        return key

    def _reset(self, slot: str, new_secret: str, management_key: bytes) -> None:
        with locked(self._lock_path(self.path)):
            data = self._read()
            entry = data[slot]
            try:
                key = serialization.load_pem_private_key(
                    entry["recovery_key"].encode("ascii"), _management_secret(management_key)
                )
            except (ValueError, TypeError) as exc:
                raise ValueError("the management key does not belong to this card") from exc
            if not isinstance(key, rsa.RSAPrivateKey):
                raise Malformed(f"{slot} key is not an RSA key")
            entry["key"] = _encrypt(key, new_secret.encode("ascii"))
            entry["failures"] = 0
            self._write_file(self.path, data)

    # --- Reading the card -----------------------------------------------------------------------------------
    @property
    def card_id(self) -> str:
        return str(self._read()["card_id"])

    @property
    def auth_certificate(self) -> x509.Certificate:
        """The 利用者証明用電子証明書 (readable without the PIN, as on a real card)."""
        return self._certificate("auth")

    @property
    def signing_certificate(self) -> x509.Certificate:
        """The 署名用電子証明書. A real card needs the password to read it; here it is public to the API."""
        return self._certificate("sign")

    @property
    def ca_certificates(self) -> list[x509.Certificate]:
        try:
            return [
                x509.load_pem_x509_certificate(pem.encode("ascii")) for pem in self._read()["ca_certificates"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise Malformed("bad CA certificates in the card file") from exc

    def status(self) -> dict[str, Any]:
        """Serials, validity and retry state of both certificates. No personal data."""
        data = self._read()
        result: dict[str, Any] = {"card_id": data["card_id"], "updated_at": data.get("updated_at")}
        for slot, (limit, _wrong, _locked) in _SLOTS.items():
            cert = self._certificate(slot)
            failures = data[slot]["failures"]
            result[slot] = {
                "serial": format(cert.serial_number, "x"),
                "issuer": cert.issuer.rfc4514_string(),
                "not_before": cert.not_valid_before_utc,
                "not_after": cert.not_valid_after_utc,
                "failures": failures,
                "retries_left": max(limit - failures, 0),
                "locked": failures >= limit,
            }
        return result

    # --- Using the keys -------------------------------------------------------------------------------------
    def sign_challenge(self, pin: str, nonce: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 with SHA-256 over the nonce, with the user-authentication key."""
        validate_pin(pin)
        if not isinstance(nonce, bytes) or not 1 <= len(nonce) <= MAX_NONCE_BYTES:
            raise ValueError(f"the nonce must be 1–{MAX_NONCE_BYTES} bytes")
        key = self._unlock("auth", pin)
        return key.sign(nonce, padding.PKCS1v15(), hashes.SHA256())

    def sign_document(self, password: str, content: bytes) -> bytes:
        """A detached CMS (PKCS#7) SignedData in DER over `content`, with signed attributes, by the signing key."""
        validate_password(password)
        if not isinstance(content, bytes):
            raise TypeError("content must be bytes")
        key = self._unlock("sign", password)
        builder = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(content)
            .add_signer(self.signing_certificate, key, hashes.SHA256(), rsa_padding=padding.PKCS1v15())
        )
        for ca_cert in self.ca_certificates:
            builder = builder.add_certificate(ca_cert)
        return builder.sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )

    def export_signing_key_pem(self, password: str, out: Path | str) -> Path:
        """Write the signing key UNENCRYPTED (PKCS#8 PEM, mode 0600) to `out`, e.g. for `openssl cms -sign`.

        Counts as a password attempt like any other use.
        """
        validate_password(password)
        key = self._unlock("sign", password)
        out = Path(out)
        write_atomic(
            out,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        return out

    # --- The municipal desk ---------------------------------------------------------------------------------
    def reset_pin(self, new_pin: str, *, management_key: bytes) -> None:
        """Set a new PIN and unlock (the desk's 暗証番号再設定). Audit it in the calling service."""
        self._reset("auth", validate_pin(new_pin), management_key)

    def reset_password(self, new_password: str, *, management_key: bytes) -> None:
        """Set a new password and unlock (the desk's パスワード再設定). Audit it in the calling service."""
        self._reset("sign", validate_password(new_password), management_key)

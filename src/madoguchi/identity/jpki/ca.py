"""A test certification authority that plays J-LIS: it issues virtual My Number Cards and publishes a CRL.

Layout of the CA directory::

    root.pem            root CA certificate (self-signed, RSA 3072, 10 years) — the trust anchor
    ca.pem              issuing CA certificate (RSA 3072, signed by the root) — issues both card certificates
    chain.pem           ca.pem + root.pem
    private/root.key    private keys, unencrypted PEM, mode 0600 (a TEST CA: never use it for real people)
    private/ca.key
    index.json          every certificate issued (issuer, serial, kind, card, validity, revocation)
    crl/<name>.crl      the latest CRL of the issuing CA (DER)
    cards/<id>.key      each card's management key (needed by the desk to reset a PIN or password)
    linkage/*.csv       old→new serial linkage files written by the management command

Simplifications: J-LIS runs separate CAs for signing and user-authentication certificates; here one issuing
CA under one root issues both kinds (nothing in the verifier assumes that). The root publishes no ARL, so
revocation of the issuing CA itself is not modelled. Nothing here imports Django.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from madoguchi.identity.jpki import profiles
from madoguchi.identity.jpki._files import locked, write_atomic
from madoguchi.identity.jpki.card import VirtualCard, validate_password, validate_pin
from madoguchi.identity.jpki.profiles import BasicInfo, Kind

CA_FORMAT = "madoguchi-jpki-test-ca/1"
CA_KEY_SIZE = 3072
CARD_KEY_SIZE = 2048
CA_VALIDITY = timedelta(days=3652)  # 10 years
LINKAGE_HEADER = ("kind", "issuer", "old_serial", "new_serial")


def serial_hex(serial: int) -> str:
    """Lower-case hexadecimal without 0x or leading zeros: how serials are stored and shown everywhere."""
    return format(serial, "x")


def parse_serial(serial: int | str) -> int:
    """An int, or hex text with optional 0x prefix and colons (``0A:1B``)."""
    if isinstance(serial, int):
        value = serial
    else:
        text = serial.strip().lower().removeprefix("0x").replace(":", "")
        if not re.fullmatch(r"[0-9a-f]{1,40}", text):
            raise ValueError(f"not a hexadecimal serial number: {serial!r}")
        value = int(text, 16)
    if value <= 0:
        raise ValueError("serial numbers are positive")
    return value


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value.astimezone(UTC)


def _reason(reason: x509.ReasonFlags | str) -> x509.ReasonFlags:
    if isinstance(reason, x509.ReasonFlags):
        flag = reason
    else:
        wanted = reason.strip()
        for candidate in x509.ReasonFlags:
            if wanted in (candidate.name, candidate.value):
                flag = candidate
                break
        else:
            names = ", ".join(
                flag.name for flag in x509.ReasonFlags if flag is not x509.ReasonFlags.remove_from_crl
            )
            raise ValueError(f"unknown revocation reason {reason!r} (one of: {names})")
    if flag is x509.ReasonFlags.remove_from_crl:
        raise ValueError("removeFromCRL is only for delta CRLs")
    return flag


@dataclasses.dataclass(frozen=True)
class LinkageRow:
    """J-LIS style old→new serial linkage for one certificate of a renewed card."""

    kind: Kind
    issuer: str  # RFC 4514 issuer of the OLD certificate
    old_serial: str
    new_serial: str
    new_issuer: str  # RFC 4514 issuer of the new certificate (not in the CSV; equal to `issuer` here)


@dataclasses.dataclass(frozen=True)
class CardIssue:
    path: Path
    card_id: str
    auth_certificate: x509.Certificate
    signing_certificate: x509.Certificate
    linkage: tuple[LinkageRow, ...] = ()

    @property
    def auth_serial(self) -> str:
        return serial_hex(self.auth_certificate.serial_number)

    @property
    def sign_serial(self) -> str:
        return serial_hex(self.signing_certificate.serial_number)

    @property
    def not_after(self) -> datetime:
        return self.auth_certificate.not_valid_after_utc


@dataclasses.dataclass(frozen=True)
class RevokedEntry:
    serial: str
    reason: str
    revoked_at: datetime
    already_revoked: bool = False


def _ca_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Madoguchi Test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "ca"


class TestCA:
    """The test CA in `directory`. Create with `TestCA.init`, open with `TestCA.load`."""

    __test__ = False  # not a pytest test class

    ROOT_CERT = "root.pem"
    ISSUING_CERT = "ca.pem"
    CHAIN = "chain.pem"
    ROOT_KEY = "private/root.key"
    ISSUING_KEY = "private/ca.key"
    INDEX = "index.json"

    def __init__(self, directory: Path, *, root: x509.Certificate, issuing: x509.Certificate,
                 issuing_key: rsa.RSAPrivateKey) -> None:  # fmt: skip
        self.directory = Path(directory)
        self.root_certificate = root
        self.issuing_certificate = issuing
        self._issuing_key = issuing_key

    # --- Creating and opening -------------------------------------------------------------------------------
    @classmethod
    def init(
        cls,
        directory: Path | str,
        *,
        name: str = "JPKI Test CA (Madoguchi)",
        not_before: datetime | None = None,
    ) -> TestCA:
        """Create a root and an issuing CA in `directory` (which must not hold a CA yet)."""
        directory = Path(directory)
        if (directory / cls.INDEX).exists() or (directory / cls.ROOT_KEY).exists():
            raise FileExistsError(f"a test CA already exists in {directory}")
        start = _aware(not_before, "not_before") if not_before else _now() - timedelta(minutes=5)
        end = start + CA_VALIDITY
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=CA_KEY_SIZE)
        issuing_key = rsa.generate_private_key(public_exponent=65537, key_size=CA_KEY_SIZE)
        root_name = _ca_name(f"{name} Root")
        root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
        root = (
            x509.CertificateBuilder()
            .subject_name(root_name)
            .issuer_name(root_name)
            .public_key(root_key.public_key())
            .serial_number(cls._new_serial(set()))
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(profiles.key_usage(ca=True), critical=True)
            .add_extension(root_ski, critical=False)
            .sign(root_key, hashes.SHA256())
        )
        issuing = (
            x509.CertificateBuilder()
            .subject_name(_ca_name(name))
            .issuer_name(root_name)
            .public_key(issuing_key.public_key())
            .serial_number(cls._new_serial({root.serial_number}))
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(profiles.key_usage(ca=True), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(issuing_key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False
            )
            .sign(root_key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "private").mkdir(mode=0o700, exist_ok=True)
        (directory / "cards").mkdir(mode=0o700, exist_ok=True)
        write_atomic(directory / cls.ROOT_KEY, _key_pem(root_key))
        write_atomic(directory / cls.ISSUING_KEY, _key_pem(issuing_key))
        write_atomic(directory / cls.ROOT_CERT, _cert_pem(root), mode=0o644)
        write_atomic(directory / cls.ISSUING_CERT, _cert_pem(issuing), mode=0o644)
        write_atomic(directory / cls.CHAIN, _cert_pem(issuing) + _cert_pem(root), mode=0o644)
        index: dict[str, Any] = {
            "format": CA_FORMAT,
            "name": name,
            "created_at": _now().isoformat(),
            "crl_number": 0,
            "certificates": {},
            "cards": {},
        }
        ca = cls(directory, root=root, issuing=issuing, issuing_key=issuing_key)
        for cert, kind in ((root, "root"), (issuing, "ca")):
            index["certificates"][serial_hex(cert.serial_number)] = ca._record(cert, kind, card_id=None)
        with ca._lock():
            ca._write_index(index)
        return ca

    @classmethod
    def load(cls, directory: Path | str) -> TestCA:
        directory = Path(directory)
        try:
            root = x509.load_pem_x509_certificate((directory / cls.ROOT_CERT).read_bytes())
            issuing = x509.load_pem_x509_certificate((directory / cls.ISSUING_CERT).read_bytes())
            key = serialization.load_pem_private_key((directory / cls.ISSUING_KEY).read_bytes(), None)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"no test CA in {directory} (run `madoguchi jpki init-ca`)") from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the issuing CA key is not an RSA key")
        ca = cls(directory, root=root, issuing=issuing, issuing_key=key)
        if ca._read_index().get("format") != CA_FORMAT:
            raise ValueError(f"{directory / cls.INDEX} is not a test CA index")
        return ca

    # --- Paths and trust ------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.issuing_certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)

    @property
    def issuer(self) -> str:
        """RFC 4514 name of the issuing CA: the `issuer` of every card certificate."""
        return self.issuing_certificate.subject.rfc4514_string()

    @property
    def root_path(self) -> Path:
        return self.directory / self.ROOT_CERT

    @property
    def issuing_path(self) -> Path:
        return self.directory / self.ISSUING_CERT

    @property
    def crl_dir(self) -> Path:
        return self.directory / "crl"

    @property
    def crl_path(self) -> Path:
        return self.crl_dir / f"{_slug(self.name)}.crl"

    @property
    def index_path(self) -> Path:
        return self.directory / self.INDEX

    def trust_store(self):
        """A TrustStore trusting this CA's root, with the issuing CA and the current CRL (if published)."""
        from madoguchi.identity.jpki.verify import TrustStore

        crls = [self.crl_path] if self.crl_path.exists() else []
        return TrustStore.from_files([self.root_path], crls, intermediate_paths=[self.issuing_path])

    # --- Index ----------------------------------------------------------------------------------------------
    def _lock(self):
        return locked(self.directory / ".lock")

    def _read_index(self) -> dict[str, Any]:
        return json.loads(self.index_path.read_text("utf-8"))

    def _write_index(self, index: dict[str, Any]) -> None:
        write_atomic(self.index_path, json.dumps(index, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")

    @staticmethod
    def _new_serial(taken: Iterable[int] | set[int]) -> int:
        """A random positive 63-bit serial (at least 2^62, so always 16 hex digits), not yet used."""
        taken = set(taken)
        while True:
            serial = secrets.randbits(63) | (1 << 62)
            if serial not in taken:
                return serial

    @staticmethod
    def _record(cert: x509.Certificate, kind: str, *, card_id: str | None) -> dict[str, Any]:
        return {
            "kind": kind,
            "issuer": cert.issuer.rfc4514_string(),
            "subject": cert.subject.rfc4514_string(),
            "card_id": card_id,
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(),
            "issued_at": _now().isoformat(),
            "revoked_at": None,
            "reason": None,
        }

    def certificates(self) -> dict[str, dict[str, Any]]:
        """The index: serial (hex) → record."""
        return self._read_index()["certificates"]

    # --- Issuing --------------------------------------------------------------------------------------------
    def _leaf(self, kind: Kind, public_key, serial: int, not_before: datetime, not_after: datetime,
              basic_info: BasicInfo | None) -> x509.Certificate:  # fmt: skip
        builder = (
            x509.CertificateBuilder()
            .subject_name(profiles.random_subject())
            .issuer_name(self.issuing_certificate.subject)
            .public_key(public_key)
            .serial_number(serial)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
        )
        for extension, critical in profiles.leaf_extensions(kind, basic_info):
            builder = builder.add_extension(extension, critical=critical)
        ski = self.issuing_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        return builder.sign(self._issuing_key, hashes.SHA256())

    def issue_card(
        self,
        *,
        basic_info: BasicInfo,
        pin: str,
        password: str,
        out_path: Path | str,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        renew_of: Path | str | None = None,
    ) -> CardIssue:
        """Generate both key pairs, issue both certificates and write the card file to `out_path`.

        With `renew_of` (the old card file, which may be `out_path` itself), the old certificates are revoked
        (reason superseded) when this CA issued them, and the result carries the old→new linkage rows.
        """
        validate_pin(pin)
        validate_password(password)
        now = _now()
        start = _aware(not_before, "not_before").replace(microsecond=0) if not_before else now
        end = (
            _aware(not_after, "not_after")
            if not_after
            else min(profiles.default_not_after(basic_info.date_of_birth, start),
                     self.issuing_certificate.not_valid_after_utc)
        )  # fmt: skip
        if end <= start:
            raise ValueError("not_after must be later than not_before")
        old_certs: dict[str, x509.Certificate] = {}
        if renew_of is not None:
            old_card = VirtualCard(renew_of)
            old_certs = {"auth": old_card.auth_certificate, "sign": old_card.signing_certificate}

        auth_key = rsa.generate_private_key(public_exponent=65537, key_size=CARD_KEY_SIZE)
        sign_key = rsa.generate_private_key(public_exponent=65537, key_size=CARD_KEY_SIZE)
        management_key = secrets.token_bytes(32)
        card_id = secrets.token_hex(8)
        out_path = Path(out_path)

        with self._lock():
            index = self._read_index()
            taken = {int(serial, 16) for serial in index["certificates"]}
            auth_serial = self._new_serial(taken)
            sign_serial = self._new_serial(taken | {auth_serial})
            auth_cert = self._leaf("auth", auth_key.public_key(), auth_serial, start, end, None)
            sign_cert = self._leaf("sign", sign_key.public_key(), sign_serial, start, end, basic_info)
            write_atomic(
                self.directory / "cards" / f"{card_id}.key", management_key.hex().encode("ascii") + b"\n"
            )
            VirtualCard.create(
                out_path,
                auth_certificate=auth_cert,
                auth_key=auth_key,
                signing_certificate=sign_cert,
                signing_key=sign_key,
                pin=pin,
                password=password,
                management_key=management_key,
                ca_certificates=[self.issuing_certificate],
                card_id=card_id,
            )
            index["certificates"][serial_hex(auth_serial)] = self._record(auth_cert, "auth", card_id=card_id)
            index["certificates"][serial_hex(sign_serial)] = self._record(sign_cert, "sign", card_id=card_id)
            rows: list[LinkageRow] = []
            for kind, new in (("auth", auth_cert), ("sign", sign_cert)):
                old = old_certs.get(kind)
                if old is None:
                    continue
                rows.append(
                    LinkageRow(
                        kind=kind,  # type: ignore[arg-type]
                        issuer=old.issuer.rfc4514_string(),
                        old_serial=serial_hex(old.serial_number),
                        new_serial=serial_hex(new.serial_number),
                        new_issuer=new.issuer.rfc4514_string(),
                    )
                )
                record = index["certificates"].get(serial_hex(old.serial_number))
                if old.issuer == self.issuing_certificate.subject and record and not record["revoked_at"]:
                    record["revoked_at"] = now.isoformat()
                    record["reason"] = x509.ReasonFlags.superseded.value
            index["cards"][card_id] = {
                "path": str(out_path.resolve()),
                "auth_serial": serial_hex(auth_serial),
                "sign_serial": serial_hex(sign_serial),
                "issued_at": now.isoformat(),
                "renewal_of": [row.old_serial for row in rows],
            }
            self._write_index(index)
        return CardIssue(
            path=out_path, card_id=card_id, auth_certificate=auth_cert, signing_certificate=sign_cert,
            linkage=tuple(rows),
        )  # fmt: skip

    def issue_expired_card(
        self,
        *,
        basic_info: BasicInfo,
        pin: str,
        password: str,
        out_path: Path | str,
        now: datetime | None = None,
    ) -> CardIssue:
        """A card whose certificates expired a day ago (valid for the 30 days before that).

        The certificates may start before this CA's own validity; a CA made for such tests should be
        initialised with an earlier `not_before`.
        """
        now = _aware(now, "now") if now else _now()
        return self.issue_card(
            basic_info=basic_info, pin=pin, password=password, out_path=out_path,
            not_before=now - timedelta(days=31), not_after=now - timedelta(days=1),
        )  # fmt: skip

    @staticmethod
    def linkage_csv(rows: Iterable[LinkageRow]) -> str:
        """CSV with header ``kind,issuer,old_serial,new_serial`` (serials lower-case hex without 0x)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(LINKAGE_HEADER)
        for row in rows:
            writer.writerow(
                [row.kind, row.issuer, parse_and_format(row.old_serial), parse_and_format(row.new_serial)]
            )
        return buffer.getvalue()

    # --- Desk actions ---------------------------------------------------------------------------------------
    def management_key(self, card: VirtualCard | Path | str) -> bytes:
        """The management key of a card this CA issued (what the desk terminal uses to reset PIN/password)."""
        card = card if isinstance(card, VirtualCard) else VirtualCard(card)
        path = self.directory / "cards" / f"{card.card_id}.key"
        try:
            return bytes.fromhex(path.read_text("ascii").strip())
        except FileNotFoundError as exc:
            raise ValueError("this CA did not issue that card") from exc

    # --- Revocation -----------------------------------------------------------------------------------------
    def revoke(
        self, serial: int | str, reason: x509.ReasonFlags | str = x509.ReasonFlags.unspecified,
        *, at: datetime | None = None,
    ) -> RevokedEntry:  # fmt: skip
        """Record a card certificate as revoked. Publish with `crl()`. Revoking twice keeps the first record."""
        flag = _reason(reason)
        key = serial_hex(parse_serial(serial))
        when = _aware(at, "at").replace(microsecond=0) if at else _now()
        with self._lock():
            index = self._read_index()
            record = index["certificates"].get(key)
            if record is None:
                raise ValueError(f"serial {key} was not issued by this CA")
            if record["kind"] not in ("auth", "sign"):
                raise ValueError("only card certificates can be revoked here (the root publishes no ARL)")
            if record["revoked_at"]:
                return RevokedEntry(key, record["reason"], datetime.fromisoformat(record["revoked_at"]), True)
            record["revoked_at"] = when.isoformat()
            record["reason"] = flag.value
            self._write_index(index)
        return RevokedEntry(key, flag.value, when)

    def revoked(self) -> list[RevokedEntry]:
        entries = [
            RevokedEntry(serial, record["reason"], datetime.fromisoformat(record["revoked_at"]))
            for serial, record in self.certificates().items()
            if record["revoked_at"]
        ]
        return sorted(entries, key=lambda entry: (entry.revoked_at, entry.serial))

    def crl(self, *, next_update_hours: float = 48, now: datetime | None = None) -> bytes:
        """Sign a full CRL (DER) listing every revoked serial, write it to `crl_path`, return it."""
        if next_update_hours <= 0:
            raise ValueError("next_update_hours must be positive")
        this_update = _aware(now, "now").replace(microsecond=0) if now else _now()
        with self._lock():
            index = self._read_index()
            index["crl_number"] = int(index.get("crl_number", 0)) + 1
            builder = (
                x509.CertificateRevocationListBuilder()
                .issuer_name(self.issuing_certificate.subject)
                .last_update(this_update)
                .next_update(this_update + timedelta(hours=next_update_hours))
                .add_extension(x509.CRLNumber(index["crl_number"]), critical=False)
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(self._issuing_key.public_key()),
                    critical=False,
                )
            )
            for serial, record in sorted(index["certificates"].items()):
                if not record["revoked_at"]:
                    continue
                revoked = (
                    x509.RevokedCertificateBuilder()
                    .serial_number(int(serial, 16))
                    .revocation_date(datetime.fromisoformat(record["revoked_at"]))
                )
                flag = x509.ReasonFlags(record["reason"])
                if flag is not x509.ReasonFlags.unspecified:  # RFC 5280: omit rather than say "unspecified"
                    revoked = revoked.add_extension(x509.CRLReason(flag), critical=False)
                builder = builder.add_revoked_certificate(revoked.build())
            der = builder.sign(self._issuing_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
            write_atomic(self.crl_path, der, mode=0o644)
            self._write_index(index)
        return der


def parse_and_format(serial: int | str) -> str:
    return serial_hex(parse_serial(serial))

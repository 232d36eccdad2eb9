"""Residents: JPKI challenge–response sign-in, MyKey ID issuance and certificate renewal linkage.

The cryptography lives in `identity/jpki/` (pure); this module is the Django side: one-time challenges,
resident records keyed by certificate issuer + serial, the audit trail of every success and refusal, and the
rule that a renewed card is never silently a new eligible person (DOMAIN.md §1: 506 duplicate applications).
"""

import base64
import binascii
import csv
import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.core import audit
from madoguchi.identity.jpki.cms import verify_detached_signature
from madoguchi.identity.jpki.errors import JpkiError
from madoguchi.identity.jpki.profiles import BasicInfo
from madoguchi.identity.jpki.verify import VerifiedCertificate, verify_certificate, verify_challenge_signature
from madoguchi.identity.jpki_trust import trust_store
from madoguchi.identity.models import (
    ApiToken,
    CertificateRenewal,
    DuplicateHolderReport,
    IssuedMyKeyId,
    JpkiChallenge,
    Resident,
    ResidentCertificate,
    User,
)

MYKEY_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class SignInRefused(Exception):
    """A refused sign-in or signature, with a stable `code` for APIs and a Japanese-first message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class MyKeyIdPending(Exception):
    """A MyKey ID cannot be issued yet: the holder looks like a known resident and linkage is missing."""

    def __init__(self, report: DuplicateHolderReport):
        super().__init__(
            _(
                "This card appears to be a renewal of a card that already has a MyKey ID. The link between "
                "the old and the new certificate has not arrived yet, so a new MyKey ID is not issued. Please "
                "ask at the municipal desk."
            )
        )
        self.report = report


# --- Challenges --------------------------------------------------------------------------------------------
def challenge_issue() -> JpkiChallenge:
    """A fresh one-time nonce (32 random bytes) valid for settings.JPKI_CHALLENGE_SECONDS."""
    now = timezone.now()
    return JpkiChallenge.objects.create(
        nonce=secrets.token_hex(32), expires_at=now + timedelta(seconds=settings.JPKI_CHALLENGE_SECONDS)
    )


def _consume_challenge(challenge_id) -> JpkiChallenge:
    """Mark the challenge used, atomically, before anything is verified: a nonce gets exactly one try."""
    now = timezone.now()
    claimed = JpkiChallenge.objects.filter(pk=challenge_id, used_at__isnull=True).update(used_at=now)
    challenge = JpkiChallenge.objects.filter(pk=challenge_id).first()
    if challenge is None:
        raise SignInRefused("unknown_challenge", _("The sign-in challenge is unknown. Please start again."))
    if not claimed:
        raise SignInRefused(
            "replayed_challenge", _("This sign-in challenge was already used. Please start again.")
        )
    if challenge.expires_at < now:
        raise SignInRefused("challenge_expired", _("The sign-in challenge has expired. Please start again."))
    return challenge


def _load_certificate(data: bytes | str) -> x509.Certificate:
    try:
        if isinstance(data, str):
            data = data.strip()
            if data.startswith("-----BEGIN"):
                return x509.load_pem_x509_certificate(data.encode("ascii"))
            data = base64.b64decode(data, validate=True)
        return x509.load_der_x509_certificate(data)
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise SignInRefused("malformed", _("The certificate could not be read.")) from None


def _refuse(code: str, message: str, *, details: dict) -> SignInRefused:
    # Refusals are recorded in their own transaction so that the caller's rollback cannot erase them.
    audit.record(actor=None, action="identity.jpki_refused", details={"code": code, **details})
    return SignInRefused(code, message)


def _jpki_refusal(exc: JpkiError, details: dict) -> SignInRefused:
    return _refuse(exc.code, f"{exc.message_ja} ({exc.message_en})", details=details)


# --- Sign-in -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignInResult:
    resident: Resident
    created: bool
    renewed: bool


def resident_sign_in(*, challenge_id, certificate: bytes | str, signature: bytes | str) -> SignInResult:
    """Verify a card's answer to a challenge and return the resident (created at the first sign-in).

    Order: the challenge is consumed first (so a replay fails even if everything else is right), then the
    certificate (chain to a trust anchor, dates, key usage, type, CRL) and the signature over the nonce.
    Every refusal raises SignInRefused with its own code and is audited. A certificate that replaced a known
    one (J-LIS linkage imported) resolves to the same resident.
    """
    details: dict = {"challenge": str(challenge_id)}
    try:
        challenge = _consume_challenge(challenge_id)
    except SignInRefused as exc:
        raise _refuse(exc.code, exc.message, details=details) from None
    try:
        cert = _load_certificate(certificate)
        sig = base64.b64decode(signature, validate=True) if isinstance(signature, str) else signature
    except SignInRefused as exc:
        raise _refuse(exc.code, exc.message, details=details) from None
    except (ValueError, binascii.Error):
        raise _refuse("malformed", _("The signature could not be read."), details=details) from None
    details["serial"] = format(cert.serial_number, "x")
    try:
        verified = verify_certificate(cert, kind="auth", at=timezone.now(), store=trust_store())
        verify_challenge_signature(cert, bytes.fromhex(challenge.nonce), sig)
    except JpkiError as exc:
        raise _jpki_refusal(exc, details) from None
    return _resident_for_certificate(verified, kind=ResidentCertificate.Kind.AUTH)


@transaction.atomic
def _resident_for_certificate(verified: VerifiedCertificate, *, kind: str) -> SignInResult:
    now = timezone.now()
    known = (
        ResidentCertificate.objects.select_related("resident")
        .filter(issuer=verified.issuer, serial=verified.serial)
        .first()
    )
    if known is not None:
        resident = _effective(known.resident)
        ResidentCertificate.objects.filter(pk=known.pk).update(last_used_at=now)
        audit.record(actor=resident.user, action="identity.resident_sign_in", target=resident,
                     details={"certificate": verified.serial, "kind": kind})  # fmt: skip
        return SignInResult(resident, created=False, renewed=False)

    renewal = CertificateRenewal.objects.filter(
        new_issuer=verified.issuer, new_serial=verified.serial
    ).first()
    old = None
    if renewal is not None:
        old = ResidentCertificate.objects.filter(issuer=renewal.issuer, serial=renewal.old_serial).first()
    if old is not None:
        resident = _effective(old.resident)
        new = _add_certificate(resident, verified, kind)
        ResidentCertificate.objects.filter(pk=old.pk).update(superseded_by=new)
        audit.record(actor=resident.user, action="identity.resident_sign_in", target=resident,
                     details={"certificate": verified.serial, "kind": kind, "renewal_of": old.serial})  # fmt: skip
        return SignInResult(resident, created=False, renewed=True)

    user = User(username=f"resident-{secrets.token_hex(8)}")
    user.set_unusable_password()
    user.save()
    resident = Resident.objects.create(user=user)
    _add_certificate(resident, verified, kind)
    audit.record(actor=user, action="identity.resident_create", target=resident,
                 details={"certificate": verified.serial, "kind": kind})  # fmt: skip
    audit.record(actor=user, action="identity.resident_sign_in", target=resident,
                 details={"certificate": verified.serial, "kind": kind})  # fmt: skip
    return SignInResult(resident, created=True, renewed=False)


def _effective(resident: Resident) -> Resident:
    while resident.merged_into_id is not None:
        resident = resident.merged_into
    return resident


def _add_certificate(resident: Resident, verified: VerifiedCertificate, kind: str) -> ResidentCertificate:
    return ResidentCertificate.objects.create(
        resident=resident, kind=kind, issuer=verified.issuer, serial=verified.serial,
        fingerprint=verified.fingerprint_sha256, not_before=verified.not_before, not_after=verified.not_after,
        last_used_at=timezone.now(),
    )  # fmt: skip


# --- Bearer tokens -----------------------------------------------------------------------------------------
def api_token_issue(*, user: User) -> str:
    """A new bearer token (returned once; only its SHA-256 is stored)."""
    token = secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user=user,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        expires_at=timezone.now() + timedelta(seconds=settings.API_TOKEN_SECONDS),
    )
    return token


def api_token_user(token: str) -> User | None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    found = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=digest, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    return found.user if found is not None and found.user.is_active else None


# --- Signatures and the holder key -------------------------------------------------------------------------
def holder_key(info: BasicInfo) -> str:
    """Keyed hash of name + date of birth + sex: stable across moves (the address is left out on purpose)."""
    key = base64.b64decode(settings.IDENTITY_HOLDER_KEY)
    canonical = "\x1f".join(["".join(info.name.split()), info.date_of_birth.isoformat(), info.sex])
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def document_signature_verify(*, signature: bytes, content: bytes, resident: Resident | None = None):
    """Verify a CMS detached signature made with a card's signing certificate; return the signer's
    VerifiedCertificate (with 基本4情報 for prefilling forms). Refusals raise SignInRefused, audited."""
    try:
        verified = verify_detached_signature(signature, content, store=trust_store(), at=timezone.now())
    except JpkiError as exc:
        raise _jpki_refusal(exc, {"purpose": "document_signature"}) from None
    if resident is not None:
        with transaction.atomic():
            if not ResidentCertificate.objects.filter(
                issuer=verified.issuer, serial=verified.serial
            ).exists():
                _add_certificate(resident, verified, ResidentCertificate.Kind.SIGN)
            audit.record(actor=resident.user, action="identity.document_signed", target=resident,
                         details={"certificate": verified.serial, "sha256": hashlib.sha256(content).hexdigest()})  # fmt: skip
    return verified


# --- MyKey ID ----------------------------------------------------------------------------------------------
MYKEY_STATEMENT = "マイキーIDの設定を申請します。 / I apply for a MyKey ID."


def mykey_statement(resident: Resident) -> bytes:
    """What the resident signs with the signing certificate to set up a MyKey ID (bound to this resident)."""
    return f"{MYKEY_STATEMENT}\nresident:{resident.pk}\n".encode()


def _new_mykey_id() -> str:
    return "".join(secrets.choice(MYKEY_ALPHABET) for _ in range(8))


def mykey_id_issue(*, resident: Resident, signature: bytes, actor=None) -> str:
    """Issue the resident's MyKey ID (idempotent: an existing one is returned).

    The resident signs `mykey_statement(resident)` with the card's signing certificate. Its 基本4情報 give the
    holder key; if another resident with a MyKey ID has the same holder key and no certificate linkage joins
    them, a DuplicateHolderReport is opened and MyKeyIdPending raised instead of issuing a second ID.
    The ID is 8 characters of [0-9A-Z], random (never derived from the My Number), never reused.
    """
    verified = document_signature_verify(
        signature=signature, content=mykey_statement(resident), resident=resident
    )
    key = holder_key(verified.basic_info)
    with transaction.atomic():
        resident = Resident.objects.select_for_update().get(pk=resident.pk)
        if resident.mykey_id:
            return resident.mykey_id
        Resident.objects.filter(pk=resident.pk).update(holder_key=key)
        twin = (
            Resident.objects.filter(holder_key=key, mykey_id__isnull=False, merged_into__isnull=True)
            .exclude(pk=resident.pk)
            .order_by("pk")
            .first()
        )
        if twin is not None:
            report = DuplicateHolderReport.objects.filter(
                new_resident=resident, existing_resident=twin, status=DuplicateHolderReport.Status.OPEN
            ).first()
            if report is None:
                cert = (
                    resident.certificates.filter(kind=ResidentCertificate.Kind.AUTH).order_by("-pk").first()
                )
                report = DuplicateHolderReport.objects.create(
                    new_resident=resident,
                    existing_resident=twin,
                    certificate=cert or resident.certificates.last(),
                )
                Resident.objects.filter(pk=resident.pk).update(status=Resident.Status.PENDING_LINK)
                audit.record(actor=actor or resident.user, action="identity.duplicate_holder_reported",
                             target=report, details={"new_resident": resident.pk, "existing_resident": twin.pk})  # fmt: skip
            pending = MyKeyIdPending(report)
        else:
            pending = None
            for _attempt in range(10):
                candidate = _new_mykey_id()
                try:
                    with transaction.atomic():
                        IssuedMyKeyId.objects.create(mykey_id=candidate)
                    break
                except IntegrityError:  # 36^8 ≈ 2.8e12: a collision is rare, and the ID is never reused
                    continue
            else:
                raise RuntimeError("could not find an unused MyKey ID")
            Resident.objects.filter(pk=resident.pk).update(mykey_id=candidate, status=Resident.Status.ACTIVE)
            audit.record(actor=actor or resident.user, action="identity.mykey_id_issue", target=resident,
                         details={"mykey_id": candidate})  # fmt: skip
    if pending is not None:
        raise pending  # after the commit: the report stays
    return candidate


# --- Renewal linkage (J-LIS old → new serial) --------------------------------------------------------------
@dataclass(frozen=True)
class LinkageImport:
    rows: int
    new_links: int
    residents_merged: int


class LinkageImportError(ValueError):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def _hex_serial(value: str) -> str:
    value = value.strip().lower().removeprefix("0x").lstrip("0") or "0"
    int(value, 16)
    return value


def renewal_links_import(*, rows: list[dict], source: str, actor=None) -> LinkageImport:
    """Import old→new certificate links (all rows or none) and apply them to residents already known.

    Each row: kind (auth|sign), issuer, old_serial, new_serial, optional new_issuer (defaults to issuer).
    When the new certificate was already seen as a separate (pending) resident, that resident is merged into
    the old one: its certificates move over, it is marked merged, open duplicate reports close as linked.
    Raises LinkageImportError listing every bad row (1-based, Japanese-first) and writes nothing then.
    """
    errors: list[str] = []
    clean: list[dict] = []
    for n, row in enumerate(rows, start=1):
        kind = (row.get("kind") or "").strip()
        issuer = (row.get("issuer") or "").strip()
        try:
            old_serial, new_serial = (
                _hex_serial(row.get("old_serial") or ""),
                _hex_serial(row.get("new_serial") or ""),
            )
        except ValueError:
            errors.append(_("row %(n)s: serial numbers must be hexadecimal") % {"n": n})
            continue
        if kind not in ResidentCertificate.Kind.values:
            errors.append(_("row %(n)s: kind must be auth or sign") % {"n": n})
        elif not issuer:
            errors.append(_("row %(n)s: issuer is required") % {"n": n})
        elif old_serial == new_serial and (row.get("new_issuer") or issuer) == issuer:
            errors.append(_("row %(n)s: the old and new certificate are the same") % {"n": n})
        else:
            clean.append({"kind": kind, "issuer": issuer, "old_serial": old_serial, "new_serial": new_serial,
                          "new_issuer": (row.get("new_issuer") or issuer).strip()})  # fmt: skip
    if errors:
        raise LinkageImportError(errors)

    new_links = merged = 0
    with transaction.atomic():
        for row in clean:
            link, created = CertificateRenewal.objects.get_or_create(
                issuer=row["issuer"], old_serial=row["old_serial"],
                defaults={"kind": row["kind"], "new_serial": row["new_serial"], "new_issuer": row["new_issuer"],
                          "source": source[:100]},
            )  # fmt: skip
            if not created and (link.new_serial, link.new_issuer) != (row["new_serial"], row["new_issuer"]):
                raise LinkageImportError([_("old serial %(s)s is already linked to another certificate")
                                          % {"s": row["old_serial"]}])  # fmt: skip
            new_links += created
            merged += _apply_link(link, actor=actor)
        audit.record(actor=actor, action="identity.renewal_links_import",
                     details={"rows": len(clean), "new_links": new_links, "merged": merged, "source": source[:100]})  # fmt: skip
    return LinkageImport(rows=len(clean), new_links=new_links, residents_merged=merged)


def renewal_links_from_csv(text: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    required = {"kind", "issuer", "old_serial", "new_serial"}
    if not reader.fieldnames or not required <= set(reader.fieldnames):
        raise LinkageImportError(
            [_("the CSV header must be: kind,issuer,old_serial,new_serial[,new_issuer]")]
        )
    return list(reader)


def _apply_link(link: CertificateRenewal, *, actor) -> int:
    old = ResidentCertificate.objects.filter(issuer=link.issuer, serial=link.old_serial).first()
    new = ResidentCertificate.objects.filter(issuer=link.new_issuer, serial=link.new_serial).first()
    if old is None or new is None:
        return 0  # applied at the next sign-in with the new certificate
    keep, other = _effective(old.resident), _effective(new.resident)
    ResidentCertificate.objects.filter(pk=old.pk).update(superseded_by=new)
    if keep.pk == other.pk:
        return 0
    ResidentCertificate.objects.filter(resident=other).update(resident=keep)
    Resident.objects.filter(pk=other.pk).update(merged_into=keep, status=Resident.Status.MERGED)
    User.objects.filter(pk=other.user_id).update(is_active=False)
    if keep.status == Resident.Status.PENDING_LINK:
        Resident.objects.filter(pk=keep.pk).update(status=Resident.Status.ACTIVE)
    DuplicateHolderReport.objects.filter(
        new_resident=other, existing_resident=keep, status=DuplicateHolderReport.Status.OPEN
    ).update(status=DuplicateHolderReport.Status.LINKED, closed_at=timezone.now())
    audit.record(actor=actor, action="identity.resident_merge", target=keep,
                 details={"merged": other.pk, "old_serial": link.old_serial, "new_serial": link.new_serial})  # fmt: skip
    return 1

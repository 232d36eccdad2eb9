"""JPKI API: challenge–response sign-in for card-reader and smartphone clients, the resident's own data,
document-signature verification (once-only prefill), and the import of J-LIS renewal linkage (operators)."""

import base64
import binascii
from datetime import date, datetime
from typing import Literal
from uuid import UUID

from django.conf import settings
from django.contrib.auth import login
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from madoguchi.identity import resident_services
from madoguchi.identity.api_auth import ResidentBearer, ResidentSession, VerifiedStaffSession
from madoguchi.identity.selectors import is_platform_operator

auth_router = Router(tags=["resident sign-in (JPKI)"])
resident_router = Router(tags=["resident"], auth=[ResidentBearer(), ResidentSession()])
linkage_router = Router(tags=["staff"], auth=VerifiedStaffSession())


class ErrorOut(Schema):
    code: str
    message: str


class ChallengeOut(Schema):
    challenge_id: UUID
    nonce: str = Field(description="hex of 32 random bytes: sign these bytes (not the hex text)")
    expires_at: datetime
    algorithm: str = "RSASSA-PKCS1-v1_5/SHA-256"


class LoginIn(Schema):
    challenge_id: UUID
    certificate: str = Field(description="the user-authentication certificate, base64 DER or PEM")
    signature: str = Field(description="base64 of the card's signature over the nonce bytes")
    mode: Literal["session", "token"] = "token"


class LoginOut(Schema):
    resident_id: int
    mykey_id: str | None
    created: bool
    renewed: bool
    access_token: str | None = None
    token_type: str | None = None
    expires_in: int | None = None


@auth_router.post("/jpki/challenge", response={201: ChallengeOut}, summary="A one-time sign-in challenge")
def jpki_challenge(request):
    challenge = resident_services.challenge_issue()
    return Status(
        201, {"challenge_id": challenge.pk, "nonce": challenge.nonce, "expires_at": challenge.expires_at}
    )


@auth_router.post("/jpki/login", response={200: LoginOut, 401: ErrorOut},
                  summary="Sign in with the card's answer to a challenge")  # fmt: skip
def jpki_login(request, payload: LoginIn):
    """Refusals answer 401 with their own code: unknown_challenge, replayed_challenge, challenge_expired,
    malformed, unknown_ca, bad_chain_signature, certificate_expired, certificate_not_yet_valid,
    certificate_revoked, crl_unavailable, wrong_key_usage, wrong_certificate_type, bad_signature."""
    try:
        result = resident_services.resident_sign_in(
            challenge_id=payload.challenge_id, certificate=payload.certificate, signature=payload.signature
        )
    except resident_services.SignInRefused as exc:
        return Status(401, {"code": exc.code, "message": exc.message})
    out = {"resident_id": result.resident.pk, "mykey_id": result.resident.mykey_id, "created": result.created,
           "renewed": result.renewed}  # fmt: skip
    if payload.mode == "session":
        login(request, result.resident.user, backend="django.contrib.auth.backends.ModelBackend")
    else:
        out |= {"access_token": resident_services.api_token_issue(user=result.resident.user),
                "token_type": "Bearer", "expires_in": settings.API_TOKEN_SECONDS}  # fmt: skip
    return Status(200, out)


class CertificateOut(Schema):
    kind: str
    serial: str
    not_after: datetime
    replaced: bool


class MeOut(Schema):
    resident_id: int
    mykey_id: str | None
    status: str
    certificates: list[CertificateOut]


@resident_router.get("/me", response=MeOut, summary="The signed-in resident")
def me(request):
    resident = request.auth.resident
    certificates = [
        {
            "kind": c.kind,
            "serial": c.serial,
            "not_after": c.not_after,
            "replaced": c.superseded_by_id is not None,
        }
        for c in resident.certificates.order_by("-first_seen_at")
    ]
    return {"resident_id": resident.pk, "mykey_id": resident.mykey_id, "status": resident.status,
            "certificates": certificates}  # fmt: skip


class SignatureIn(Schema):
    content: str = Field(description="base64 of the exact bytes that were signed")
    signature: str = Field(description="base64 (DER) or PEM of the CMS detached signature")


class BasicInfoOut(Schema):
    name: str
    name_kana: str | None
    address: str
    date_of_birth: date
    sex: str


class SignatureOut(Schema):
    serial: str
    issuer: str
    signer: BasicInfoOut


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise resident_services.SignInRefused(
            "malformed", _("%(what)s is not valid base64.") % {"what": what}
        ) from None


@resident_router.post("/me/signatures/verify", response={200: SignatureOut, 422: ErrorOut},
                      summary="Verify a document signed with the card; returns the signer's 基本4情報")  # fmt: skip
def verify_signature(request, payload: SignatureIn):
    try:
        content = _b64(payload.content, "content")
        raw = (
            payload.signature.encode()
            if payload.signature.lstrip().startswith("-----")
            else _b64(payload.signature, "signature")
        )
        verified = resident_services.document_signature_verify(
            signature=raw, content=content, resident=request.auth.resident
        )
    except resident_services.SignInRefused as exc:
        return Status(422, {"code": exc.code, "message": exc.message})
    info = verified.basic_info
    return Status(200, {"serial": verified.serial, "issuer": verified.issuer,
                 "signer": {"name": info.name, "name_kana": info.name_kana, "address": info.address,
                            "date_of_birth": info.date_of_birth, "sex": info.sex}})  # fmt: skip


class LinkRow(Schema):
    kind: Literal["auth", "sign"]
    issuer: str
    old_serial: str
    new_serial: str
    new_issuer: str | None = None


class LinkageIn(Schema):
    source: str = Field("api", max_length=100)
    rows: list[LinkRow] = Field(default=None)
    csv: str | None = Field(None, description="alternatively the CSV text: kind,issuer,old_serial,new_serial")


class LinkageOut(Schema):
    rows: int
    new_links: int
    residents_merged: int


class LinkageErrorOut(Schema):
    code: str
    message: str
    errors: list[str]


@linkage_router.post("/jpki/renewals", response={200: LinkageOut, 422: LinkageErrorOut},
                     summary="Import J-LIS old→new certificate linkage (platform operators)")  # fmt: skip
def import_renewals(request, payload: LinkageIn):
    if not is_platform_operator(request.user):
        raise PermissionDenied(_("Only platform operators may import certificate linkage."))
    try:
        rows = (
            resident_services.renewal_links_from_csv(payload.csv)
            if payload.csv is not None
            else [r.dict() for r in payload.rows or []]
        )
        result = resident_services.renewal_links_import(rows=rows, source=payload.source, actor=request.user)
    except resident_services.LinkageImportError as exc:
        return Status(422, {"code": "invalid", "message": _("Nothing was imported."), "errors": exc.errors})
    return Status(200, result.__dict__)

"""Writes of the procedures app. Keyword-only, one transaction each, audited in that transaction.

Catalogue: `catalogue_load` (national templates and bundles from data/), `procedure_adopt`, `procedure_create`,
`procedure_update`, `procedure_set_status`.
Forms: `form_draft_save` (also the JSON import), `form_publish`.
Applying: `draft_save`, `submission_file` (signed or not; with a fee it waits for the payment; at the municipal
desk also `channel="counter"`, `desk_session`, `clerk`, `fee_paid_in_cash`),
`payment_start`, `payment_settle` (the gateway's callback or the return page), `submission_record_offline`.
Processing: `submission_transition`, `submission_resubmit`, `submission_message`, `submission_note`,
`submission_assign`, `tally_set`. Retention: `retention_purge`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.core import audit, fastsql
from madoguchi.core.calendar import add_business_days
from madoguchi.core.models import Municipality
from madoguchi.core.wareki import fiscal_year
from madoguchi.procedures import payments
from madoguchi.procedures.formengine import (
    FormDefinition,
    canonical_bytes,
    normalize_search_text,
    parse_definition,
)
from madoguchi.procedures.models import (
    Attachment,
    BundleFiling,
    Category,
    Draft,
    FormVersion,
    LifeEventBundle,
    Payment,
    Procedure,
    ProcedureTemplate,
    Submission,
    SubmissionEvent,
    SubmissionRevision,
    UsageTally,
)

JST = ZoneInfo("Asia/Tokyo")
DATA_DIR = Path(__file__).resolve().parent / "data"
# Crockford's base 32 without I, L, O, U: nothing to misread when a reference is read out on the phone.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ADOPTED_EDITABLE = frozenset(
    {"contact", "fee_yen", "reception_starts_on", "reception_ends_on", "department", "processing_days"}
)
OWN_EDITABLE = ADOPTED_EDITABLE | frozenset(
    {
        "name", "name_en", "summary", "summary_en", "texts", "category", "life_events",
        "signature_required", "retention_years", "online",
    }
)  # fmt: skip

S = Submission.Status
# Staff moves; the applicant's own moves (resubmit, withdraw) have their own services.
STAFF_TRANSITIONS: dict[str, frozenset[str]] = {
    S.SUBMITTED: frozenset({S.IN_REVIEW, S.CORRECTION_REQUESTED, S.ACCEPTED, S.REFUSED}),
    S.IN_REVIEW: frozenset({S.CORRECTION_REQUESTED, S.ACCEPTED, S.REFUSED}),
    S.CORRECTION_REQUESTED: frozenset({S.REFUSED}),
    S.RESUBMITTED: frozenset({S.IN_REVIEW, S.CORRECTION_REQUESTED, S.ACCEPTED, S.REFUSED}),
    S.ACCEPTED: frozenset({S.COMPLETED}),
}
WITHDRAWABLE = frozenset(
    {S.SUBMITTED, S.IN_REVIEW, S.CORRECTION_REQUESTED, S.RESUBMITTED, S.AWAITING_PAYMENT}
)
DECIDED = frozenset({S.ACCEPTED, S.REFUSED})
CLOSED = frozenset({S.COMPLETED, S.REFUSED, S.WITHDRAWN})


class ProcedureError(Exception):
    """A refusal with a message for the user (translated) and a stable code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# --- Catalogue ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _kakasi():
    import pykakasi

    return pykakasi.kakasi()


def reading(text: str) -> str:
    """The kana reading of a Japanese name (pykakasi's dictionary), so that 「いぬ」 finds 「犬の登録」."""
    return "".join(item["kana"] for item in _kakasi().convert(text or ""))


def _search_text(obj) -> str:
    parts = [
        obj.name,
        reading(obj.name),
        obj.name_en,
        obj.summary,
        obj.summary_en,
        str(Category(obj.category).label),
        obj.category,
    ]
    for value in (obj.texts or {}).values():
        if isinstance(value, dict):
            parts.extend(str(v) for v in value.values())
    parts.extend(obj.life_events or [])
    return normalize_search_text(" ".join(p for p in parts if p))


def _load_json(name: str):
    return json.loads((DATA_DIR / name).read_text(encoding="utf-8"))


def _template_form(name: str) -> dict:
    return _load_json(f"forms/{name}.json")


def catalogue_load(*, stdout=None) -> tuple[int, int]:
    """Create or update the national templates and bundles from data/ (idempotent). Returns (templates, bundles).

    Every form is parsed first: a broken data file changes nothing.
    """
    rows = _load_json("national_templates.json")
    bundles = _load_json("life_event_bundles.json")
    forms = {}
    for row in rows:
        name = row.get("form") or "generic"
        if name not in forms:
            forms[name] = parse_definition(_template_form(name)).to_json()
    for bundle in bundles:
        parse_definition(bundle["shared_form"])
    changed = 0
    with transaction.atomic():
        for row in rows:
            values = {
                "name": row["name"]["ja"],
                "name_en": row["name"].get("en", ""),
                "summary": row.get("summary", {}).get("ja", ""),
                "summary_en": row.get("summary", {}).get("en", ""),
                "texts": {
                    key: row[key]
                    for key in ("who_may_apply", "requirements", "reception_period", "legal_basis")
                    if key in row
                },
                "category": row["category"],
                "life_events": row.get("life_events", []),
                "signature_required": bool(row.get("signature_required")),
                "fee_yen": int(row.get("fee_yen") or 0),
                "retention_years": int(row.get("retention_years") or 5),
                "online": bool(row.get("online", True)),
                "group": row["group"],
                "deck_number": row.get("deck_number"),
                "form_definition": forms[row.get("form") or "generic"],
            }
            template = ProcedureTemplate(code=row["code"], **values)
            values["search_text"] = _search_text(template)
            existing = ProcedureTemplate.objects.filter(code=row["code"]).first()
            if existing is None or any(getattr(existing, k) != v for k, v in values.items()):
                ProcedureTemplate.objects.update_or_create(code=row["code"], defaults=values)
                changed += 1
        for bundle in bundles:
            values = {
                "name": bundle["name"]["ja"],
                "name_en": bundle["name"].get("en", ""),
                "life_event": bundle["life_event"],
                "procedure_codes": bundle["procedures"],
                "shared_definition": bundle["shared_form"],
                "mapping": bundle.get("mapping", {}),
            }
            LifeEventBundle.objects.update_or_create(municipality=None, code=bundle["code"], defaults=values)
        if changed:
            audit.record(
                actor=None, action="procedures.catalogue_loaded",
                details={"templates": len(rows), "changed": changed, "bundles": len(bundles)},
            )  # fmt: skip
    if stdout is not None:
        stdout.write(
            f"National procedure templates: {len(rows)} ({changed} changed), bundles: {len(bundles)}."
        )
    return len(rows), len(bundles)


def _new_version(*, procedure: Procedure, definition: FormDefinition, actor, status: str) -> FormVersion:
    number = (procedure.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    return FormVersion.objects.create(
        procedure=procedure,
        number=number,
        status=status,
        definition=definition.to_json(),
        sha256=definition.sha256,
        field_count=len(definition.fields_in_order),
        created_by=actor if getattr(actor, "pk", None) else None,
        published_at=timezone.now() if status == FormVersion.Status.PUBLISHED else None,
        published_by=actor if status == FormVersion.Status.PUBLISHED and getattr(actor, "pk", None) else None,
    )


def procedure_adopt(
    *, municipality: Municipality, template: ProcedureTemplate, actor, publish: bool = True, **local
) -> Procedure:
    """Adopt a national template as is; only contact, fee, period, department and processing time may differ."""
    unknown = set(local) - ADOPTED_EDITABLE
    if unknown:
        raise ProcedureError("not_editable", _("An adopted procedure keeps the national form and texts."))
    definition = parse_definition(template.form_definition)
    with transaction.atomic():
        if Procedure.objects.filter(municipality=municipality, code=template.code).exists():
            raise ProcedureError("exists", _("This procedure is already in your catalogue."))
        procedure = Procedure.objects.create(
            municipality=municipality,
            code=template.code,
            template=template,
            name=template.name,
            name_en=template.name_en,
            summary=template.summary,
            summary_en=template.summary_en,
            texts=template.texts,
            category=template.category,
            life_events=template.life_events,
            signature_required=template.signature_required,
            fee_yen=local.pop("fee_yen", template.fee_yen),
            retention_years=template.retention_years,
            online=template.online,
            search_text=template.search_text,
            status=Procedure.Status.PUBLISHED if publish else Procedure.Status.DRAFT,
            **local,
        )
        version = _new_version(
            procedure=procedure, definition=definition, actor=actor, status=FormVersion.Status.PUBLISHED
        )
        Procedure.objects.filter(pk=procedure.pk).update(current_version=version)
        procedure.current_version = version
        audit.record(
            actor=actor, action="procedures.procedure_adopted", target=procedure, municipality=municipality,
            details={"template": template.code, "form_sha256": version.sha256},
        )  # fmt: skip
    return procedure


STARTER_FORM = {
    "schema": 1,
    "title": {"ja": "申請", "en": "Application"},
    "pages": [
        {
            "key": "applicant",
            "title": {"ja": "申請者", "en": "Applicant"},
            "fields": [
                {"key": "applicant_name", "type": "text", "required": True, "prefill": "basic4.name",
                 "label": {"ja": "氏名", "en": "Full name"}},
                {"key": "applicant_email", "type": "email", "required": True, "prefill": "profile.email",
                 "label": {"ja": "メールアドレス", "en": "E-mail"}},
            ],
        }
    ],
}  # fmt: skip


def procedure_create(
    *, municipality: Municipality, actor, code: str, name: str, category: str, **values
) -> Procedure:
    """A municipality's own procedure, starting as a draft with a starter form to build on."""
    unknown = set(values) - OWN_EDITABLE
    if unknown:
        raise ProcedureError("not_editable", _("Unknown procedure settings: %(names)s") % {"names": unknown})
    procedure = Procedure(municipality=municipality, code=code, name=name, category=category, **values)
    try:
        procedure.full_clean(exclude=["municipality", "current_version", "template"])
    except ValidationError as exc:
        raise ProcedureError("invalid", "; ".join(exc.messages)) from None
    procedure.search_text = _search_text(procedure)
    with transaction.atomic():
        if Procedure.objects.filter(municipality=municipality, code=code).exists():
            raise ProcedureError("exists", _("A procedure with this code already exists."))
        procedure.save()
        _new_version(
            procedure=procedure, definition=parse_definition(STARTER_FORM), actor=actor,
            status=FormVersion.Status.DRAFT,
        )  # fmt: skip
        audit.record(
            actor=actor, action="procedures.procedure_created", target=procedure, municipality=municipality,
            details={"code": code},
        )  # fmt: skip
    return procedure


def procedure_update(*, procedure: Procedure, actor, **values) -> Procedure:
    allowed = ADOPTED_EDITABLE if procedure.adopted else OWN_EDITABLE
    refused = set(values) - allowed
    if refused:
        raise ProcedureError(
            "not_editable",
            _("An adopted procedure keeps the national form and texts; only contact, fee and period differ."),
        )
    with transaction.atomic():
        procedure = Procedure.objects.select_for_update().get(pk=procedure.pk)
        changed = {k: v for k, v in values.items() if getattr(procedure, k) != v}
        for key, value in changed.items():
            setattr(procedure, key, value)
        try:
            procedure.full_clean(exclude=["municipality", "current_version", "template"])
        except ValidationError as exc:
            raise ProcedureError("invalid", "; ".join(exc.messages)) from None
        procedure.search_text = _search_text(procedure)
        procedure.save()
        if changed:
            audit.record(
                actor=actor, action="procedures.procedure_updated", target=procedure,
                municipality=procedure.municipality, details={"fields": sorted(changed)},
            )  # fmt: skip
    return procedure


def procedure_set_status(*, procedure: Procedure, actor, status: str) -> Procedure:
    status = Procedure.Status(status)
    with transaction.atomic():
        procedure = Procedure.objects.select_for_update().get(pk=procedure.pk)
        if status == Procedure.Status.PUBLISHED and procedure.current_version_id is None:
            raise ProcedureError("no_form", _("Publish a form before opening the procedure."))
        old = procedure.status
        Procedure.objects.filter(pk=procedure.pk).update(status=status, updated_at=timezone.now())
        procedure.status = status
        audit.record(
            actor=actor, action="procedures.procedure_status", target=procedure,
            municipality=procedure.municipality, details={"from": old, "to": status.value},
        )  # fmt: skip
    return procedure


# --- Form versions ------------------------------------------------------------------------------------------
def form_draft_save(*, procedure: Procedure, definition: dict | str | bytes, actor) -> FormVersion:
    """Save the builder's draft (also a JSON import). Raises DefinitionError listing every problem."""
    if procedure.adopted:
        raise ProcedureError(
            "standard_form", _("An adopted procedure uses the national standard form; it cannot be edited.")
        )
    parsed = parse_definition(definition)
    with transaction.atomic():
        draft = (
            FormVersion.objects.select_for_update()
            .filter(procedure=procedure, status=FormVersion.Status.DRAFT)
            .first()
        )
        if draft is None:
            draft = _new_version(procedure=procedure, definition=parsed, actor=actor, status="draft")
        elif draft.sha256 != parsed.sha256:
            FormVersion.objects.filter(pk=draft.pk).update(
                definition=parsed.to_json(), sha256=parsed.sha256,
                field_count=len(parsed.fields_in_order), updated_at=timezone.now(),
            )  # fmt: skip
            draft.refresh_from_db()
        else:
            return draft
        audit.record(
            actor=actor, action="procedures.form_draft_saved", target=draft,
            municipality=procedure.municipality,
            details={"procedure": procedure.code, "version": draft.number, "sha256": draft.sha256,
                     "fields": draft.field_count},
        )  # fmt: skip
    return draft


def form_publish(*, procedure: Procedure, actor) -> FormVersion:
    """Publish the draft: it is frozen from now on; the previous version is retired (its submissions keep it)."""
    with transaction.atomic():
        procedure = Procedure.objects.select_for_update().get(pk=procedure.pk)
        draft = procedure.versions.filter(status=FormVersion.Status.DRAFT).first()
        if draft is None:
            raise ProcedureError("no_draft", _("There is no draft to publish."))
        parse_definition(draft.definition)  # never publish what does not parse
        procedure.versions.filter(status=FormVersion.Status.PUBLISHED).update(
            status=FormVersion.Status.RETIRED
        )
        now = timezone.now()
        FormVersion.objects.filter(pk=draft.pk).update(
            status=FormVersion.Status.PUBLISHED, published_at=now,
            published_by=actor if getattr(actor, "pk", None) else None,
        )  # fmt: skip
        Procedure.objects.filter(pk=procedure.pk).update(current_version=draft, updated_at=now)
        draft.refresh_from_db()
        audit.record(
            actor=actor, action="procedures.form_published", target=draft, municipality=procedure.municipality,
            details={"procedure": procedure.code, "version": draft.number, "sha256": draft.sha256},
        )  # fmt: skip
    return draft


# --- Applying -----------------------------------------------------------------------------------------------
def open_for_applications(procedure: Procedure, today: date | None = None) -> bool:
    today = today or timezone.localdate()
    if procedure.status != Procedure.Status.PUBLISHED or procedure.current_version_id is None:
        return False
    if procedure.reception_starts_on and today < procedure.reception_starts_on:
        return False
    return not (procedure.reception_ends_on and today > procedure.reception_ends_on)


def draft_save(*, user, procedure: Procedure, version: FormVersion, answers: dict, page: str) -> Draft:
    """Save and resume for a signed-in resident (answers never hold a My Number: tokens only)."""
    draft, _created = Draft.objects.update_or_create(
        user=user, procedure=procedure,
        defaults={"form_version": version, "answers": answers, "page": page},
    )  # fmt: skip
    return draft


def draft_discard(*, user, procedure: Procedure) -> None:
    Draft.objects.filter(user=user, procedure=procedure).delete()


def _new_reference(municipality: Municipality) -> str:
    body = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(10))
    return f"{municipality.code[:5]}-{body[:5]}-{body[5:]}"


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.strip().upper().encode()).hexdigest()


def canonical_for(procedure: Procedure, version: FormVersion, answers: dict) -> bytes:
    """The bytes an applicant signs for these answers on this version of this procedure's form."""
    return canonical_bytes(definition_sha256=version.sha256, procedure_code=procedure.code, answers=answers)


@dataclass(frozen=True)
class Filed:
    submission: Submission
    secret: str  # the status-lookup secret, shown once


def _applicant_name(answers: dict) -> str:
    for key in ("applicant_name", "name", "owner_name", "user_name"):
        if isinstance(answers.get(key), str):
            return answers[key][:200]
    return ""


def _applicant_email(answers: dict) -> str:
    for key, value in answers.items():
        if key.endswith("email") and isinstance(value, str):
            return value[:254]
    return ""


def _mark_submitted(submission: Submission, now: datetime) -> None:
    local = now.astimezone(JST).date()
    submission.status = S.SUBMITTED
    submission.submitted_at = now
    submission.fiscal_year = fiscal_year(local)
    submission.due_on = add_business_days(local, submission.procedure.processing_days)


def document_signer(*, content: bytes, signature: bytes, applicant) -> Any:
    """The signer of `content` (its verified certificate, with 基本4情報), refused if it is not `applicant`'s card
    (as far as the platform knows the holder). Used at the desk to read the resident's 基本4情報."""
    return _verify_signature(content=content, signature=signature, applicant=applicant, strict=True)


def _verify_signature(*, content: bytes, signature: bytes, applicant, strict: bool = False) -> Any:
    """`strict` (the desk, where the card may be someone else's): also refused when the signing certificate is
    already known as another resident's, checked before the certificate is recorded for this resident."""
    from madoguchi.identity.models import Resident, ResidentCertificate
    from madoguchi.identity.resident_services import document_signature_verify, holder_key

    resident = Resident.objects.filter(user=applicant).first() if applicant is not None else None
    if strict and resident is not None:
        probe = document_signature_verify(signature=signature, content=content)
        known_elsewhere = (
            ResidentCertificate.objects.filter(issuer=probe.issuer, serial=probe.serial)
            .exclude(resident=resident)
            .exists()
        )
        if known_elsewhere or (resident.holder_key and holder_key(probe.basic_info) != resident.holder_key):
            raise ProcedureError("not_your_card", _("The signature was made with someone else's card."))
    verified = document_signature_verify(signature=signature, content=content, resident=resident)
    if (
        resident is not None
        and resident.holder_key
        and holder_key(verified.basic_info) != resident.holder_key
    ):
        raise ProcedureError("not_your_card", _("The signature was made with someone else's card."))
    return verified


def submission_file(
    *,
    procedure: Procedure,
    version: FormVersion,
    answers: dict,
    applicant=None,
    signature: bytes | None = None,
    attachment_ids: list[int] | None = None,
    owner_key: str = "",
    filing: BundleFiling | None = None,
    channel: str = Submission.Channel.ONLINE,
    desk_session=None,
    clerk=None,
    fee_paid_in_cash: bool = False,
) -> Filed:
    """File an online application. Answers must come from `answers.clean` on this version (tokens, no My
    Number). A procedure that needs a signature is refused without a valid one over `canonical_for(...)`.
    With a fee, the submission waits in "awaiting_payment" until `payment_settle` sees the payment.

    At the municipal desk (窓口モード): `channel="counter"`, the open `desk_session` with the identified resident
    (whose user is the `applicant`) and its `clerk`. The signature is verified as online; the case counts as a
    counter case; the clerk is the audit actor with the resident and the desk session named. With a fee,
    `fee_paid_in_cash=True` records the cash the clerk took (a Payment of method "cash") and files it as paid;
    without it the fee stays pending (the resident pays online later).
    """
    channel = Submission.Channel(channel)
    if channel != Submission.Channel.ONLINE or desk_session is not None or clerk is not None:
        _check_desk_filing(
            procedure=procedure, applicant=applicant, channel=channel, desk_session=desk_session, clerk=clerk
        )
    elif fee_paid_in_cash:
        raise ProcedureError("cash_online", _("Cash is taken only at the municipal desk."))
    if fee_paid_in_cash and not procedure.fee_yen:
        raise ProcedureError("no_fee", _("This procedure has no fee."))
    if not open_for_applications(procedure):
        raise ProcedureError("closed", _("This procedure is not accepting applications now."))
    if version.pk != procedure.current_version_id:
        raise ProcedureError(
            "stale_form", _("The form has changed since you started. Please check your answers.")
        )
    content = canonical_for(procedure, version, answers)
    verified = None
    if procedure.signature_required:
        if not signature:
            raise ProcedureError("signature_required", _("This procedure needs your electronic signature."))
        verified = _verify_signature(
            content=content, signature=signature, applicant=applicant, strict=desk_session is not None
        )
    now = timezone.now()
    secret = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(10))
    # References are random (32^10 per municipality prefix): a clash is retried with a new one. The retry wraps
    # the whole transaction rather than a savepoint around the INSERT, which would cost two more statements on
    # every filing for a case that practically never happens.
    for attempt in range(5):
        reference = _new_reference(procedure.municipality)
        try:
            submission = _file_once(
                procedure=procedure, version=version, answers=answers, applicant=applicant,
                signature=signature, verified=verified, content=content, reference=reference,
                secret=secret, now=now, attachment_ids=attachment_ids, owner_key=owner_key, filing=filing,
                desk=(desk_session, clerk, fee_paid_in_cash) if desk_session is not None else None,
            )  # fmt: skip
            break
        except IntegrityError:
            if attempt == 4 or not Submission.objects.filter(reference=reference).exists():
                raise
    return Filed(submission=submission, secret=secret)


def _check_desk_filing(*, procedure, applicant, channel, desk_session, clerk) -> None:
    """A desk filing: counter channel, the clerk's own open desk session of this municipality, serving the
    applicant. Anything else is refused before anything is written."""
    if channel != Submission.Channel.COUNTER or desk_session is None or clerk is None:
        raise ProcedureError(
            "desk_filing",
            _("A counter filing needs the desk session and the clerk; paper cases are recorded."),
        )
    if (
        desk_session.ended_at is not None
        or desk_session.clerk_id != getattr(clerk, "pk", None)
        or desk_session.municipality_id != procedure.municipality_id
    ):
        raise ProcedureError("desk_session", _("This desk session has ended or belongs elsewhere."))
    resident = desk_session.resident
    if resident is None or applicant is None or resident.user_id != getattr(applicant, "pk", None):
        raise ProcedureError("desk_resident", _("No resident is identified at this desk."))


def _file_once(
    *, procedure, version, answers, applicant, signature, verified, content, reference, secret, now,
    attachment_ids, owner_key, filing, desk=None,
) -> Submission:  # fmt: skip
    """One attempt of `submission_file`'s transaction with this reference (`desk`: session, clerk, cash)."""
    desk_session, clerk, cash = desk or (None, None, False)
    with transaction.atomic():
        submission = Submission(
            municipality=procedure.municipality,
            procedure=procedure,
            form_version=version,
            secret_hash=_secret_hash(secret),
            channel=Submission.Channel.ONLINE if desk_session is None else Submission.Channel.COUNTER,
            applicant=applicant if getattr(applicant, "pk", None) else None,
            applicant_name=_applicant_name(answers),
            contact_email=_applicant_email(answers),
            fee_yen=procedure.fee_yen,
            filing=filing,
            retain_until=None,
            desk_session=desk_session,
            clerk=clerk,
        )
        if procedure.fee_yen and cash:
            submission.payment_state = Submission.PaymentState.PAID
            _mark_submitted(submission, now)
        elif procedure.fee_yen:
            submission.status = S.AWAITING_PAYMENT
            submission.payment_state = Submission.PaymentState.PENDING
        else:
            _mark_submitted(submission, now)
        submission.reference = reference
        fastsql.insert(submission)  # the busiest INSERTs of the app: built once (see core/fastsql.py)
        revision = SubmissionRevision(
            submission=submission,
            number=1,
            answers=answers,
            canonical=content,
            sha256=hashlib.sha256(content).hexdigest(),
            signature=signature if verified is not None else None,
            signer_serial=verified.serial if verified is not None else "",
            signer_issuer=verified.issuer if verified is not None else "",
            signed_at=now if verified is not None else None,
        )
        fastsql.insert(revision)
        if attachment_ids:
            Attachment.objects.filter(
                pk__in=attachment_ids, procedure=procedure, owner_key=owner_key, submission__isnull=True
            ).update(submission=submission)
        if desk_session is not None:
            _file_at_desk(submission=submission, desk_session=desk_session, clerk=clerk, cash=cash, now=now,
                          content=content, signed=verified is not None)  # fmt: skip
        else:
            fastsql.insert(SubmissionEvent(
                submission=submission, kind=SubmissionEvent.Kind.STATUS, to_status=submission.status,
                visible_to_applicant=True, author=submission.applicant,
            ))  # fmt: skip
            audit.record(
                actor=applicant if submission.applicant else audit.Actor("applicant", "", "applicant"),
                action="procedures.submission_filed", target=submission, municipality=procedure.municipality,
                details={"reference": submission.reference, "procedure": procedure.code,
                         "version": version.number, "sha256": hashlib.sha256(content).hexdigest(),
                         "signed": verified is not None, "status": submission.status},
            )  # fmt: skip
        if applicant is not None and getattr(applicant, "pk", None):
            Draft.objects.filter(user=applicant, procedure=procedure).delete()
    return submission


def _file_at_desk(*, submission, desk_session, clerk, cash, now, content, signed) -> None:
    """The desk filing's event, cash receipt and audit records (clerk as actor; resident and session named)."""
    desk_details = {"desk_session": desk_session.pk, "resident": desk_session.resident_id}
    SubmissionEvent.objects.create(
        submission=submission, kind=SubmissionEvent.Kind.STATUS, to_status=submission.status,
        visible_to_applicant=True, author=clerk, body=_("Filed at the municipal desk with a clerk."),
    )  # fmt: skip
    audit.record(
        actor=clerk, action="procedures.submission_filed", target=submission, municipality=submission.municipality,
        details={"reference": submission.reference, "procedure": submission.procedure.code,
                 "version": submission.form_version.number, "sha256": hashlib.sha256(content).hexdigest(),
                 "signed": signed, "status": submission.status, "channel": submission.channel, **desk_details},
    )  # fmt: skip
    if cash:
        payment = Payment.objects.create(
            submission=submission, amount=submission.fee_yen, status=Payment.Status.SUCCEEDED, paid_at=now,
            reference=f"CASH-{secrets.token_hex(10).upper()}", method=Payment.Method.CASH, received_by=clerk,
        )  # fmt: skip
        SubmissionEvent.objects.create(
            submission=submission, kind=SubmissionEvent.Kind.PAYMENT, to_status=submission.status,
            body=_("Fee paid in cash at the counter: %(amount)s yen.") % {"amount": f"{payment.amount:,}"},
            visible_to_applicant=True, author=clerk,
        )  # fmt: skip
        audit.record(
            actor=clerk, action="procedures.payment_cash_received", target=payment,
            municipality=submission.municipality,
            details={"reference": submission.reference, "amount": payment.amount, **desk_details},
        )  # fmt: skip


def submission_record_offline(
    *, procedure: Procedure, channel: str, actor, applicant_name: str = "", received_on: date | None = None,
    answers: dict | None = None,
) -> Submission:  # fmt: skip
    """Staff record a case received on paper or at the counter, so that usage statistics count it."""
    channel = Submission.Channel(channel)
    if channel == Submission.Channel.ONLINE:
        raise ProcedureError("channel", _("Online cases are filed by the applicant."))
    if procedure.current_version_id is None:
        raise ProcedureError("no_form", _("Publish a form before recording cases."))
    received_on = received_on or timezone.localdate()
    now = timezone.now()
    with transaction.atomic():
        submission = Submission(
            municipality=procedure.municipality, procedure=procedure, form_version=procedure.current_version,
            channel=channel, status=S.SUBMITTED, recorded_by=actor, applicant_name=applicant_name[:200],
            fee_yen=procedure.fee_yen,
        )  # fmt: skip
        _mark_submitted(submission, now)
        submission.fiscal_year = fiscal_year(received_on)
        submission.due_on = add_business_days(received_on, procedure.processing_days)
        submission.reference = _new_reference(procedure.municipality)
        submission.save()
        content = canonical_for(procedure, procedure.current_version, answers or {})
        SubmissionRevision.objects.create(
            submission=submission, number=1, answers=answers or {}, canonical=content,
            sha256=hashlib.sha256(content).hexdigest(),
        )  # fmt: skip
        SubmissionEvent.objects.create(
            submission=submission, kind=SubmissionEvent.Kind.STATUS, to_status=S.SUBMITTED, author=actor,
            body=_("Recorded by staff (%(channel)s), received on %(date)s.")
            % {"channel": channel.label, "date": received_on.isoformat()},
        )  # fmt: skip
        audit.record(
            actor=actor, action="procedures.submission_recorded", target=submission,
            municipality=procedure.municipality,
            details={"reference": submission.reference, "channel": channel.value,
                     "received_on": received_on.isoformat()},
        )  # fmt: skip
    return submission


def submission_lookup(*, reference: str, secret: str) -> Submission | None:
    """Status without an account: the reference number plus the secret shown once at filing."""
    found = Submission.objects.filter(reference=reference.strip().upper()).select_related("procedure").first()
    if found is None or not found.secret_hash:
        _secret_hash(secret)  # same work either way
        return None
    if not hmac.compare_digest(found.secret_hash, _secret_hash(secret)):
        return None
    return found


# --- Payments -----------------------------------------------------------------------------------------------
def payment_start(*, submission: Submission, return_url: str, callback_url: str) -> Payment:
    """Open (or reuse) the submission's payment at the gateway. Never two open payments: no double charge."""
    if submission.payment_state != Submission.PaymentState.PENDING:
        raise ProcedureError("not_payable", _("There is nothing to pay for this application."))
    with transaction.atomic():
        Submission.objects.select_for_update().filter(pk=submission.pk).first()
        payment = submission.payments.filter(
            status__in=[Payment.Status.CREATED, Payment.Status.SUCCEEDED]
        ).first()
        if payment is None:
            payment = Payment.objects.create(
                submission=submission,
                amount=submission.fee_yen,
                reference=f"PAY-{secrets.token_hex(10).upper()}",
            )
            audit.record(
                actor=submission.applicant, action="procedures.payment_opened", target=payment,
                municipality=submission.municipality,
                details={"reference": submission.reference, "amount": payment.amount},
            )  # fmt: skip
    if payment.status == Payment.Status.SUCCEEDED:
        return payment
    if not payment.gateway_id:
        # The gateway's idempotency key is our payment reference: a retry returns the same gateway payment.
        created = payments.create_payment(
            reference=payment.reference,
            amount=payment.amount,
            description=f"{submission.procedure.name} ({submission.reference})",
            return_url=return_url,
            callback_url=callback_url,
        )
        Payment.objects.filter(pk=payment.pk).update(gateway_id=created.gateway_id, next_url=created.next_url)
        payment.refresh_from_db()
    return payment


def payment_settle(*, status: payments.PaymentStatus) -> Payment | None:
    """Apply the gateway's word on a payment (signed callback or a fetch). Idempotent: a second callback,
    or a callback and a return-page check racing, change nothing the second time."""
    payment = Payment.objects.filter(reference=status.reference).select_related("submission").first()
    if payment is None or (payment.gateway_id and payment.gateway_id != status.gateway_id):
        return None
    if status.status == "succeeded":
        if status.amount != payment.amount:
            raise ProcedureError("amount_mismatch", _("The amount paid does not match the fee."))
        with transaction.atomic():
            updated = Payment.objects.filter(pk=payment.pk, status=Payment.Status.CREATED).update(
                status=Payment.Status.SUCCEEDED, paid_at=status.paid_at or timezone.now(),
                gateway_id=status.gateway_id,
            )  # fmt: skip
            if updated:
                submission = (
                    Submission.objects.select_for_update()
                    .select_related("procedure")
                    .get(pk=payment.submission_id)
                )
                submission.payment_state = Submission.PaymentState.PAID
                if submission.status == S.AWAITING_PAYMENT:
                    _mark_submitted(submission, timezone.now())
                submission.save(
                    update_fields=["payment_state", "status", "submitted_at", "fiscal_year", "due_on"]
                )
                SubmissionEvent.objects.create(
                    submission=submission, kind=SubmissionEvent.Kind.PAYMENT, to_status=submission.status,
                    body=_("Fee paid: %(amount)s yen.") % {"amount": f"{payment.amount:,}"},
                    visible_to_applicant=True,
                )  # fmt: skip
                audit.record(
                    actor=audit.Actor("gateway", "", "payment gateway"), action="procedures.payment_succeeded",
                    target=payment, municipality=submission.municipality,
                    details={"reference": submission.reference, "amount": payment.amount,
                             "gateway_id": status.gateway_id},
                )  # fmt: skip
    elif status.status in ("failed", "cancelled"):
        with transaction.atomic():
            updated = Payment.objects.filter(pk=payment.pk, status=Payment.Status.CREATED).update(
                status=status.status
            )
            if updated:
                audit.record(
                    actor=audit.Actor("gateway", "", "payment gateway"), action="procedures.payment_" + status.status,
                    target=payment, municipality=payment.submission.municipality,
                    details={"reference": payment.submission.reference},
                )  # fmt: skip
    payment.refresh_from_db()
    return payment


# --- Processing ---------------------------------------------------------------------------------------------
def _locked(submission: Submission) -> Submission:
    return (
        Submission.objects.select_for_update()
        .select_related("procedure", "municipality")
        .get(pk=submission.pk)
    )


def submission_transition(*, submission: Submission, to: str, actor, message: str = "") -> Submission:
    """A staff decision or step. Correction requests and refusals need a message to the applicant."""
    to = S(to)
    with transaction.atomic():
        submission = _locked(submission)
        if to not in STAFF_TRANSITIONS.get(submission.status, frozenset()):
            raise ProcedureError(
                "transition",
                _("A case that is %(from)s cannot become %(to)s.")
                % {"from": S(submission.status).label, "to": to.label},
            )
        if to in (S.CORRECTION_REQUESTED, S.REFUSED) and not message.strip():
            raise ProcedureError("message_required", _("Tell the applicant why (the message is required)."))
        old = submission.status
        submission.status = to
        now = timezone.now()
        fields = ["status"]
        if to in DECIDED:
            submission.decided_at = now
            fields.append("decided_at")
        if to in CLOSED:
            submission.closed_at = now
            submission.retain_until = _retain_until(submission, now)
            fields += ["closed_at", "retain_until"]
        submission.save(update_fields=fields)
        SubmissionEvent.objects.create(
            submission=submission, kind=SubmissionEvent.Kind.STATUS, from_status=old, to_status=to,
            body=message.strip(), visible_to_applicant=True, author=actor,
        )  # fmt: skip
        audit.record(
            actor=actor, action="procedures.submission_status", target=submission,
            municipality=submission.municipality,
            details={"reference": submission.reference, "from": old, "to": to.value},
        )  # fmt: skip
    return submission


def _retain_until(submission: Submission, now: datetime) -> date:
    closed = now.astimezone(JST).date()
    years = submission.procedure.retention_years
    try:
        return closed.replace(year=closed.year + years)
    except ValueError:  # 29 February
        return closed.replace(year=closed.year + years, day=28)


def submission_withdraw(*, submission: Submission, actor) -> Submission:
    """The applicant withdraws (取下げ) before a decision."""
    with transaction.atomic():
        submission = _locked(submission)
        if submission.applicant_id is None or submission.applicant_id != getattr(actor, "pk", None):
            raise PermissionDenied
        if submission.status not in WITHDRAWABLE:
            raise ProcedureError("transition", _("This application can no longer be withdrawn."))
        old = submission.status
        now = timezone.now()
        submission.status = S.WITHDRAWN
        submission.closed_at = now
        submission.retain_until = _retain_until(submission, now)
        submission.save(update_fields=["status", "closed_at", "retain_until"])
        SubmissionEvent.objects.create(
            submission=submission, kind=SubmissionEvent.Kind.STATUS, from_status=old, to_status=S.WITHDRAWN,
            visible_to_applicant=True, author=actor,
        )  # fmt: skip
        audit.record(
            actor=actor, action="procedures.submission_withdrawn", target=submission,
            municipality=submission.municipality, details={"reference": submission.reference, "from": old},
        )  # fmt: skip
    return submission


def submission_resubmit(
    *, submission: Submission, answers: dict, actor, signature: bytes | None = None, message: str = ""
) -> SubmissionRevision:
    """The applicant answers a correction request with corrected answers: a new (signed) revision."""
    procedure = submission.procedure
    version = submission.form_version
    content = canonical_for(procedure, version, answers)
    verified = None
    if procedure.signature_required:
        if not signature:
            raise ProcedureError("signature_required", _("This procedure needs your electronic signature."))
        verified = _verify_signature(content=content, signature=signature, applicant=actor)
    with transaction.atomic():
        submission = _locked(submission)
        if submission.applicant_id is None or submission.applicant_id != getattr(actor, "pk", None):
            raise PermissionDenied
        if submission.status != S.CORRECTION_REQUESTED:
            raise ProcedureError("transition", _("No correction was requested for this application."))
        number = submission.revisions.count() + 1
        now = timezone.now()
        revision = SubmissionRevision.objects.create(
            submission=submission, number=number, answers=answers, canonical=content,
            sha256=hashlib.sha256(content).hexdigest(),
            signature=signature if verified is not None else None,
            signer_serial=verified.serial if verified is not None else "",
            signer_issuer=verified.issuer if verified is not None else "",
            signed_at=now if verified is not None else None,
        )  # fmt: skip
        submission.status = S.RESUBMITTED
        submission.save(update_fields=["status"])
        SubmissionEvent.objects.create(
            submission=submission, kind=SubmissionEvent.Kind.STATUS, from_status=S.CORRECTION_REQUESTED,
            to_status=S.RESUBMITTED, body=message.strip(), visible_to_applicant=True, author=actor,
        )  # fmt: skip
        audit.record(
            actor=actor, action="procedures.submission_resubmitted", target=submission,
            municipality=submission.municipality,
            details={"reference": submission.reference, "revision": number, "sha256": revision.sha256},
        )  # fmt: skip
    return revision


def submission_message(
    *, submission: Submission, actor, body: str, internal: bool = False
) -> SubmissionEvent:
    """A message to the applicant (shown on the status page and mailed) or, internal=True, a staff note."""
    body = body.strip()
    if not body:
        raise ProcedureError("empty", _("Write a message."))
    applicant_side = getattr(actor, "pk", None) is not None and actor.pk == submission.applicant_id
    kind = (
        SubmissionEvent.Kind.NOTE if internal
        else SubmissionEvent.Kind.REPLY if applicant_side
        else SubmissionEvent.Kind.MESSAGE
    )  # fmt: skip
    with transaction.atomic():
        event = SubmissionEvent.objects.create(
            submission=submission,
            kind=kind,
            body=body[:5000],
            visible_to_applicant=not internal,
            author=actor,
        )
        audit.record(
            actor=actor, action=f"procedures.submission_{kind}", target=submission,
            municipality=submission.municipality, details={"reference": submission.reference, "event": event.pk},
        )  # fmt: skip
    if kind == SubmissionEvent.Kind.MESSAGE:
        from madoguchi.procedures import notices

        notices.mail_message(submission, body)
    return event


def submission_assign(*, submission: Submission, actor, assignee) -> Submission:
    with transaction.atomic():
        submission = _locked(submission)
        Submission.objects.filter(pk=submission.pk).update(assigned_to=assignee)
        submission.assigned_to = assignee
        SubmissionEvent.objects.create(
            submission=submission, kind=SubmissionEvent.Kind.ASSIGNMENT, author=actor,
            body=assignee.get_username() if assignee else "",
        )  # fmt: skip
        audit.record(
            actor=actor, action="procedures.submission_assigned", target=submission,
            municipality=submission.municipality,
            details={"reference": submission.reference, "assignee": assignee.pk if assignee else None},
        )  # fmt: skip
    return submission


def tally_set(*, procedure: Procedure, fiscal_year: int, channel: str, count: int, actor) -> UsageTally:
    """Bulk count of cases received outside the platform (for procedures whose paper cases are not keyed in)."""
    channel = Submission.Channel(channel)
    if channel == Submission.Channel.ONLINE or count < 0:
        raise ProcedureError(
            "tally", _("Only counter and paper cases are counted by hand, as whole numbers.")
        )
    with transaction.atomic():
        tally, _c = UsageTally.objects.update_or_create(
            procedure=procedure, fiscal_year=fiscal_year, channel=channel,
            defaults={"count": count, "recorded_by": actor, "municipality": procedure.municipality},
        )  # fmt: skip
        audit.record(
            actor=actor, action="procedures.tally_set", target=tally, municipality=procedure.municipality,
            details={"procedure": procedure.code, "fiscal_year": fiscal_year, "channel": channel.value,
                     "count": count},
        )  # fmt: skip
    return tally


# --- Life-event bundles of a municipality ------------------------------------------------------------------
SHARED_TYPES = frozenset(
    {"text", "kana", "date", "email", "phone", "postcode", "number", "choice", "textarea"}
)


def bundle_create(
    *, municipality: Municipality, actor, code: str, name: str, life_event: str, procedure_codes: list[str]
) -> LifeEventBundle:
    """A municipality's own one-stop: the shared questions are the fields its procedures have in common (same
    key and type in at least two of them, in the first procedure's order); each procedure's answers map 1:1."""
    if len(procedure_codes) < 2:
        raise ProcedureError("bundle", _("Choose at least two procedures."))
    procedures = list(
        Procedure.objects.filter(
            municipality=municipality, code__in=procedure_codes, current_version__isnull=False
        ).select_related("current_version")
    )
    by_code = {p.code: p for p in procedures}
    if set(by_code) != set(procedure_codes):
        raise ProcedureError("bundle", _("Every procedure must be published with a form."))
    fields_of = {
        c: {
            f.key: f
            for f in parse_definition(by_code[c].current_version.definition).fields_in_order
            if f.group is None
        }
        for c in procedure_codes
    }
    shared, seen = [], set()
    for c in procedure_codes:
        for key, field in fields_of[c].items():
            if key in seen or field.type not in SHARED_TYPES:
                continue
            same = [
                o for o in procedure_codes if key in fields_of[o] and fields_of[o][key].type == field.type
            ]
            if len(same) >= 2:
                item = field.to_json()
                item.pop("show_if", None)
                item.pop("address_field", None)
                item["required"] = False
                shared.append(item)
                seen.add(key)
    if not shared:
        raise ProcedureError("bundle", _("These procedures have no questions in common."))
    definition = parse_definition(
        {
            "schema": 1,
            "title": {"ja": name},
            "pages": [{"key": "shared", "title": {"ja": "共通の質問"}, "fields": shared}],
        }
    )
    mapping = {c: {k: k for k in seen if k in fields_of[c]} for c in procedure_codes}
    with transaction.atomic():
        if LifeEventBundle.objects.filter(municipality=municipality, code=code).exists():
            raise ProcedureError("exists", _("A one-stop service with this code already exists."))
        bundle = LifeEventBundle.objects.create(
            municipality=municipality, code=code, name=name, life_event=life_event, procedure_codes=procedure_codes,
            shared_definition=definition.to_json(), mapping=mapping,
        )  # fmt: skip
        audit.record(
            actor=actor, action="procedures.bundle_created", target=bundle, municipality=municipality,
            details={"code": code, "procedures": procedure_codes, "shared": sorted(seen)},
        )  # fmt: skip
    return bundle


# --- Retention ----------------------------------------------------------------------------------------------
def retention_purge(*, today: date | None = None, limit: int = 1000) -> int:
    """Delete the contents of closed submissions whose retention period has ended (文書の保存期間満了).

    What stays: the submission row (reference, procedure, channel, dates, status) so that statistics and the
    audit trail still add up; what goes: answers, signatures, attachments, messages, the applicant's name.
    One audit record per submission, in the same transaction as its deletion.
    """
    today = today or timezone.localdate()
    due = list(
        Submission.objects.filter(retain_until__lt=today, purged_at__isnull=True)
        .select_related("municipality")
        .order_by("retain_until", "pk")[:limit]
    )
    for submission in due:
        with transaction.atomic():
            revisions = SubmissionRevision.objects.filter(submission=submission)
            digests = list(revisions.values_list("sha256", flat=True))
            revisions.delete()
            files = Attachment.objects.filter(submission=submission).delete()[0]
            SubmissionEvent.objects.filter(submission=submission).exclude(
                kind=SubmissionEvent.Kind.STATUS
            ).delete()
            SubmissionEvent.objects.filter(submission=submission).update(body="")
            Submission.objects.filter(pk=submission.pk).update(
                purged_at=timezone.now(), applicant_name="", contact_email="", secret_hash=""
            )
            audit.record(
                actor=None, action="procedures.submission_purged", target=submission,
                municipality=submission.municipality,
                details={"reference": submission.reference, "retain_until": submission.retain_until.isoformat(),
                         "revisions": digests, "attachments": files},
            )  # fmt: skip
    return len(due)

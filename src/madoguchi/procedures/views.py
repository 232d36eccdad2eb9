"""The applicant's pages (Internet zone): catalogue, the step-by-step form, check your answers, signature,
payment, confirmation, receipt and status.

The answers in progress live in the session (and, for a signed-in resident, in a Draft: save and resume).
They never hold a My Number: `answers.clean` swaps it for a vault token on the page where it is typed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.core.selectors import municipality_by_code
from madoguchi.identity import card_simulator
from madoguchi.identity.resident_services import SignInRefused
from madoguchi.procedures import payments, postcodes, selectors, services
from madoguchi.procedures.answers import MyNumberUnavailable, display_rows, text_of
from madoguchi.procedures.formengine import Field, FormDefinition, parse_definition, visible_fields
from madoguchi.procedures.forms import CatalogueSearchForm, MessageForm, SignForm, StatusLookupForm, StepForm
from madoguchi.procedures.models import (
    Attachment,
    Draft,
    LifeEventBundle,
    Procedure,
    Submission,
    SubmissionRevision,
)
from madoguchi.procedures.notices import mail_receipt, receipt_pdf

FILED_SESSION_KEY = "procedures_filed"  # references this browser filed (with their status code, shown once)
MAX_UPLOAD = 10 * 1024 * 1024


# --- Catalogue ----------------------------------------------------------------------------------------------
def search(request: HttpRequest) -> HttpResponse:
    """ぴったりサービス: every municipality's procedures by keyword, life event and category."""
    form = CatalogueSearchForm(request.GET or None)
    results = None
    municipality = None
    if form.is_bound and form.is_valid():
        code = form.cleaned_data["municipality"]
        if code:
            municipality = municipality_by_code(code)
            if municipality is None:
                form.add_error("municipality", _("No municipality has this code."))
        if not form.errors:
            results = selectors.procedures_search(
                municipality=municipality, keyword=form.cleaned_data["q"],
                life_event=form.cleaned_data["life_event"], category=form.cleaned_data["category"],
            )[:200]  # fmt: skip
    return render(request, "procedures/search.html", {"form": form, "results": results})


def catalogue(request: HttpRequest, municipality_code: str) -> HttpResponse:
    form = CatalogueSearchForm(request.GET or None)
    keyword = life_event = category = ""
    if form.is_bound and form.is_valid():
        keyword, life_event, category = (form.cleaned_data[k] for k in ("q", "life_event", "category"))
    found = selectors.procedures_search(
        municipality=request.municipality, keyword=keyword, life_event=life_event, category=category
    )
    bundles = LifeEventBundle.objects.filter(
        Q(municipality__isnull=True) | Q(municipality=request.municipality)
    ).order_by("municipality", "code")
    return render(
        request, "procedures/catalogue.html",
        {"form": form, "procedures": found, "bundles": bundles, "municipality": request.municipality},
    )  # fmt: skip


def _procedure(request: HttpRequest, code: str) -> Procedure:
    procedure = selectors.procedure_for_applicant(request.municipality, code)
    if procedure is None:
        raise Http404(_("There is no such procedure in this municipality."))
    return procedure


def detail(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    procedure = _procedure(request, code)
    definition = parse_definition(procedure.current_version.definition) if procedure.current_version else None
    needs = []
    if definition is not None:
        needs = [text_of(f.label) for f in definition.fields_in_order if f.type == "file" and f.label]
    return render(
        request, "procedures/detail.html",
        {"procedure": procedure, "open": services.open_for_applications(procedure), "attachments": needs,
         "needs_mynumber": definition is not None and any(f.type == "mynumber" for f in definition.fields_in_order)},
    )  # fmt: skip


# --- Steps --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    key: str
    page: str
    title: str
    fields: tuple[Field, ...]


def steps_of(definition: FormDefinition, answers: dict) -> list[Step]:
    """The steps the applicant walks now: a page with its visible fields, or one visible field per step."""
    out = []
    for page in definition.pages:
        shown = visible_fields(definition, answers, page=page.key)
        shown = [f for f in shown if f.group is None]
        if not shown:
            continue
        if definition.one_question_per_page:
            for field in shown:
                out.append(
                    Step(
                        f"{page.key}.{field.key}",
                        page.key,
                        text_of(field.label) or text_of(page.title),
                        (field,),
                    )
                )
        else:
            out.append(Step(page.key, page.key, text_of(page.title), tuple(shown)))
    return out


def _state_key(procedure: Procedure) -> str:
    return f"procedures:{procedure.municipality.code}:{procedure.code}"


def _state(request: HttpRequest, procedure: Procedure) -> dict:
    state = request.session.get(_state_key(procedure))
    version = procedure.current_version
    if state is None or state.get("version") != version.pk:
        state = {"version": version.pk, "answers": {}, "attachments": [], "groups": {}}
        if request.user.is_authenticated:
            draft = Draft.objects.filter(user=request.user, procedure=procedure, form_version=version).first()
            if draft is not None:
                state["answers"] = draft.answers
                state["resumed"] = True
            else:
                state["answers"] = _remembered(request.user, parse_definition(version.definition))
    return state


def _save_state(request: HttpRequest, procedure: Procedure, state: dict, page: str = "") -> None:
    request.session[_state_key(procedure)] = state
    request.session.modified = True
    if request.user.is_authenticated and not state.get("correcting"):
        services.draft_save(
            user=request.user, procedure=procedure, version=procedure.current_version,
            answers=state["answers"], page=page,
        )  # fmt: skip


def _remembered(user, definition: FormDefinition) -> dict:
    """Once only: what this resident already gave in an earlier application, for fields with a prefill source."""
    wanted = {f.prefill: f.key for f in definition.fields_in_order if f.prefill and f.group is None}
    if not wanted:
        return {}
    previous = (
        SubmissionRevision.objects.filter(submission__applicant=user, submission__purged_at__isnull=True)
        .select_related("submission__form_version")
        .order_by("-created_at")[:5]
    )
    found: dict = {}
    for revision in previous:
        try:
            earlier = parse_definition(revision.submission.form_version.definition)
        except Exception:  # noqa: BLE001, S112 — a definition that no longer parses gives nothing to reuse
            continue
        for field in earlier.fields_in_order:
            if field.prefill in wanted and field.key in revision.answers and field.type != "mynumber":
                found.setdefault(wanted[field.prefill], revision.answers[field.key])
    return found


def _basic4_answers(definition: FormDefinition, info) -> dict:
    values = {
        "basic4.name": info.name,
        "basic4.name_kana": info.name_kana or "",
        "basic4.address": info.address,
        "basic4.date_of_birth": info.date_of_birth.isoformat(),
        "basic4.sex": info.sex,
    }
    return {
        f.key: values[f.prefill]
        for f in definition.fields_in_order
        if f.prefill in values and values[f.prefill]
    }


def _open_or_404(procedure: Procedure) -> None:
    if not services.open_for_applications(procedure):
        raise Http404(_("This procedure is not accepting applications now."))


@never_cache
def start(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    procedure = _procedure(request, code)
    _open_or_404(procedure)
    if procedure.signature_required and not request.user.is_authenticated:
        return redirect(f"{reverse('web:resident_sign_in')}?next={request.path}")
    state = _state(request, procedure)
    _save_state(request, procedure, state)
    steps = steps_of(parse_definition(procedure.current_version.definition), state["answers"])
    return redirect("procedures:step", municipality_code=municipality_code, code=code, step=steps[0].key)


@never_cache
@require_http_methods(["GET", "POST"])
def step(request: HttpRequest, municipality_code: str, code: str, step: str) -> HttpResponse:
    procedure = _procedure(request, code)
    _open_or_404(procedure)
    state = _state(request, procedure)
    definition = parse_definition(procedure.current_version.definition)
    steps = steps_of(definition, state["answers"])
    keys = [s.key for s in steps]
    if step not in keys:
        return redirect("procedures:start", municipality_code=municipality_code, code=code)
    index = keys.index(step)
    current = steps[index]
    action = request.POST.get("action", "next")
    group_items = dict(state.get("groups", {}))
    if action.startswith("add:") or action.startswith("remove:"):
        verb, _sep, key = action.partition(":")
        if key in {f.key for f in current.fields if f.type == "group"}:
            group_items[key] = max(
                1,
                group_items.get(key, len(state["answers"].get(key) or []) or 1)
                + (1 if verb == "add" else -1),
            )
    form = StepForm(
        request.POST or None, definition=definition, fields=list(current.fields), page_key=current.page,
        answers=state["answers"], group_items=group_items, actor=request.user, municipality=procedure.municipality,
    )  # fmt: skip
    if request.method == "POST":
        upload_errors = _take_uploads(request, procedure, current, state)
        if action.startswith("lookup:"):
            posted = {
                k: v
                for k, v in form.raw().items()
                if v not in (None, "", []) and not _is_mynumber(definition, k)
            }
            state["answers"].update(posted)
            _lookup_address(request, definition, action.partition(":")[2], state, form)
            _save_state(request, procedure, state, current.key)
            return redirect(
                "procedures:step", municipality_code=municipality_code, code=code, step=current.key
            )
        try:
            form.extra_answers = {
                k: state["answers"][k] for k in _file_keys(current) if k in state["answers"]
            }
            valid = form.is_valid() and not upload_errors
            for key, message in upload_errors:
                form.add_upload_error(key, message)
        except MyNumberUnavailable as exc:
            messages.error(request, str(exc))
            return redirect("procedures:detail", municipality_code=municipality_code, code=code)
        if action.startswith(("add:", "remove:")):
            state["groups"] = form.group_items
            state["answers"].update({k: v for k, v in form.raw().items() if not _is_mynumber(definition, k)})
            _save_state(request, procedure, state, current.key)
            return redirect(
                "procedures:step", municipality_code=municipality_code, code=code, step=current.key
            )
        if valid:
            for field in current.fields:
                if field.key in form.cleaned_answers:
                    state["answers"][field.key] = form.cleaned_answers[field.key]
                else:
                    state["answers"].pop(field.key, None)
            state["groups"] = form.group_items
            _save_state(request, procedure, state, current.key)
            if action == "save":
                messages.success(request, _("Your answers are saved. You can continue later from this page."))
                return redirect(
                    "procedures:step", municipality_code=municipality_code, code=code, step=current.key
                )
            steps = steps_of(definition, state["answers"])  # answers may show or hide later steps
            keys = [s.key for s in steps]
            position = keys.index(current.key) if current.key in keys else index
            if state.get("from_check") or position + 1 >= len(steps):
                return redirect("procedures:check", municipality_code=municipality_code, code=code)
            return redirect(
                "procedures:step", municipality_code=municipality_code, code=code, step=keys[position + 1]
            )
    if request.GET.get("change") is not None:
        state["from_check"] = True
        _save_state(request, procedure, state, current.key)
    return render(
        request, "procedures/step.html",
        {"procedure": procedure, "definition": definition, "form": form, "step": current,
         "number": index + 1, "count": len(steps), "previous": keys[index - 1] if index else None,
         "files": _files_for(state, current), "resumed": state.pop("resumed", False),
         "simulator": card_simulator.enabled() and request.user.is_authenticated and index == 0
                      and any(f.prefill and f.prefill.startswith("basic4.") for f in definition.fields_in_order),
         "demo_cards": card_simulator.demo_cards() if request.user.is_authenticated else []},
    )  # fmt: skip


def _is_mynumber(definition: FormDefinition, key: str) -> bool:
    field = definition.by_key.get(key)
    return field is not None and field.type == "mynumber"


def _file_keys(current: Step) -> list[str]:
    return [f.key for f in current.fields if f.type == "file"]


def _files_for(state: dict, current: Step) -> dict[str, list]:
    return {key: _as_list(state["answers"].get(key)) for key in _file_keys(current)}


def _owner_key(request: HttpRequest) -> str:
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    if not request.session.session_key:
        request.session.save()
    return "session:" + hashlib.sha256(request.session.session_key.encode()).hexdigest()[:40]


def _take_uploads(
    request: HttpRequest, procedure: Procedure, current: Step, state: dict
) -> list[tuple[str, str]]:
    """無害化 of each uploaded file before it is kept; returns (field, message) for each refused file."""
    from madoguchi.security.services import sanitize_upload

    errors: list[tuple[str, str]] = []
    japanese = (get_language() or "ja").startswith("ja")
    for field in current.fields:
        if field.type != "file":
            continue
        existing = _as_list(state["answers"].get(field.key))
        removed = set(request.POST.getlist(f"{field.key}__remove"))
        existing = [f for f in existing if str(f.get("id")) not in removed]
        for upload in request.FILES.getlist(field.key):
            if upload.size > (field.max_bytes or MAX_UPLOAD):
                errors.append((field.key, _("%(name)s is too large.") % {"name": upload.name}))
                continue
            result = sanitize_upload(
                data=upload.read(), filename=upload.name, municipality=procedure.municipality,
                actor=request.user if request.user.is_authenticated else None,
            )  # fmt: skip
            if not result.ok:
                reasons = "; ".join(r.ja if japanese else r.en for r in result.report.reasons)
                message = _("%(name)s was refused: %(reason)s") % {
                    "name": upload.name, "reason": reasons or _("unsafe content")
                }  # fmt: skip
                errors.append((field.key, message))
                continue
            data = result.data
            content_type = getattr(result.report, "detected_type", "") or upload.content_type or ""
            attachment = Attachment.objects.create(
                municipality=procedure.municipality, procedure=procedure, owner_key=_owner_key(request),
                field_key=field.key, name=result.filename[:255], content_type=_mime(content_type, result.filename),
                size=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data,
                report=_report_dict(result.report),
            )  # fmt: skip
            existing.append(
                {"id": attachment.pk, "name": attachment.name, "size": attachment.size,
                 "content_type": attachment.content_type}
            )  # fmt: skip
            state.setdefault("attachments", []).append(attachment.pk)
        single = (field.max_files or 1) == 1
        if existing:
            # One file: the engine's answer is the reference itself (a newer upload replaces the older one).
            state["answers"][field.key] = existing[-1] if single else existing
        else:
            state["answers"].pop(field.key, None)
    return errors


def _as_list(value) -> list:
    if not value:
        return []
    return list(value) if isinstance(value, list) else [value]


def _mime(detected: str, filename: str) -> str:
    if "/" in detected:
        return detected
    ext = filename.rsplit(".", 1)[-1].lower()
    return {
        "pdf": "application/pdf", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }.get(ext, "application/octet-stream")  # fmt: skip


def _report_dict(report) -> dict:
    to_dict = getattr(report, "to_dict", None) or getattr(report, "as_dict", None)
    try:
        return to_dict() if callable(to_dict) else {}
    except Exception:  # noqa: BLE001 — the report is informative only
        return {}


def _lookup_address(request, definition: FormDefinition, key: str, state: dict, form: StepForm) -> None:
    field = definition.by_key.get(key)
    if field is None or field.type != "postcode":
        return
    found = postcodes.lookup(request.POST.get(key, ""))
    if found is None:
        messages.error(request, _("No address is known for this postcode."))
        return
    state["answers"][key] = found.postcode
    if field.address_field:
        state["answers"][field.address_field] = found.text
    messages.info(request, _("Address filled in from the postcode: %(address)s") % {"address": found.text})


@require_POST
def prefill_from_card(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    """Fill the 基本4情報 fields from the card's signing certificate (the resident signs a statement with it)."""
    procedure = _procedure(request, code)
    _open_or_404(procedure)
    if not request.user.is_authenticated:
        raise PermissionDenied
    from madoguchi.identity.resident_services import document_signature_verify

    statement = f"基本4情報の読取り / read my basic information\nuser:{request.user.pk}\n".encode()
    try:
        signature = card_simulator.sign_document(
            card=request.POST.get("card", ""), password=request.POST.get("password", ""), content=statement
        )
        verified = document_signature_verify(signature=signature, content=statement)
    except (SignInRefused, card_simulator.SimulatorError) as exc:
        messages.error(request, exc.message)
    else:
        state = _state(request, procedure)
        definition = parse_definition(procedure.current_version.definition)
        if verified.basic_info is not None:
            state["answers"].update(_basic4_answers(definition, verified.basic_info))
            _save_state(request, procedure, state)
            messages.success(
                request, _("Your name, address and date of birth were filled in from your card.")
            )
    return redirect("procedures:start", municipality_code=municipality_code, code=code)


@never_cache
def check(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    """Check your answers: everything once more, each with a Change link; then sign / pay / send."""
    procedure = _procedure(request, code)
    _open_or_404(procedure)
    state = _state(request, procedure)
    state.pop("from_check", None)
    definition = parse_definition(procedure.current_version.definition)
    cleaned, problems = _final(request, procedure, definition, state)
    if problems:
        messages.error(request, _("Some answers are missing or need correcting."))
        first = problems[0].path.split(".")[0]
        for s in steps_of(definition, state["answers"]):
            if any(f.key == first for f in s.fields):
                return redirect("procedures:step", municipality_code=municipality_code, code=code, step=s.key)
        return redirect("procedures:start", municipality_code=municipality_code, code=code)
    _save_state(request, procedure, state)
    step_of = {}
    for s in steps_of(definition, state["answers"]):
        for f in s.fields:
            step_of[f.key] = s.key
    rows = [(row, step_of.get(row.key)) for row in display_rows(definition, cleaned)]
    return render(
        request, "procedures/check.html",
        {"procedure": procedure, "rows": rows, "needs_signature": procedure.signature_required,
         "needs_sign_in": procedure.signature_required and not request.user.is_authenticated,
         "correcting": state.get("correcting")},
    )  # fmt: skip


def _final(request, procedure, definition, state):
    from madoguchi.procedures.answers import clean

    return clean(definition, state["answers"], actor=request.user, municipality=procedure.municipality)


@never_cache
@require_http_methods(["GET", "POST"])
def sign_and_send(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    """The last step: the electronic signature where required, then filing (and payment where there is a fee)."""
    procedure = _procedure(request, code)
    _open_or_404(procedure)
    if procedure.signature_required and not request.user.is_authenticated:
        return redirect(f"{reverse('web:resident_sign_in')}?next={request.path}")
    state = _state(request, procedure)
    definition = parse_definition(procedure.current_version.definition)
    cleaned, problems = _final(request, procedure, definition, state)
    if problems:
        return redirect("procedures:check", municipality_code=municipality_code, code=code)
    version = procedure.current_version
    correcting = state.get("correcting")
    target = None
    if correcting:
        target = get_object_or_404(Submission, reference=correcting, applicant=request.user.pk or -1)
        version = target.form_version
    content = services.canonical_for(procedure, version, cleaned)
    form = SignForm(request.POST if request.method == "POST" else None, cards=card_simulator.demo_cards())
    if request.method == "POST" and form.is_valid():
        signature = None
        try:
            if procedure.signature_required:
                signature = _signature(form, content)
            if target is not None:
                services.submission_resubmit(
                    submission=target, answers=cleaned, actor=request.user, signature=signature
                )
                request.session.pop(_state_key(procedure), None)
                messages.success(request, _("Your corrected application was sent."))
                return redirect("procedures:mine_detail", reference=target.reference)
            filed = services.submission_file(
                procedure=procedure, version=version, answers=cleaned,
                applicant=request.user if request.user.is_authenticated else None, signature=signature,
                attachment_ids=_attachment_ids(cleaned, definition), owner_key=_owner_key(request),
            )  # fmt: skip
        except (SignInRefused, card_simulator.SimulatorError, services.ProcedureError) as exc:
            form.add_error(None, exc.message)
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            request.session.pop(_state_key(procedure), None)
            filed_refs = request.session.get(FILED_SESSION_KEY, {})
            filed_refs[filed.submission.reference] = filed.secret
            request.session[FILED_SESSION_KEY] = filed_refs
            if filed.submission.status == Submission.Status.AWAITING_PAYMENT:
                return redirect("procedures:pay", reference=filed.submission.reference)
            mail_receipt(
                filed.submission, status_url=request.build_absolute_uri(reverse("procedures:status"))
            )
            return redirect("procedures:done", reference=filed.submission.reference)
    return render(
        request, "procedures/sign.html",
        {"procedure": procedure, "form": form, "sha256": hashlib.sha256(content).hexdigest(),
         "simulator": card_simulator.enabled(), "content_b64": base64.b64encode(content).decode(),
         "correcting": correcting},
    )  # fmt: skip


def _signature(form: SignForm, content: bytes) -> bytes:
    posted = form.cleaned_data.get("signature")
    if posted:
        try:
            return base64.b64decode(posted, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(_("The signature sent by the card reader is not readable.")) from None
    return card_simulator.sign_document(
        card=form.cleaned_data.get("card") or "",
        password=form.cleaned_data.get("password") or "",
        content=content,
    )


def _attachment_ids(answers: dict, definition: FormDefinition) -> list[int]:
    ids = []
    for field in definition.fields_in_order:
        if field.type == "file" and field.group is None:
            for ref in _as_list(answers.get(field.key)):
                if isinstance(ref, dict) and isinstance(ref.get("id"), int):
                    ids.append(ref["id"])
    return ids


# --- After filing -------------------------------------------------------------------------------------------
def _filed_here(request: HttpRequest, reference: str) -> Submission:
    """A submission this browser filed (or the signed-in applicant's own); 404 for anyone else."""
    submission = (
        Submission.objects.select_related("procedure", "municipality").filter(reference=reference).first()
    )
    if submission is None:
        raise Http404
    mine = request.user.is_authenticated and submission.applicant_id == request.user.pk
    if not mine and reference not in request.session.get(FILED_SESSION_KEY, {}):
        raise Http404
    return submission


@never_cache
def done(request: HttpRequest, reference: str) -> HttpResponse:
    submission = _filed_here(request, reference)
    secret = request.session.get(FILED_SESSION_KEY, {}).get(reference)
    return render(request, "procedures/done.html", {"submission": submission, "secret": secret})


@never_cache
def receipt(request: HttpRequest, reference: str) -> HttpResponse:
    submission = _filed_here(request, reference)
    if submission.status == Submission.Status.AWAITING_PAYMENT:
        raise Http404
    response = HttpResponse(receipt_pdf(submission), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="receipt-{submission.reference}.pdf"'
    return response


@never_cache
def pay(request: HttpRequest, reference: str) -> HttpResponse:
    submission = _filed_here(request, reference)
    if submission.payment_state != Submission.PaymentState.PENDING:
        return redirect("procedures:done", reference=reference)
    if request.method == "POST":
        try:
            payment = services.payment_start(
                submission=submission,
                return_url=request.build_absolute_uri(reverse("procedures:pay_return", args=[reference])),
                callback_url=request.build_absolute_uri(reverse("procedures:payment_callback")),
            )
        except (payments.GatewayError, services.ProcedureError) as exc:
            messages.error(request, getattr(exc, "message", str(exc)))
        else:
            return redirect(payment.next_url)
    return render(request, "procedures/pay.html", {"submission": submission})


@never_cache
def pay_return(request: HttpRequest, reference: str) -> HttpResponse:
    """Back from the gateway: if its callback has not arrived yet, ask the gateway directly."""
    submission = _filed_here(request, reference)
    payment = submission.payments.order_by("-created_at").first()
    if payment is not None and payment.status == payment.Status.CREATED and payment.gateway_id:
        try:
            services.payment_settle(status=payments.fetch_payment(payment.gateway_id))
        except (payments.GatewayError, services.ProcedureError) as exc:
            messages.error(request, getattr(exc, "message", str(exc)))
        payment.refresh_from_db()
    submission.refresh_from_db()
    if submission.payment_state == Submission.PaymentState.PAID:
        mail_receipt(submission, status_url=request.build_absolute_uri(reverse("procedures:status")))
        messages.success(request, _("Payment received. Your application is submitted."))
        return redirect("procedures:done", reference=reference)
    messages.error(request, _("The payment was not completed. You can try again."))
    return redirect("procedures:pay", reference=reference)


@csrf_exempt
@require_POST
def payment_callback(request: HttpRequest) -> HttpResponse:
    """The gateway's signed server-to-server notice. Idempotent; answers 200 once applied (or already)."""
    try:
        status = payments.verify_callback(
            body=request.body, signature_header=request.headers.get("X-Gateway-Signature", "")
        )
        services.payment_settle(status=status)
    except payments.GatewayError as exc:
        return JsonResponse({"code": exc.code, "message": str(exc)}, status=400)
    except services.ProcedureError as exc:
        return JsonResponse({"code": exc.code, "message": exc.message}, status=409)
    return JsonResponse({"ok": True})


# --- Status -------------------------------------------------------------------------------------------------
@never_cache
def status(request: HttpRequest) -> HttpResponse:
    """Status without an account: reference number + status code (POST, so neither lands in a URL or log)."""
    form = StatusLookupForm(request.POST or None)
    submission = None
    if request.method == "POST" and form.is_valid():
        submission = services.submission_lookup(
            reference=form.cleaned_data["reference"], secret=form.cleaned_data["secret"]
        )
        if submission is None:
            form.add_error(None, _("No application matches this reference number and status code."))
    events = submission.events.filter(visible_to_applicant=True) if submission else None
    return render(
        request, "procedures/status.html", {"form": form, "submission": submission, "events": events}
    )


def _mine(request: HttpRequest, reference: str) -> Submission:
    if not request.user.is_authenticated:
        raise PermissionDenied
    return get_object_or_404(
        Submission.objects.select_related("procedure", "municipality"),
        reference=reference,
        applicant=request.user,
    )


@never_cache
def mine(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect(f"{reverse('web:resident_sign_in')}?next={request.path}")
    submissions = Submission.objects.filter(applicant=request.user).select_related(
        "procedure", "municipality"
    )
    drafts = Draft.objects.filter(user=request.user).select_related("procedure", "procedure__municipality")
    return render(request, "procedures/mine.html", {"submissions": submissions[:100], "drafts": drafts})


@never_cache
@require_http_methods(["GET", "POST"])
def mine_detail(request: HttpRequest, reference: str) -> HttpResponse:
    submission = _mine(request, reference)
    form = MessageForm(request.POST or None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "withdraw":
                services.submission_withdraw(submission=submission, actor=request.user)
                messages.success(request, _("Your application was withdrawn."))
            elif action == "correct":
                revision = submission.current_revision
                state = {"version": submission.form_version_id, "answers": dict(revision.answers),
                         "attachments": [], "groups": {}, "correcting": submission.reference}  # fmt: skip
                procedure = submission.procedure
                if procedure.current_version_id != submission.form_version_id:
                    messages.error(
                        request, _("The form has changed; please contact the office to correct this.")
                    )
                    return redirect("procedures:mine_detail", reference=reference)
                request.session[_state_key(procedure)] = state
                return redirect(
                    "procedures:check", municipality_code=submission.municipality.code, code=procedure.code
                )
            elif form.is_valid():
                services.submission_message(
                    submission=submission, actor=request.user, body=form.cleaned_data["body"]
                )
                messages.success(request, _("Your message was sent."))
            else:
                raise services.ProcedureError("invalid", _("Write a message."))
        except services.ProcedureError as exc:
            messages.error(request, exc.message)
        return redirect("procedures:mine_detail", reference=reference)
    definition = parse_definition(submission.form_version.definition)
    revision = submission.current_revision
    rows = display_rows(definition, revision.answers) if revision is not None else []
    return render(
        request, "procedures/mine_detail.html",
        {"submission": submission, "rows": rows, "revision": revision, "form": form,
         "events": submission.events.filter(visible_to_applicant=True),
         "can_withdraw": submission.status in services.WITHDRAWABLE,
         "can_correct": submission.status == Submission.Status.CORRECTION_REQUESTED},
    )  # fmt: skip

"""Desk mode (窓口モード) for the online procedures: /<lgcode>/staff/desk/procedures/…

A desk clerk (or municipal admin) with an open desk session of the municipality, in which a resident has
identified with their card (identity.desk), files an application with the resident beside them: choose a
procedure, fill the whole form on one page or step by step (the applicant's form engine: `StepForm`,
`answers.clean`; a My Number typed here becomes a vault token with the clerk as actor), prefill the 基本4情報
from the resident's card, show the answers back for the resident to confirm, let the resident sign with their
card where the procedure needs it, take the fee in cash or leave it pending, and file through
`services.submission_file` as a counter case recorded against the desk session and the clerk.

The answers in progress are kept under a desk-scoped session key, bound to the desk session and the resident:
"next resident" drops them, and a page shown during another desk session never acts (its POST is refused).
"""

from __future__ import annotations

import hashlib
import re

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.core import audit
from madoguchi.identity import card_simulator, decorators, desk
from madoguchi.identity.resident_services import SignInRefused
from madoguchi.procedures import services
from madoguchi.procedures.answers import MyNumberUnavailable, clean, display_rows, text_of
from madoguchi.procedures.formengine import FormDefinition, parse_definition, visible_fields
from madoguchi.procedures.forms import DeskSendForm, StepForm
from madoguchi.procedures.models import Procedure, Submission
from madoguchi.procedures.views import (
    Step,
    _attachment_ids,
    _basic4_answers,
    _file_keys,
    _files_for,
    _is_mynumber,
    _lookup_address,
    _owner_key,
    _signature,
    _take_uploads,
)

# The answers in progress for the resident being served (dropped on "next resident"), per procedure.
STATE_PREFIX = desk.DESK_SCOPED_PREFIX + "procedures:"
STATE_MAX_AGE_SECONDS = 30 * 60
# The status codes of what was filed in this desk session, shown on its done page only.
FILED_KEY = desk.DESK_SCOPED_PREFIX + "procedures_filed"
WHOLE = "all"  # the step key of the whole form on one page
STEP_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")
CARD_STATEMENT = "基本4情報の読取り（窓口） / read my basic information at the desk"


# --- Access -------------------------------------------------------------------------------------------------
def _refuse(request: HttpRequest, message: str, status: int = 403) -> HttpResponse:
    return render(
        request, "procedures/desk/refused.html", {"municipality": request.municipality, "message": message},
        status=status,
    )  # fmt: skip


desk_resident_required = decorators.desk_resident_required("procedures/desk/refused.html")


def _context(request: HttpRequest, **extra) -> dict:
    return {"municipality": request.municipality, "desk": request.desk, "resident": request.desk.resident,
            **extra}  # fmt: skip


def _clerk(request: HttpRequest) -> audit.Actor:
    """The clerk as the actor of vault writes (a My Number typed at the desk is stored by the clerk)."""
    return audit.actor_of(request.user)


def _procedure(request: HttpRequest, code: str) -> Procedure:
    procedure = (
        Procedure.objects.select_related("current_version", "municipality")
        .filter(municipality=request.municipality, code=code, status=Procedure.Status.PUBLISHED)
        .first()
    )
    if procedure is None or not services.open_for_applications(procedure):
        raise Http404(_("This procedure is not accepting applications now."))
    return procedure


# --- The answers in progress --------------------------------------------------------------------------------
def _state_key(procedure: Procedure) -> str:
    return STATE_PREFIX + procedure.code


def _state(request: HttpRequest, procedure: Procedure) -> dict:
    """This desk session's answers for this procedure; anything kept for another session, resident or form
    version (or too old) is dropped. Never a Draft: the clerk's account is not the resident's."""
    stored = request.session.get(_state_key(procedure))
    fresh = stored and timezone.now().timestamp() - stored.get("at", 0) <= STATE_MAX_AGE_SECONDS
    if (
        fresh
        and stored.get("desk") == request.desk.pk
        and stored.get("resident") == request.desk.resident_id
        and stored.get("version") == procedure.current_version_id
    ):
        return stored
    return {"desk": request.desk.pk, "resident": request.desk.resident_id, "version": procedure.current_version_id,
            "answers": {}, "groups": {}, "attachments": []}  # fmt: skip


def _save(request: HttpRequest, procedure: Procedure, state: dict) -> None:
    state["at"] = timezone.now().timestamp()
    request.session[_state_key(procedure)] = state
    request.session.modified = True


def _steps(definition: FormDefinition, answers: dict, whole: bool) -> list[Step]:
    """The whole form as one step, or one step per page (the desk walks pages, not single questions)."""
    if whole:
        shown = [f for f in visible_fields(definition, answers) if f.group is None]
        return [Step(WHOLE, None, text_of(definition.title), tuple(shown))]
    out = []
    for page in definition.pages:
        shown = [f for f in visible_fields(definition, answers, page=page.key) if f.group is None]
        if shown:
            out.append(Step(page.key, page.key, text_of(page.title), tuple(shown)))
    return out


def _form_url(request: HttpRequest, procedure: Procedure, step: str = WHOLE) -> str:
    return reverse("procedures:desk_form", args=[request.municipality.code, procedure.code, step])


# --- Pages --------------------------------------------------------------------------------------------------
@desk_resident_required
def index(request: HttpRequest, municipality_code: str) -> HttpResponse:
    """The municipality's published procedures open now, to choose one with the resident."""
    found = (
        Procedure.objects.filter(
            municipality=request.municipality,
            status=Procedure.Status.PUBLISHED,
            current_version__isnull=False,
        )
        .select_related("current_version")
        .order_by("name")
    )
    procedures = [p for p in found if services.open_for_applications(p)]
    return render(request, "procedures/desk/index.html", _context(request, procedures=procedures))


@desk_resident_required
@require_http_methods(["GET", "POST"])
def form(request: HttpRequest, municipality_code: str, code: str, step: str = WHOLE) -> HttpResponse:
    """The form with the resident: the whole form on one page (step "all") or page by page."""
    procedure = _procedure(request, code)
    state = _state(request, procedure)
    definition = parse_definition(procedure.current_version.definition)
    whole = step == WHOLE
    steps = _steps(definition, state["answers"], whole)
    keys = [s.key for s in steps]
    if step not in keys:
        return redirect(_form_url(request, procedure, keys[0] if keys else WHOLE))
    index_ = keys.index(step)
    current = steps[index_]
    action = request.POST.get("action", "next")
    group_items = dict(state.get("groups", {}))
    if action.startswith(("add:", "remove:")):
        verb, _sep, key = action.partition(":")
        if key in {f.key for f in current.fields if f.type == "group"}:
            group_items[key] = max(
                1,
                group_items.get(key, len(state["answers"].get(key) or []) or 1)
                + (1 if verb == "add" else -1),
            )
    step_form = StepForm(
        request.POST if request.method == "POST" else None, definition=definition, fields=list(current.fields),
        page_key=current.page, answers=state["answers"], group_items=group_items, actor=_clerk(request),
        municipality=procedure.municipality,
    )  # fmt: skip
    here = _form_url(request, procedure, current.key)
    if request.method == "POST":
        upload_errors = _take_uploads(request, procedure, current, state)
        kept = {k: v for k, v in step_form.raw().items() if not _is_mynumber(definition, k)}
        if action.startswith("lookup:"):
            state["answers"].update({k: v for k, v in kept.items() if v not in (None, "", [])})
            _lookup_address(request, definition, action.partition(":")[2], state, step_form)
            _save(request, procedure, state)
            return redirect(here)
        try:
            step_form.extra_answers = {
                k: state["answers"][k] for k in _file_keys(current) if k in state["answers"]
            }
            valid = step_form.is_valid() and not upload_errors
        except MyNumberUnavailable as exc:
            return _refuse(request, str(exc))
        for key, message in upload_errors:
            step_form.add_upload_error(key, message)
        if action.startswith(("add:", "remove:")):
            state["groups"] = step_form.group_items
            state["answers"].update(kept)
            _save(request, procedure, state)
            return redirect(here)
        if valid:
            for field in current.fields:
                if field.key in step_form.cleaned_answers:
                    state["answers"][field.key] = step_form.cleaned_answers[field.key]
                else:
                    state["answers"].pop(field.key, None)
            state["groups"] = step_form.group_items
            _save(request, procedure, state)
            following = [s.key for s in _steps(definition, state["answers"], whole)]
            position = following.index(current.key) if current.key in following else index_
            if whole or position + 1 >= len(following):
                return redirect("procedures:desk_check", request.municipality.code, procedure.code)
            return redirect(_form_url(request, procedure, following[position + 1]))
    basic4 = any(f.prefill and f.prefill.startswith("basic4.") for f in definition.fields_in_order)
    return render(
        request, "procedures/desk/form.html",
        _context(request, procedure=procedure, definition=definition, form=step_form, step=current, whole=whole,
                 number=index_ + 1, count=len(steps), previous=keys[index_ - 1] if index_ else None,
                 files=_files_for(state, current), demo_cards=card_simulator.demo_cards() if basic4 else [],
                 whole_url=_form_url(request, procedure), steps_url=_form_url(request, procedure, "start")),
    )  # fmt: skip


@desk_resident_required
@require_POST
def read_card(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    """The resident reads their 基本4情報 into the form: they sign a statement bound to this desk session with
    the card's signing certificate (the card simulator stands in for the reader); it must be their card."""
    procedure = _procedure(request, code)
    resident = request.desk.resident
    statement = f"{CARD_STATEMENT}\ndesk:{request.desk.pk}\nresident:{resident.pk}\n".encode()
    try:
        signature = card_simulator.sign_document(
            card=request.POST.get("card", ""), password=request.POST.get("password", ""), content=statement
        )
        verified = services.document_signer(content=statement, signature=signature, applicant=resident.user)
    except (SignInRefused, card_simulator.SimulatorError, services.ProcedureError) as exc:
        messages.error(request, exc.message)
    else:
        if verified.basic_info is not None:
            state = _state(request, procedure)
            definition = parse_definition(procedure.current_version.definition)
            state["answers"].update(_basic4_answers(definition, verified.basic_info))
            _save(request, procedure, state)
            desk.desk_record(request=request, action="procedures.desk_card_read", target=procedure,
                             details={"procedure": procedure.code, "certificate": verified.serial})  # fmt: skip
            messages.success(request, _("The name, address and date of birth were filled in from the card."))
    step = request.POST.get("step", "")
    return redirect(_form_url(request, procedure, step if STEP_KEY.fullmatch(step) else WHOLE))


def _final(request: HttpRequest, procedure: Procedure, definition: FormDefinition, state: dict):
    return clean(definition, state["answers"], actor=_clerk(request), municipality=procedure.municipality)


@desk_resident_required
def check(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    """Everything once more, for the resident to confirm at the desk; then signature (if needed) and filing."""
    procedure = _procedure(request, code)
    state = _state(request, procedure)
    definition = parse_definition(procedure.current_version.definition)
    cleaned, problems = _final(request, procedure, definition, state)
    if problems or not state["answers"]:
        messages.error(request, _("Some answers are missing or need correcting."))
        return redirect(_form_url(request, procedure))
    step_of = {f.key: s.key for s in _steps(definition, state["answers"], False) for f in s.fields}
    rows = [(row, step_of.get(row.key)) for row in display_rows(definition, cleaned)]
    return render(request, "procedures/desk/check.html", _context(request, procedure=procedure, rows=rows))


@desk_resident_required
@require_http_methods(["GET", "POST"])
def send(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    """The resident signs with their card where required; the clerk records the fee; the case is filed."""
    procedure = _procedure(request, code)
    state = _state(request, procedure)
    definition = parse_definition(procedure.current_version.definition)
    cleaned, problems = _final(request, procedure, definition, state)
    if problems or not state["answers"]:
        return redirect("procedures:desk_check", request.municipality.code, procedure.code)
    version = procedure.current_version
    content = services.canonical_for(procedure, version, cleaned)
    send_form = DeskSendForm(
        request.POST if request.method == "POST" else None, cards=card_simulator.demo_cards(),
        fee_yen=procedure.fee_yen,
    )  # fmt: skip
    if request.method == "POST" and send_form.is_valid():
        resident = request.desk.resident
        try:
            signature = _signature(send_form, content) if procedure.signature_required else None
            filed = services.submission_file(
                procedure=procedure, version=version, answers=cleaned, applicant=resident.user,
                signature=signature, attachment_ids=_attachment_ids(cleaned, definition),
                owner_key=_owner_key(request), channel=Submission.Channel.COUNTER, desk_session=request.desk,
                clerk=request.user, fee_paid_in_cash=send_form.cleaned_data.get("fee") == DeskSendForm.CASH,
            )  # fmt: skip
        except (SignInRefused, card_simulator.SimulatorError, services.ProcedureError) as exc:
            send_form.add_error(None, exc.message)
        except ValueError as exc:
            send_form.add_error(None, str(exc))
        else:
            request.session.pop(_state_key(procedure), None)
            filed_here = request.session.get(FILED_KEY, {})
            filed_here[filed.submission.reference] = filed.secret
            request.session[FILED_KEY] = filed_here
            return redirect("procedures:desk_done", request.municipality.code, filed.submission.reference)
    return render(
        request, "procedures/desk/send.html",
        _context(request, procedure=procedure, form=send_form, sha256=hashlib.sha256(content).hexdigest(),
                 simulator=card_simulator.enabled()),
    )  # fmt: skip


@desk_resident_required
def done(request: HttpRequest, municipality_code: str, reference: str) -> HttpResponse:
    """The reference (and status code) of a case filed in THIS desk session, with its receipt."""
    submission = (
        Submission.objects.select_related("procedure", "municipality", "clerk")
        .filter(reference=reference, municipality=request.municipality, desk_session=request.desk)
        .first()
    )
    if submission is None:
        raise Http404(_("No application with this reference was filed in this desk session."))
    secret = request.session.get(FILED_KEY, {}).get(reference)
    return render(
        request, "procedures/desk/done.html", _context(request, submission=submission, secret=secret)
    )

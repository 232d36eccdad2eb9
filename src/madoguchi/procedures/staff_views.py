"""Staff pages (LGWAN side): the municipality's procedures, the form builder, the inbox, case processing and
the online-usage statistics. Every page is under /<lgcode>/staff/procedures/ and checks the staff member's role
in that municipality; every query is filtered by it (a second municipality sees nothing)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.core.documents import csv_bytes, spreadsheet_text, xlsx_bytes
from madoguchi.core.wareki import fiscal_year
from madoguchi.identity.decorators import municipality_staff_required, verified_staff_required
from madoguchi.identity.models import StaffRole
from madoguchi.identity.selectors import is_platform_operator
from madoguchi.procedures import builder, selectors, services
from madoguchi.procedures.answers import definition_problem_message, display_rows
from madoguchi.procedures.formengine import DefinitionError, parse_definition
from madoguchi.procedures.forms import (
    BundleForm,
    NewProcedureForm,
    OfflineCaseForm,
    ProcedureSettingsForm,
    StepForm,
    TallyForm,
    TransitionForm,
)
from madoguchi.procedures.models import (
    Attachment,
    FormVersion,
    LifeEventBundle,
    Procedure,
    ProcedureTemplate,
    Submission,
)
from madoguchi.procedures.notices import decision_notice_pdf, receipt_pdf

R = StaffRole.Role
ADMIN = frozenset({R.MUNICIPAL_ADMIN})
PROCESS = frozenset({R.MUNICIPAL_ADMIN, R.REVIEWER})
READ = frozenset({R.MUNICIPAL_ADMIN, R.REVIEWER, R.AUDITOR})
COUNTER = frozenset({R.MUNICIPAL_ADMIN, R.REVIEWER, R.DESK_CLERK})
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(data: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _own(request: HttpRequest, code: str) -> Procedure:
    return get_object_or_404(
        Procedure.objects.select_related("template", "current_version"),
        municipality=request.municipality,
        code=code,
    )


def _case(request: HttpRequest, reference: str) -> Submission:
    return get_object_or_404(
        Submission.objects.select_related("procedure", "form_version", "assigned_to"),
        municipality=request.municipality, reference=reference,
    )  # fmt: skip


# --- Procedures ---------------------------------------------------------------------------------------------
@municipality_staff_required(READ | COUNTER)
def index(request: HttpRequest, municipality_code: str) -> HttpResponse:
    procedures = Procedure.objects.filter(municipality=request.municipality).select_related("current_version")
    return render(
        request, "procedures/staff/index.html",
        {"procedures": procedures, "counts": selectors.inbox_counts(request.municipality),
         "municipality": request.municipality},
    )  # fmt: skip


@municipality_staff_required(ADMIN)
@require_http_methods(["GET", "POST"])
def templates(request: HttpRequest, municipality_code: str) -> HttpResponse:
    """Adopt national templates as they are (標準化): one click each, or all of a list."""
    if request.method == "POST":
        codes = request.POST.getlist("template")
        adopted = 0
        for template in ProcedureTemplate.objects.filter(code__in=codes):
            try:
                services.procedure_adopt(
                    municipality=request.municipality, template=template, actor=request.user
                )
                adopted += 1
            except services.ProcedureError:
                continue
        messages.success(request, _("%(count)s procedures adopted.") % {"count": adopted})
        return redirect("procedures_staff:templates", municipality_code=municipality_code)
    keyword = request.GET.get("q", "")
    found = selectors.templates_search(keyword=keyword, group=request.GET.get("group", ""))
    adopted = set(
        Procedure.objects.filter(municipality=request.municipality, template__isnull=False).values_list(
            "template__code", flat=True
        )
    )
    return render(
        request, "procedures/staff/templates.html",
        {"templates": found, "adopted": adopted, "q": keyword, "groups": ProcedureTemplate.Group.choices,
         "group": request.GET.get("group", ""), "municipality": request.municipality},
    )  # fmt: skip


@municipality_staff_required(ADMIN)
@require_http_methods(["GET", "POST"])
def new(request: HttpRequest, municipality_code: str) -> HttpResponse:
    form = NewProcedureForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            procedure = services.procedure_create(
                municipality=request.municipality, actor=request.user, **form.cleaned_data
            )
        except services.ProcedureError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Procedure created as a draft. Build its form, then publish."))
            return redirect(
                "procedures_staff:builder", municipality_code=municipality_code, code=procedure.code
            )
    return render(request, "procedures/staff/new.html", {"form": form, "municipality": request.municipality})


@municipality_staff_required(READ | COUNTER)
@require_http_methods(["GET", "POST"])
def procedure(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    proc = _own(request, code)
    is_admin = services_role(request, ADMIN)
    form = ProcedureSettingsForm(request.POST or None, instance=proc, prefix="settings")
    offline = OfflineCaseForm(
        request.POST or None, prefix="offline", initial={"received_on": timezone.localdate()}
    )
    tally = TallyForm(
        request.POST or None, prefix="tally", initial={"fiscal_year": fiscal_year(timezone.localdate())}
    )
    action = request.POST.get("action")
    if request.method == "POST":
        try:
            if action == "settings" and is_admin and form.is_valid():
                services.procedure_update(procedure=proc, actor=request.user, **{
                    k: form.cleaned_data[k] for k in form.fields
                })  # fmt: skip
                messages.success(request, _("Saved."))
                return redirect("procedures_staff:procedure", municipality_code=municipality_code, code=code)
            if action in ("open", "suspend") and is_admin:
                status = Procedure.Status.PUBLISHED if action == "open" else Procedure.Status.SUSPENDED
                services.procedure_set_status(procedure=proc, actor=request.user, status=status)
                messages.success(request, _("Saved."))
                return redirect("procedures_staff:procedure", municipality_code=municipality_code, code=code)
            if action == "offline" and services_role(request, COUNTER) and offline.is_valid():
                case = services.submission_record_offline(
                    procedure=proc, channel=offline.cleaned_data["channel"], actor=request.user,
                    applicant_name=offline.cleaned_data["applicant_name"],
                    received_on=offline.cleaned_data["received_on"],
                )  # fmt: skip
                messages.success(request, _("Recorded as %(reference)s.") % {"reference": case.reference})
                return redirect(
                    "procedures_staff:case", municipality_code=municipality_code, reference=case.reference
                )
            if action == "tally" and services_role(request, COUNTER) and tally.is_valid():
                services.tally_set(procedure=proc, actor=request.user, **tally.cleaned_data)
                messages.success(request, _("Saved."))
                return redirect("procedures_staff:procedure", municipality_code=municipality_code, code=code)
            if action in ("settings", "open", "suspend") and not is_admin:
                raise Http404
        except services.ProcedureError as exc:
            messages.error(request, exc.message)
    return render(
        request, "procedures/staff/procedure.html",
        {"procedure": proc, "form": form, "offline": offline, "tally": tally, "is_admin": is_admin,
         "versions": proc.versions.order_by("-number")[:10], "municipality": request.municipality,
         "tallies": proc.tallies.order_by("-fiscal_year", "channel")[:20]},
    )  # fmt: skip


def services_role(request: HttpRequest, roles) -> bool:
    from madoguchi.identity.selectors import staff_access

    return staff_access(request.user, request.municipality, roles)


@municipality_staff_required(ADMIN)
@require_http_methods(["GET", "POST"])
def bundles(request: HttpRequest, municipality_code: str) -> HttpResponse:
    """Life-event one-stop services: the national ones, and this municipality's own."""
    published = Procedure.objects.filter(
        municipality=request.municipality, status=Procedure.Status.PUBLISHED, current_version__isnull=False
    ).order_by("name")
    form = BundleForm(request.POST or None, choices=[(p.code, p.name) for p in published])
    if request.method == "POST" and form.is_valid():
        try:
            services.bundle_create(
                municipality=request.municipality, actor=request.user, code=form.cleaned_data["code"],
                name=form.cleaned_data["name"], life_event=form.cleaned_data["life_event"],
                procedure_codes=form.cleaned_data["procedures"],
            )  # fmt: skip
        except services.ProcedureError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The one-stop service was created."))
            return redirect("procedures_staff:bundles", municipality_code=municipality_code)
    found = LifeEventBundle.objects.filter(
        Q(municipality=request.municipality) | Q(municipality__isnull=True)
    )
    return render(
        request, "procedures/staff/bundles.html",
        {"bundles": found.order_by("municipality", "code"), "form": form, "municipality": request.municipality},
    )  # fmt: skip


# --- Builder ------------------------------------------------------------------------------------------------
def _draft(proc: Procedure, user) -> FormVersion:
    draft = proc.versions.filter(status=FormVersion.Status.DRAFT).first()
    if draft is None:
        base = proc.current_version.definition if proc.current_version else services.STARTER_FORM
        draft = services.form_draft_save(procedure=proc, definition=base, actor=user)
    return draft


def _save(request, proc: Procedure, doc: dict) -> bool:
    try:
        services.form_draft_save(procedure=proc, definition=doc, actor=request.user)
    except DefinitionError as exc:
        for problem in exc.problems[:10]:
            messages.error(request, definition_problem_message(problem))
        return False
    except services.ProcedureError as exc:
        messages.error(request, exc.message)
        return False
    return True


@municipality_staff_required(ADMIN)
@require_http_methods(["GET", "POST"])
def form_builder(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    proc = _own(request, code)
    if proc.adopted:
        messages.info(
            request, _("An adopted procedure uses the national standard form; it cannot be edited.")
        )
        return redirect("procedures_staff:preview", municipality_code=municipality_code, code=code)
    draft = _draft(proc, request.user)
    doc = draft.definition
    editing = request.GET.get("edit") or request.POST.get("editing") or None
    field_form = builder.FieldForm(
        request.POST if request.POST.get("action") == "field" else None, doc=doc, editing=editing,
        initial=builder.FieldForm.initial_for(doc, editing) if editing else {"parent": doc["pages"][-1]["key"]},
    )  # fmt: skip
    page_form = builder.PageForm(request.POST if request.POST.get("action") == "page" else None)
    back = redirect("procedures_staff:builder", municipality_code=municipality_code, code=code)
    if request.method == "POST":
        action = request.POST.get("action")
        key = request.POST.get("key", "")
        if action == "field" and field_form.is_valid():
            try:
                changed = builder.put_field(
                    doc,
                    parent=field_form.cleaned_data["parent"],
                    field=field_form.to_field(),
                    replace=editing,
                )
            except KeyError:
                messages.error(request, _("That page or group no longer exists."))
            else:
                if _save(request, proc, changed):
                    messages.success(request, _("Field saved."))
                    return back
        elif action == "page" and page_form.is_valid():
            if _save(request, proc, builder.add_page(doc, **page_form.cleaned_data)):
                return back
        elif action in ("up", "down"):
            _save(request, proc, builder.move_field(doc, key, -1 if action == "up" else 1))
            return back
        elif action == "delete":
            if _save(request, proc, builder.delete_field(doc, key)):
                messages.success(request, _("Field deleted."))
            return back
        elif action == "delete_page":
            _save(request, proc, builder.delete_page(doc, key))
            return back
        elif action == "settings":
            changed = dict(doc)
            changed["one_question_per_page"] = request.POST.get("one_question_per_page") == "on"
            changed["title"] = {"ja": request.POST.get("title_ja") or doc["title"]["ja"],
                                "en": request.POST.get("title_en", "")}  # fmt: skip
            if not changed["title"]["en"]:
                changed["title"].pop("en")
            _save(request, proc, changed)
            return back
        elif action == "publish":
            try:
                version = services.form_publish(procedure=proc, actor=request.user)
            except (services.ProcedureError, DefinitionError) as exc:
                messages.error(request, getattr(exc, "message", str(exc)))
            else:
                messages.success(request, _("Version %(n)s is published and frozen.") % {"n": version.number})
            return back
    draft.refresh_from_db()
    definition = parse_definition(draft.definition)
    return render(
        request, "procedures/staff/builder.html",
        {"procedure": proc, "draft": draft, "definition": definition, "doc": draft.definition,
         "field_form": field_form, "page_form": page_form, "editing": editing,
         "types": builder.TYPE_LABELS, "municipality": request.municipality},
    )  # fmt: skip


@municipality_staff_required(ADMIN)
def form_export(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    proc = _own(request, code)
    version = proc.versions.filter(status=FormVersion.Status.DRAFT).first() or proc.current_version
    if version is None:
        raise Http404
    body = json.dumps(version.definition, ensure_ascii=False, indent=2).encode()
    return _download(body, f"{proc.code}-v{version.number}.json", "application/json")


@municipality_staff_required(ADMIN)
@require_POST
def form_import(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    proc = _own(request, code)
    upload = request.FILES.get("definition")
    if upload is None or upload.size > 2 * 1024 * 1024:
        messages.error(request, _("Choose a JSON file of at most 2 MB."))
    else:
        try:
            data = json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            messages.error(request, _("The file is not valid JSON: %(error)s") % {"error": exc})
        else:
            if _save(request, proc, data):
                messages.success(request, _("Definition imported into the draft."))
    return redirect("procedures_staff:builder", municipality_code=municipality_code, code=code)


@municipality_staff_required(READ | ADMIN)
def preview(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    """Every page of the draft (or the published form) as the applicant will see it, not submittable."""
    proc = _own(request, code)
    version = proc.versions.filter(status=FormVersion.Status.DRAFT).first() or proc.current_version
    if version is None:
        raise Http404
    definition = parse_definition(version.definition)
    pages = []
    for page in definition.pages:
        fields = [f for f in page.fields]
        form = StepForm(
            definition=definition, fields=fields, page_key=page.key, answers={}, auto_id=f"p_{page.key}_%s"
        )
        pages.append({"page": page, "form": form})
    return render(
        request, "procedures/staff/preview.html",
        {"procedure": proc, "version": version, "pages": pages, "definition": definition,
         "municipality": request.municipality},
    )  # fmt: skip


# --- Inbox and cases ----------------------------------------------------------------------------------------
def _inbox_query(request: HttpRequest):
    return selectors.inbox(
        municipality=request.municipality, procedure=request.GET.get("procedure", ""),
        status=request.GET.get("status", ""), assigned=request.GET.get("assigned", ""), user=request.user,
        overdue=request.GET.get("overdue") == "1", keyword=request.GET.get("q", ""),
    )  # fmt: skip


INBOX_HEADER = ["受付番号", "手続", "申請者", "受付方法", "状態", "受付日時", "処理期限", "担当", "手数料"]


def _inbox_rows(found) -> list[list]:
    return [
        [s.reference, spreadsheet_text(s.procedure.name), spreadsheet_text(s.applicant_name),
         s.get_channel_display(), s.get_status_display(),
         timezone.localtime(s.submitted_at).strftime("%Y-%m-%d %H:%M") if s.submitted_at else "",
         s.due_on.isoformat() if s.due_on else "", s.assigned_to.get_username() if s.assigned_to else "", s.fee_yen]
        for s in found
    ]  # fmt: skip


@municipality_staff_required(READ)
def inbox(request: HttpRequest, municipality_code: str) -> HttpResponse:
    found = _inbox_query(request)
    fmt = request.GET.get("format")
    if fmt in ("csv", "xlsx"):
        rows = _inbox_rows(found[:50000])
        stamp = timezone.localdate().isoformat()
        if fmt == "csv":
            return _download(
                csv_bytes(INBOX_HEADER, rows), f"inbox-{municipality_code}-{stamp}.csv", "text/csv"
            )
        return _download(
            xlsx_bytes("受付一覧", INBOX_HEADER, rows), f"inbox-{municipality_code}-{stamp}.xlsx", XLSX
        )
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    procedures = Procedure.objects.filter(municipality=request.municipality).order_by("name")
    return render(
        request, "procedures/staff/inbox.html",
        {"page": page, "procedures": procedures, "statuses": Submission.Status.choices,
         "counts": selectors.inbox_counts(request.municipality), "filters": request.GET,
         "today": timezone.localdate(), "municipality": request.municipality,
         "query": request.GET.urlencode()},
    )  # fmt: skip


@municipality_staff_required(READ | COUNTER)
@require_http_methods(["GET", "POST"])
def case(request: HttpRequest, municipality_code: str, reference: str) -> HttpResponse:
    submission = _case(request, reference)
    can_process = services_role(request, PROCESS)
    allowed = sorted(services.STAFF_TRANSITIONS.get(submission.status, ()))
    transition = TransitionForm(request.POST or None, allowed=allowed, prefix="t")
    if request.method == "POST":
        if not can_process:
            raise Http404
        action = request.POST.get("action")
        try:
            if action == "transition" and transition.is_valid():
                services.submission_transition(
                    submission=submission, to=transition.cleaned_data["to"], actor=request.user,
                    message=transition.cleaned_data["message"],
                )  # fmt: skip
                messages.success(request, _("Status changed."))
            elif action in ("message", "note"):
                services.submission_message(
                    submission=submission, actor=request.user, body=request.POST.get("body", ""),
                    internal=action == "note",
                )  # fmt: skip
                messages.success(request, _("Saved."))
            elif action == "assign_me":
                services.submission_assign(submission=submission, actor=request.user, assignee=request.user)
                messages.success(request, _("Assigned to you."))
            elif action == "unassign":
                services.submission_assign(submission=submission, actor=request.user, assignee=None)
            elif action == "transition":
                messages.error(request, _("Choose the new status."))
        except services.ProcedureError as exc:
            messages.error(request, exc.message)
        else:
            return redirect("procedures_staff:case", municipality_code=municipality_code, reference=reference)
    revisions = list(submission.revisions.order_by("-number"))
    definition = parse_definition(submission.form_version.definition)
    current = revisions[0] if revisions else None
    return render(
        request, "procedures/staff/case.html",
        {"submission": submission, "revision": current, "revisions": revisions,
         "rows": display_rows(definition, current.answers) if current else [],
         "events": submission.events.select_related("author"), "transition": transition,
         "can_process": can_process, "allowed": allowed,
         "attachments": submission.attachments.only("pk", "name", "size", "content_type", "report"),
         "decided": submission.status in (Submission.Status.ACCEPTED, Submission.Status.REFUSED,
                                          Submission.Status.COMPLETED),
         "today": timezone.localdate(), "municipality": request.municipality},
    )  # fmt: skip


@municipality_staff_required(READ)
def case_notice(request: HttpRequest, municipality_code: str, reference: str) -> HttpResponse:
    submission = _case(request, reference)
    try:
        data = decision_notice_pdf(submission)
    except ValueError:
        raise Http404(_("There is no decision to notify yet.")) from None
    return _download(data, f"notice-{submission.reference}.pdf", "application/pdf")


@municipality_staff_required(READ | COUNTER)
def case_receipt(request: HttpRequest, municipality_code: str, reference: str) -> HttpResponse:
    return _download(receipt_pdf(_case(request, reference)), f"receipt-{reference}.pdf", "application/pdf")


@municipality_staff_required(READ)
def case_attachment(request: HttpRequest, municipality_code: str, reference: str, pk: int) -> HttpResponse:
    submission = _case(request, reference)
    attachment = get_object_or_404(Attachment, pk=pk, submission=submission)
    response = _download(bytes(attachment.data), attachment.name, attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@municipality_staff_required(READ)
@require_POST
def case_verify(request: HttpRequest, municipality_code: str, reference: str) -> HttpResponse:
    """Verify the stored signature again over the stored bytes (e.g. before a decision)."""
    from madoguchi.identity.jpki.cms import verify_detached_signature
    from madoguchi.identity.jpki.errors import JpkiError
    from madoguchi.identity.jpki_trust import trust_store

    submission = _case(request, reference)
    revision = submission.current_revision
    if revision is None or not revision.signed:
        messages.info(request, _("This application carries no electronic signature."))
    else:
        try:
            verified = verify_detached_signature(
                bytes(revision.signature),
                bytes(revision.canonical),
                store=trust_store(),
                at=revision.signed_at,
            )
        except JpkiError as exc:
            messages.error(request, _("The signature does NOT verify: %(reason)s") % {"reason": exc})
        else:
            who = verified.basic_info.name if verified.basic_info else verified.serial
            messages.success(request, _("The signature verifies: signed by %(who)s.") % {"who": who})
    return redirect("procedures_staff:case", municipality_code=municipality_code, reference=reference)


# --- Statistics ---------------------------------------------------------------------------------------------
def _fy(request: HttpRequest) -> int:
    try:
        return int(request.GET.get("fy", ""))
    except ValueError:
        return fiscal_year(timezone.localdate())


STATS_HEADER = ["手続", "総手続件数", "うちオンライン", "窓口", "郵送", "オンライン利用率(%)"]


def _stats_rows(rows) -> list[list]:
    return [[spreadsheet_text(r.label), r.total, r.online, r.counter, r.paper,
             "" if r.rate is None else r.rate] for r in rows]  # fmt: skip


@municipality_staff_required(READ)
def stats(request: HttpRequest, municipality_code: str) -> HttpResponse:
    fy = _fy(request)
    rows = selectors.usage_by_procedure(municipality=request.municipality, fiscal_year=fy)
    total = selectors.usage_totals(rows)
    if request.GET.get("format") == "csv":
        body = csv_bytes(STATS_HEADER, _stats_rows(rows) + _stats_rows([total]))
        return _download(body, f"online-usage-{municipality_code}-FY{fy}.csv", "text/csv")
    return render(
        request, "procedures/staff/stats.html",
        {"rows": rows, "total": total, "fy": fy, "fy_label": f"{fy}年度", "years": selectors.fiscal_years_with_data(request.municipality) or [fy],
         "chart": _chart(rows[:15]), "municipality": request.municipality, "national": False},
    )  # fmt: skip


@verified_staff_required
def national_stats(request: HttpRequest) -> HttpResponse:
    """The deck's national table (手続の種類, 総手続件数, うちオンライン, 利用率) for platform operators."""
    if not is_platform_operator(request.user):
        raise Http404
    fy = _fy(request)
    rows = selectors.usage_national(fiscal_year=fy)
    total = selectors.usage_totals(rows)
    if request.GET.get("format") == "csv":
        body = csv_bytes(STATS_HEADER, _stats_rows(rows) + _stats_rows([total]))
        return _download(body, f"online-usage-national-FY{fy}.csv", "text/csv")
    return render(
        request, "procedures/staff/stats.html",
        {"rows": rows, "total": total, "fy": fy, "fy_label": f"{fy}年度",
         "years": selectors.fiscal_years_with_data() or [fy], "chart": _chart(rows[:15]), "national": True},
    )  # fmt: skip


def _chart(rows) -> dict:
    """A horizontal bar chart (inline SVG, no script): online vs other cases per procedure."""
    height = 28
    biggest = max([r.total for r in rows] + [1])
    bars = []
    for index, row in enumerate(rows):
        online = round(row.online * 360 / biggest)
        other = round((row.total - row.online) * 360 / biggest)
        bars.append({"y": index * height, "label": row.label[:18], "online": online, "other": other,
                     "x_other": 220 + online, "text": f"{row.online}/{row.total}",
                     "x_text": 226 + online + other})  # fmt: skip
    return {"bars": bars, "height": max(len(rows), 1) * height + 30}

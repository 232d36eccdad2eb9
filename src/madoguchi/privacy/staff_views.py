"""Staff pages of the privacy workflow under /<lgcode>/staff/privacy/: files, calls, the proposals inbox with
the review checklist, the notice PDF, contract and fee, the creation job with its progress, the provision link,
the register as CSV, leak reports and data-subject requests with their deadlines."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from madoguchi.core.documents import csv_bytes, spreadsheet_text, xlsx_bytes
from madoguchi.identity.decorators import municipality_staff_required
from madoguchi.identity.models import StaffRole
from madoguchi.identity.selectors import staff_access
from madoguchi.privacy import participation, selectors, services, tasks
from madoguchi.privacy.forms import (
    CallForm,
    CancelForm,
    ContractForm,
    DataUploadForm,
    FileForm,
    HierarchyForm,
    JobForm,
    LeakForm,
    LeakUpdateForm,
    PaidForm,
    ParticipationForm,
    ProvisionForm,
    RequestActionForm,
    RequestForm,
    ReviewForm,
)
from madoguchi.privacy.models import (
    ITEM_ROLES,
    CreationJob,
    DataSubjectRequest,
    LeakReport,
    PersonalInfoFile,
    Proposal,
)
from madoguchi.privacy.notices import notice_pdf

R = StaffRole.Role
READERS = frozenset({R.MUNICIPAL_ADMIN, R.REVIEWER, R.AUDITOR})
WRITERS = frozenset({R.MUNICIPAL_ADMIN, R.REVIEWER})
NEW_LINK_SESSION_KEY = "privacy_new_provision_link"

staff = municipality_staff_required(READERS)


def _writer(request: HttpRequest) -> bool:
    return staff_access(request.user, request.municipality, WRITERS)


def _require_writer(request: HttpRequest) -> None:
    if not _writer(request):
        raise Http404


def _url(request: HttpRequest, name: str, *args) -> str:
    return reverse(f"privacy_staff:{name}", args=[request.municipality.code, *args])


def _context(request: HttpRequest, **extra) -> dict:
    return {"municipality": request.municipality, "writer": _writer(request), **extra}


def _administrator(request: HttpRequest) -> bool:
    """An administrator of this municipality: the only role that may change whether it takes proposals."""
    return staff_access(request.user, request.municipality, {R.MUNICIPAL_ADMIN})


@staff
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest, municipality_code: str) -> HttpResponse:
    """The overview, and whether the municipality takes proposals (participation.py): a designated city always
    does; any other municipality's administrators opt in or out here."""
    m = request.municipality
    form = None
    if request.method == "POST":
        if not _administrator(request):
            raise PermissionDenied(_("Only the administrators of %(name)s may change whether it takes proposals.")
                                   % {"name": m.full_name})  # fmt: skip
        form = ParticipationForm(request.POST)
        if form.is_valid():
            change = (services.participation_opt_in if form.cleaned_data["choice"] == "in"
                      else services.participation_opt_out)  # fmt: skip
            try:
                change(municipality=m, actor=request.user)
            except services.PrivacyError as exc:
                form.add_error("choice", exc.message)
            else:
                messages.success(request, _("Saved."))
                return redirect(_url(request, "index"))
    state = participation.participation_of(m)
    if form is None and _administrator(request) and not state.designated:
        form = ParticipationForm(initial={"choice": "in" if state.opted_in else "out"})
    leaks = selectors.leak_rows(m)
    reqs = selectors.request_rows(m)
    return render(request, "privacy/staff/index.html", _context(
        request, files=selectors.files_of(m).count(), calls=selectors.calls_of(m).count(),
        open_proposals=selectors.proposals_of(m).filter(status__in=[Proposal.Status.SUBMITTED,
                                                                    Proposal.Status.IN_REVIEW]).count(),
        overdue_leaks=sum(1 for r in leaks if r.preliminary_overdue or r.final_overdue),
        overdue_requests=sum(1 for r in reqs if r.overdue),
        participation=state, participation_form=form,
    ))  # fmt: skip


@staff
@require_http_methods(["GET", "POST"])
def files(request: HttpRequest, municipality_code: str) -> HttpResponse:
    found = selectors.files_of(request.municipality)
    if request.method == "POST":
        _require_writer(request)
        file = found.filter(pk=request.POST.get("file") or 0).first()
        if file is None:
            messages.error(request, _("Choose a file."))
        else:
            services.file_set_open(
                file=file, actor=request.user, open_to_proposals=request.POST.get("open") == "1"
            )
            messages.success(request, _("Saved."))
        return redirect(_url(request, "files"))
    return render(request, "privacy/staff/files.html", _context(request, files=found))


@staff
@require_http_methods(["GET", "POST"])
def file_new(request: HttpRequest, municipality_code: str) -> HttpResponse:
    form = FileForm(request.POST or None)
    if request.method == "POST":
        _require_writer(request)
        if form.is_valid():
            d = form.cleaned_data
            try:
                found = services.file_register(
                    municipality=request.municipality, actor=request.user, name=d["name"], purpose=d["purpose"],
                    items=d["items"], record_count=d["record_count"] or 0, open_to_proposals=d["open_to_proposals"],
                )  # fmt: skip
            except services.PrivacyError as exc:
                form.add_error("items" if exc.code == "items" else None, exc.message)
            else:
                messages.success(request, _("The file was registered. Upload its data next."))
                return redirect(_url(request, "file", found.pk))
    return render(request, "privacy/staff/file_new.html", _context(request, form=form))


def _hierarchy_columns(file: PersonalInfoFile) -> list[tuple[str, str]]:
    return [(i["name"], f"{i.get('label') or i['name']} ({i['name']})") for i in file.items
            if i.get("role") in ("quasi_identifier", "sensitive")]  # fmt: skip


def _file_action(request: HttpRequest, file: PersonalInfoFile, action: str, forms_: dict) -> bool:
    """Run one POSTed change of a file; True when done, False to show the forms with their errors."""
    post, user = request.POST, request.user
    if action == "update":
        form = forms_["edit"] = FileForm(post)
        if not form.is_valid():
            return False
        d = form.cleaned_data
        try:
            services.file_update(file=file, actor=user, name=d["name"], purpose=d["purpose"], items=d["items"],
                                 record_count=d["record_count"], open_to_proposals=d["open_to_proposals"])  # fmt: skip
        except services.PrivacyError as exc:
            form.add_error("items" if exc.code == "items" else None, exc.message)
            return False
        messages.success(request, _("Saved."))
    elif action == "upload":
        form = forms_["upload"] = DataUploadForm(post, request.FILES)
        if not form.is_valid():
            return False
        d = form.cleaned_data
        try:
            file = services.file_upload_data(file=file, actor=user, data=d["data"].read(), filename=d["data"].name,
                                             encoding=d["encoding"], separator=d["separator"])  # fmt: skip
        except services.UploadError as exc:
            form.add_error(exc.field, exc.message)
            return False
        messages.success(
            request, _("The data were checked and stored: %(rows)s records.") % {"rows": file.record_count}
        )
    elif action == "hierarchy":
        form = forms_["hierarchy"] = HierarchyForm(post, request.FILES, columns=_hierarchy_columns(file))
        if not form.is_valid():
            return False
        d = form.cleaned_data
        try:
            if d["kind"] == "file":
                services.file_set_hierarchy_upload(file=file, actor=user, column=d["column"], data=d["data"].read(),
                                                   filename=d["data"].name, encoding=d["encoding"],
                                                   separator=d["separator"])  # fmt: skip
            else:
                services.file_set_hierarchy_rule(file=file, actor=user, column=d["column"], kind=d["kind"],
                                                 params=d["params"])  # fmt: skip
        except services.UploadError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return False
        messages.success(request, _("The hierarchy was saved."))
    else:
        raise Http404
    return True


@staff
@require_http_methods(["GET", "POST"])
def file(request: HttpRequest, municipality_code: str, pk: int) -> HttpResponse:
    found = get_object_or_404(PersonalInfoFile, pk=pk, municipality=request.municipality)
    forms_ = {}
    if request.method == "POST":
        _require_writer(request)
        if _file_action(request, found, request.POST.get("action", ""), forms_):
            return redirect(_url(request, "file", pk))
        messages.error(request, _("Please check the values you entered."))
    edit = forms_.get("edit") or FileForm(initial={
        "name": found.name, "purpose": found.purpose, "items": FileForm.items_text(found.items),
        "record_count": found.record_count, "open_to_proposals": found.open_to_proposals})  # fmt: skip
    columns = _hierarchy_columns(found)
    roles = dict(ITEM_ROLES)
    items = [{**i, "role_label": roles.get(i.get("role"), i.get("role")), "hierarchy": found.hierarchies.get(i["name"])}
             for i in found.items]  # fmt: skip
    return render(request, "privacy/staff/file.html", _context(
        request, file=found, items=items, edit_form=edit, upload_form=forms_.get("upload") or DataUploadForm(),
        hierarchy_form=forms_.get("hierarchy") or (HierarchyForm(columns=columns) if columns else None),
    ))  # fmt: skip


def _participation_context(request: HttpRequest) -> dict:
    m = request.municipality
    takes = participation.participates(m)
    return {
        "participates": takes,
        "not_participating": "" if takes else services.not_participating_message(m),
    }


@staff
def calls(request: HttpRequest, municipality_code: str) -> HttpResponse:
    return render(request, "privacy/staff/calls.html", _context(
        request, calls=selectors.calls_of(request.municipality), **_participation_context(request)))  # fmt: skip


@staff
@require_http_methods(["GET", "POST"])
def call_new(request: HttpRequest, municipality_code: str) -> HttpResponse:
    form = CallForm(request.POST or None, municipality=request.municipality)
    if request.method == "POST":
        _require_writer(request)
        if form.is_valid():
            d = form.cleaned_data
            try:
                services.call_create(
                    municipality=request.municipality, actor=request.user, title=d["title"], starts_on=d["starts_on"],
                    ends_on=d["ends_on"], files=d["files"], fee_table=form.fee_table(), guidance=d["guidance"],
                )  # fmt: skip
            except services.PrivacyError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("The proposal call was created."))
                return redirect(_url(request, "calls"))
    return render(request, "privacy/staff/call_new.html",
                  _context(request, form=form, **_participation_context(request)))  # fmt: skip


@staff
def proposals(request: HttpRequest, municipality_code: str) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in Proposal.Status.values:
        status = ""
    found = selectors.proposals_of(request.municipality, status=status)[:200]
    return render(request, "privacy/staff/proposals.html", _context(
        request, proposals=found, status=status, statuses=Proposal.Status.choices))  # fmt: skip


def _job_columns(proposal: Proposal) -> list[tuple[str, str]]:
    labels = {i["name"]: i.get("label") or i["name"] for i in proposal.file.items}
    return [(c, f"{labels.get(c, c)} ({c})") for c in services.job_columns(proposal)]


# Errors of `services.creation_job_queue` about the values of the job form, by code: the fields they are about
# (None: the form as a whole). Other codes (busy, transition, no data, persons…) are about the proposal.
JOB_PARAMETER_ERRORS = {
    "sensitive": ("t", "l"),  # ℓ or t without exactly one sensitive item: on whichever was given
    "metric": ("metric",),
    "t_measure": ("t_measure",),  # the hierarchical distance without a hierarchy of the sensitive item
    "top_code": ("top_code_threshold",),  # the item is one of the form's choices: the threshold is wrong
    "rare": ("rare_min_count",),
    "model": (None,),
}


def _job_error_fields(code: str, form: JobForm) -> list[str | None]:
    fields = JOB_PARAMETER_ERRORS[code]
    if code == "sensitive":
        fields = tuple(f for f in fields if form.cleaned_data.get(f) is not None) or (None,)
    return list(fields)


def _proposal_action(request: HttpRequest, proposal: Proposal, action: str):
    """Run one POSTed step; returns a redirect URL, or None to show the page with the forms' errors."""
    post = request.POST
    user = request.user
    if action == "start_review":
        services.proposal_review_start(proposal=proposal, actor=user)
    elif action in ("checklist", "accept", "reject"):
        form = ReviewForm(post, checks=services.review_checks(proposal))
        form.is_valid()
        checklist = {k: form.cleaned_data.get(k, False) for k in services.check_keys(proposal)}
        note = form.cleaned_data.get("note", "")
        if action == "checklist" or (action == "accept" and proposal.status == Proposal.Status.IN_REVIEW):
            proposal = services.proposal_checklist_save(
                proposal=proposal, actor=user, checklist=checklist, note=note
            )
        if action == "accept":
            services.proposal_accept(proposal=proposal, actor=user)
        elif action == "reject":
            services.proposal_reject(proposal=proposal, actor=user, note=note)
    elif action == "notify":
        services.proposal_notify(proposal=proposal, actor=user)
    elif action == "contract":
        form = ContractForm(post)
        if not form.is_valid():
            return None
        d = form.cleaned_data
        services.contract_conclude(proposal=proposal, actor=user, hours=d["hours"],
                                   outsourcing_cost=d["outsourcing_cost"] or 0, contract_date=d["contract_date"])  # fmt: skip
    elif action == "paid":
        form = PaidForm(post)
        if not form.is_valid():
            return None
        services.fee_paid(proposal=proposal, actor=user, paid_on=form.cleaned_data["paid_on"])
    elif action == "create":
        form = JobForm(post, columns=_job_columns(proposal))
        if not form.is_valid():
            request.privacy_job_form = form  # shown with its errors
            return None
        try:
            job = services.creation_job_queue(proposal=proposal, actor=user, **form.job_kwargs())
        except services.PrivacyError as exc:
            if exc.code not in JOB_PARAMETER_ERRORS:
                raise  # about the proposal or its file, not the values entered: a message on the page
            for field in _job_error_fields(exc.code, form):
                form.add_error(field, exc.message)
            request.privacy_job_form = form  # shown again with the values entered and the error on its field
            return None
        tasks.create_anonymized.delay(job.pk)  # eager without a broker: done before the redirect
        return _url(request, "job", job.pk)
    elif action == "provide":
        form = ProvisionForm(post)
        if not form.is_valid():
            return None
        provision, token = services.provision_issue(proposal=proposal, actor=user, days=form.cleaned_data["days"],
                                                    max_downloads=form.cleaned_data["max_downloads"])  # fmt: skip
        request.session[NEW_LINK_SESSION_KEY] = request.build_absolute_uri(
            reverse("privacy:download", args=[token])
        )
    elif action == "cancel":
        form = CancelForm(post)
        if not form.is_valid():
            return None
        d = form.cleaned_data
        services.contract_cancel(proposal=proposal, actor=user, ground=d["ground"], reason=d["reason"],
                                 cancelled_on=d["cancelled_on"])  # fmt: skip
        messages.success(request, _("The contract was cancelled; the download links are stopped."))
        return _url(request, "proposal", proposal.reference)
    else:
        raise Http404
    messages.success(request, _("Done."))
    return _url(request, "proposal", proposal.reference)


@staff
@require_http_methods(["GET", "POST"])
def proposal(request: HttpRequest, municipality_code: str, reference: str) -> HttpResponse:
    found = selectors.proposal_of(request.municipality, reference)
    if found is None:
        raise Http404
    cancel_form = CancelForm()
    if request.method == "POST":
        _require_writer(request)
        try:
            target = _proposal_action(request, found, request.POST.get("action", ""))
        except services.PrivacyError as exc:
            messages.error(request, exc.message)
            target = _url(request, "proposal", reference)
        if target:
            return redirect(target)
        messages.error(request, _("Please check the values you entered."))
        if request.POST.get("action") == "cancel":
            cancel_form = CancelForm(request.POST)
    initial = {k: found.checklist.get(k, False) for k in services.check_keys(found)} | {
        "note": found.review_note
    }
    contract = getattr(found, "contract", None)
    return render(request, "privacy/staff/proposal.html", _context(
        request, proposal=found, review=ReviewForm(initial=initial, checks=services.review_checks(found)),
        cancel_form=cancel_form, cancellable=found.status in services.CANCELLABLE,
        source_job=services.source_job(found), contract_form=ContractForm(),
        paid_form=PaidForm(), provision_form=ProvisionForm(), contract=contract,
        job_form=getattr(request, "privacy_job_form", None) or JobForm(columns=_job_columns(found)),
        disqualifications=services.disqualification_problems(found), jobs=found.jobs.all(),
        persons_problem=services.persons_problem(found), minimum_persons=services.minimum_persons(),
        provisions=found.provisions.all(), new_link=request.session.pop(NEW_LINK_SESSION_KEY, None),
        declarations=[(label, found.declarations.get(key)) for key, label in services.DISQUALIFICATIONS],
    ))  # fmt: skip


@staff
def notice(request: HttpRequest, municipality_code: str, reference: str) -> HttpResponse:
    found = selectors.proposal_of(request.municipality, reference)
    if found is None:
        raise Http404
    try:
        data = notice_pdf(found)
    except ValueError:
        raise Http404(_("There is no notice yet.")) from None
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="notice-{reference}.pdf"'
    return response


def _job(request: HttpRequest, pk: int) -> CreationJob:
    return get_object_or_404(CreationJob.objects.select_related("proposal__file", "proposal__business"), pk=pk,
                             proposal__call__municipality=request.municipality)  # fmt: skip


@staff
def job(request: HttpRequest, municipality_code: str, pk: int) -> HttpResponse:
    found = _job(request, pk)
    running = found.status in (CreationJob.Status.QUEUED, CreationJob.Status.RUNNING)
    return render(request, "privacy/staff/job.html", _context(request, job=found, running=running,
                                                              report=found.report))  # fmt: skip


@staff
def job_progress(request: HttpRequest, municipality_code: str, pk: int) -> JsonResponse:
    found = _job(request, pk)
    return JsonResponse({"status": found.status, "progress": found.progress})


REGISTER_HEADER = ["受付番号", "個人情報ファイルの名称", "項目", "加工の方法", "作成日", "提供先", "提供日"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _register_rows(request: HttpRequest) -> list[list]:
    return [[e.proposal.reference, spreadsheet_text(e.file_name), spreadsheet_text("・".join(e.items)),
             spreadsheet_text(e.processing_method), e.created_on.isoformat(), spreadsheet_text(e.recipient),
             e.provided_on.isoformat() if e.provided_on else ""]
            for e in selectors.register_of(request.municipality).select_related("proposal")]  # fmt: skip


@staff
def register_csv(request: HttpRequest, municipality_code: str) -> HttpResponse:
    return _download(csv_bytes(REGISTER_HEADER, _register_rows(request)), "text/csv",
                     f"anonymized-register-{request.municipality.code}.csv")  # fmt: skip


PROPOSALS_HEADER = ["受付番号", "種別", "事業者", "法人番号", "個人情報ファイル", "求める項目", "利用期間（月）",
                    "提出日時", "状況", "通知日", "契約日", "手数料（円）", "納付日", "解除日", "解除の理由"]  # fmt: skip


def _proposal_rows(request: HttpRequest) -> list[list]:
    rows = []
    found = selectors.proposals_of(request.municipality, status=request.GET.get("status", "")).select_related(
        "contract")  # fmt: skip
    for p in found:
        c = getattr(p, "contract", None)
        rows.append([
            p.reference, str(p.get_kind_display()), spreadsheet_text(p.business.name), p.business.corporate_number or "",
            spreadsheet_text(p.file.name), spreadsheet_text("・".join(p.items_wanted)), p.period_months,
            timezone.localtime(p.submitted_at).strftime("%Y-%m-%d %H:%M"), str(p.get_status_display()),
            p.notified_on.isoformat() if p.notified_on else "", c.contract_date.isoformat() if c else "",
            c.fee if c else "", c.paid_on.isoformat() if c and c.paid_on else "",
            c.cancelled_on.isoformat() if c and c.cancelled_on else "",
            str(c.get_cancellation_ground_display()) if c and c.cancellation_ground else "",
        ])  # fmt: skip
    return rows


@staff
def proposals_csv(request: HttpRequest, municipality_code: str) -> HttpResponse:
    return _download(csv_bytes(PROPOSALS_HEADER, _proposal_rows(request)), "text/csv",
                     f"anonymized-proposals-{request.municipality.code}.csv")  # fmt: skip


EXPORTS = {
    "proposals": ("提案一覧", PROPOSALS_HEADER, _proposal_rows, "anonymized-proposals"),
    "register": ("匿名加工情報ファイル簿", REGISTER_HEADER, _register_rows, "anonymized-register"),
}


@staff
def export_xlsx(request: HttpRequest, municipality_code: str, what: str) -> HttpResponse:
    if what not in EXPORTS:
        raise Http404
    title, header, rows, stem = EXPORTS[what]
    body = xlsx_bytes(title, header, rows(request), preface=[("団体", request.municipality.full_name)])
    return _download(body, XLSX, f"{stem}-{request.municipality.code}.xlsx")


@staff
def leaks(request: HttpRequest, municipality_code: str) -> HttpResponse:
    return render(
        request, "privacy/staff/leaks.html", _context(request, rows=selectors.leak_rows(request.municipality))
    )


@staff
@require_http_methods(["GET", "POST"])
def leak_new(request: HttpRequest, municipality_code: str) -> HttpResponse:
    form = LeakForm(request.POST or None)
    if request.method == "POST":
        _require_writer(request)
        if form.is_valid():
            report = services.leak_report_create(municipality=request.municipality, actor=request.user,
                                                 **form.cleaned_data)  # fmt: skip
            return redirect(_url(request, "leak", report.reference))
    return render(request, "privacy/staff/leak_new.html", _context(request, form=form))


@staff
@require_http_methods(["GET", "POST"])
def leak(request: HttpRequest, municipality_code: str, reference: str) -> HttpResponse:
    report = get_object_or_404(LeakReport, municipality=request.municipality, reference=reference)
    form = LeakUpdateForm(request.POST or None, initial={
        "preliminary_reported_on": report.preliminary_reported_on, "final_reported_on": report.final_reported_on,
        "persons_notified_on": report.persons_notified_on})  # fmt: skip
    if request.method == "POST":
        _require_writer(request)
        if form.is_valid():
            services.leak_report_update(report=report, actor=request.user, **form.cleaned_data)
            messages.success(request, _("Saved."))
            return redirect(_url(request, "leak", reference))
    return render(
        request, "privacy/staff/leak.html", _context(request, row=selectors.leak_row(report), form=form)
    )


@staff
def requests(request: HttpRequest, municipality_code: str) -> HttpResponse:
    return render(request, "privacy/staff/requests.html",
                  _context(request, rows=selectors.request_rows(request.municipality)))  # fmt: skip


@staff
@require_http_methods(["GET", "POST"])
def request_new(request: HttpRequest, municipality_code: str) -> HttpResponse:
    form = RequestForm(request.POST or None, municipality=request.municipality)
    if request.method == "POST":
        _require_writer(request)
        if form.is_valid():
            try:
                found = services.request_create(municipality=request.municipality, actor=request.user,
                                                **form.cleaned_data)  # fmt: skip
            except services.PrivacyError as exc:
                form.add_error(None, exc.message)
            else:
                return redirect(_url(request, "request", found.reference))
    return render(request, "privacy/staff/request_new.html", _context(request, form=form))


@staff
@require_http_methods(["GET", "POST"])
def request_detail(request: HttpRequest, municipality_code: str, reference: str) -> HttpResponse:
    found = get_object_or_404(DataSubjectRequest, municipality=request.municipality, reference=reference)
    form = RequestActionForm(request.POST or None)
    if request.method == "POST":
        _require_writer(request)
        action = request.POST.get("action")
        if form.is_valid():
            d = form.cleaned_data
            try:
                if action == "extend":
                    services.request_extend(request=found, actor=request.user, reason=d["reason"])
                elif action == "correction_days":
                    services.request_correction_days(request=found, actor=request.user, days=d["days"] or 0)
                elif action == "answer":
                    services.request_answer(request=found, actor=request.user, decision=d["decision"],
                                            answer=d["answer"], answered_on=d["answered_on"])  # fmt: skip
                else:
                    raise Http404
            except services.PrivacyError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("Saved."))
            return redirect(_url(request, "request", reference))
    return render(request, "privacy/staff/request.html", _context(
        request, row=selectors.request_row(found), form=form, today=timezone.localdate()))  # fmt: skip

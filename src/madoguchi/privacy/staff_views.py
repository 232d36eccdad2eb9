"""Staff pages of the privacy workflow under /<lgcode>/staff/privacy/: files, calls, the proposals inbox with
the review checklist, the notice PDF, contract and fee, the creation job with its progress, the provision link,
the register as CSV, leak reports and data-subject requests with their deadlines."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from madoguchi.core.documents import csv_bytes, spreadsheet_text
from madoguchi.identity.decorators import municipality_staff_required
from madoguchi.identity.models import StaffRole
from madoguchi.identity.selectors import staff_access
from madoguchi.privacy import selectors, services, tasks
from madoguchi.privacy.forms import (
    CallForm,
    ContractForm,
    JobForm,
    LeakForm,
    LeakUpdateForm,
    PaidForm,
    ProvisionForm,
    RequestActionForm,
    RequestForm,
    ReviewForm,
)
from madoguchi.privacy.models import CreationJob, DataSubjectRequest, LeakReport, Proposal
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


@staff
def index(request: HttpRequest, municipality_code: str) -> HttpResponse:
    m = request.municipality
    leaks = selectors.leak_rows(m)
    reqs = selectors.request_rows(m)
    return render(request, "privacy/staff/index.html", _context(
        request, files=selectors.files_of(m).count(), calls=selectors.calls_of(m).count(),
        open_proposals=selectors.proposals_of(m).filter(status__in=[Proposal.Status.SUBMITTED,
                                                                    Proposal.Status.IN_REVIEW]).count(),
        overdue_leaks=sum(1 for r in leaks if r.preliminary_overdue or r.final_overdue),
        overdue_requests=sum(1 for r in reqs if r.overdue),
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
def calls(request: HttpRequest, municipality_code: str) -> HttpResponse:
    return render(
        request, "privacy/staff/calls.html", _context(request, calls=selectors.calls_of(request.municipality))
    )


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
    return render(request, "privacy/staff/call_new.html", _context(request, form=form))


@staff
def proposals(request: HttpRequest, municipality_code: str) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in Proposal.Status.values:
        status = ""
    found = selectors.proposals_of(request.municipality, status=status)[:200]
    return render(request, "privacy/staff/proposals.html", _context(
        request, proposals=found, status=status, statuses=Proposal.Status.choices))  # fmt: skip


def _proposal_action(request: HttpRequest, proposal: Proposal, action: str):
    """Run one POSTed step; returns a redirect URL, or None to show the page with the forms' errors."""
    post = request.POST
    user = request.user
    if action == "start_review":
        services.proposal_review_start(proposal=proposal, actor=user)
    elif action in ("checklist", "accept", "reject"):
        form = ReviewForm(post)
        form.is_valid()
        checklist = {k: form.cleaned_data.get(k, False) for k in services.CHECK_KEYS}
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
        form = JobForm(post)
        if not form.is_valid():
            return None
        d = form.cleaned_data
        job = services.creation_job_queue(proposal=proposal, actor=user, k=d["k"], l=d["l"],
                                          suppression=d["suppression"] / 100)  # fmt: skip
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
    initial = {k: found.checklist.get(k, False) for k in services.CHECK_KEYS} | {"note": found.review_note}
    contract = getattr(found, "contract", None)
    return render(request, "privacy/staff/proposal.html", _context(
        request, proposal=found, review=ReviewForm(initial=initial), contract_form=ContractForm(),
        paid_form=PaidForm(), job_form=JobForm(), provision_form=ProvisionForm(), contract=contract,
        disqualifications=services.disqualification_problems(found), jobs=found.jobs.all(),
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


@staff
def register_csv(request: HttpRequest, municipality_code: str) -> HttpResponse:
    rows = [[e.proposal.reference, spreadsheet_text(e.file_name), spreadsheet_text("・".join(e.items)),
             spreadsheet_text(e.processing_method), e.created_on.isoformat(), spreadsheet_text(e.recipient),
             e.provided_on.isoformat() if e.provided_on else ""]
            for e in selectors.register_of(request.municipality).select_related("proposal")]  # fmt: skip
    response = HttpResponse(csv_bytes(REGISTER_HEADER, rows), content_type="text/csv")
    response["Content-Disposition"] = (
        f'attachment; filename="anonymized-register-{request.municipality.code}.csv"'
    )
    return response


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

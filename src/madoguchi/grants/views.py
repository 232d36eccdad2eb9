"""The applicant's subsidy pages: calls, applying (a business with GビズID, or a municipality's staff for the
programmes that fund local governments), status, performance report, withdrawal, the business profile."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from madoguchi.grants import selectors, services
from madoguchi.grants.forms import ExpenseFormSet, ProfileForm, ProjectForm
from madoguchi.grants.models import Application, BusinessProfile, Call, Programme
from madoguchi.grants.notices import decision_pdf
from madoguchi.identity.decorators import municipality_staff_required
from madoguchi.identity.models import BusinessAccount, StaffRole
from madoguchi.procedures.answers import MyNumberUnavailable
from madoguchi.procedures.formengine import parse_definition, visible_fields
from madoguchi.procedures.forms import StepForm

APPLICANT_ROLES = frozenset({StaffRole.Role.MUNICIPAL_ADMIN})


def _account(request: HttpRequest) -> BusinessAccount | None:
    if not request.user.is_authenticated:
        return None
    return BusinessAccount.objects.select_related("business").filter(user=request.user).first()


def calls(request: HttpRequest) -> HttpResponse:
    keyword = request.GET.get("q", "")
    found = selectors.calls_search(keyword=keyword, open_only=request.GET.get("all") != "1")
    return render(request, "grants/calls.html", {"calls": found[:100], "q": keyword})


def call_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    call = get_object_or_404(Call.objects.select_related("programme"), public_id=public_id, published=True)
    account = _account(request)
    problems = (
        services.eligibility_problems(call=call, account=account)
        if call.programme.applicant_type == Programme.ApplicantType.BUSINESS and account is not None
        else []
    )
    return render(
        request, "grants/call.html",
        {"call": call, "account": account, "problems": problems, "open": selectors.is_open(call)},
    )  # fmt: skip


def _apply_form(request, call: Call, application: Application | None):
    definition = parse_definition(call.form_definition)
    answers = dict(application.answers) if application else {}
    fields = [f for f in visible_fields(definition, answers) if f.group is None]
    form = StepForm(
        request.POST if request.method == "POST" else None, definition=definition, fields=fields, page_key=None,
        answers=answers, actor=request.user,
    )  # fmt: skip
    initial = (
        {"project_title": application.project_title, "planned_cost": application.planned_cost,
         "project_end": application.project_end} if application else {}
    )  # fmt: skip
    project = ProjectForm(
        request.POST if request.method == "POST" else None, initial=initial, prefix="project"
    )
    return form, project


def _handle_apply(request, call, *, account=None, municipality=None, application=None, done_url):
    form, project = _apply_form(request, call, application)
    if request.method == "POST":
        try:
            valid = form.is_valid() & project.is_valid()
        except MyNumberUnavailable as exc:
            messages.error(request, str(exc))
            valid = False
        if valid:
            try:
                if application is not None:
                    application = services.application_resubmit(
                        application=application, user=request.user, answers=form.cleaned_answers,
                        planned_cost=project.cleaned_data["planned_cost"],
                    )  # fmt: skip
                else:
                    application = services.application_submit(
                        call=call, user=request.user, answers=form.cleaned_answers, account=account,
                        municipality=municipality, **project.cleaned_data,
                    )  # fmt: skip
            except services.GrantError as exc:
                project.add_error(None, exc.message)
            else:
                messages.success(request, _("Application %(ref)s was sent.") % {"ref": application.reference})
                return redirect(done_url(application))
    return render(request, "grants/apply.html", {"call": call, "form": form, "project": project,
                                                  "application": application})  # fmt: skip


@never_cache
@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest, public_id: str) -> HttpResponse:
    call = get_object_or_404(Call.objects.select_related("programme"), public_id=public_id, published=True)
    if call.programme.applicant_type != Programme.ApplicantType.BUSINESS:
        raise Http404(_("Local governments apply from their staff pages."))
    account = _account(request)
    if account is None:
        return redirect(reverse("business:sign_in") + "?next=" + request.path)
    problems = services.eligibility_problems(call=call, account=account)
    if problems:
        for problem in problems:
            messages.error(request, problem)
        return redirect("grants:call", public_id=public_id)
    return _handle_apply(
        request, call, account=account, done_url=lambda a: reverse("grants:mine_detail", args=[a.reference])
    )


def _mine(request: HttpRequest, reference: str) -> Application:
    account = _account(request)
    if account is None:
        raise PermissionDenied
    application = get_object_or_404(
        Application.objects.select_related("call__programme"), reference=reference, business=account.business
    )
    if not services.may_act_for(application, request.user):
        raise PermissionDenied
    return application


@never_cache
def mine(request: HttpRequest) -> HttpResponse:
    if _account(request) is None:
        return redirect(reverse("business:sign_in") + "?next=" + request.path)
    found = Application.objects.filter(business=_account(request).business).select_related("call__programme")
    return render(request, "grants/mine.html", {"applications": found})


def _detail(
    request: HttpRequest, application: Application, *, template: str, back: str, municipality=None
) -> HttpResponse:
    categories = application.call.programme.expense_categories or []
    formset = ExpenseFormSet(request.POST if request.POST.get("action") == "report" else None,
                             categories=categories, prefix="lines")  # fmt: skip
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "report" and formset.is_valid():
                lines = [(f.cleaned_data["category"], f.cleaned_data["description"], f.cleaned_data["amount"])
                         for f in formset.forms if f.cleaned_data]  # fmt: skip
                services.report_submit(application=application, user=request.user, lines=lines)
                messages.success(request, _("Your performance report was sent."))
                return redirect(back)
            if action == "status_report":
                services.status_report(
                    application=application, user=request.user, text=request.POST.get("text", "")
                )
                messages.success(request, _("Your status report was sent."))
                return redirect(back)
            if action == "withdraw":
                services.application_withdraw(application=application, user=request.user)
                messages.success(request, _("The application was withdrawn."))
                return redirect(back)
        except services.GrantError as exc:
            messages.error(request, exc.message)
    return render(
        request, template,
        {"application": application, "formset": formset, "events": application.events.all(),
         "alerts": application.alerts.filter(resolved_at__isnull=True), "expenses": application.expenses.all(),
         "can_report": application.status == Application.Status.DECIDED,
         "can_withdraw": application.status in (Application.Status.SUBMITTED, Application.Status.IN_REVIEW,
                                                Application.Status.RETURNED, Application.Status.DECIDED)
                         and not application.paid_amount,
         "can_resubmit": application.status == Application.Status.RETURNED, "today": timezone.localdate(),
         "municipality": municipality},
    )  # fmt: skip


@never_cache
@require_http_methods(["GET", "POST"])
def mine_detail(request: HttpRequest, reference: str) -> HttpResponse:
    application = _mine(request, reference)
    return _detail(request, application, template="grants/application.html",
                   back=reverse("grants:mine_detail", args=[reference]))  # fmt: skip


@never_cache
@require_http_methods(["GET", "POST"])
def resubmit(request: HttpRequest, reference: str) -> HttpResponse:
    application = _mine(request, reference)
    if application.status != Application.Status.RETURNED:
        return redirect("grants:mine_detail", reference=reference)
    return _handle_apply(request, application.call, application=application,
                         done_url=lambda a: reverse("grants:mine_detail", args=[a.reference]))  # fmt: skip


@never_cache
def notice(request: HttpRequest, reference: str) -> HttpResponse:
    application = _mine(request, reference)
    return _pdf(application)


def _pdf(application: Application) -> HttpResponse:
    try:
        data = decision_pdf(application)
    except ValueError:
        raise Http404(_("There is no decision yet.")) from None
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="decision-{application.reference}.pdf"'
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    if account is None:
        return redirect(reverse("business:sign_in") + "?next=" + request.path)
    instance = BusinessProfile.objects.filter(business=account.business).first() or BusinessProfile(
        business=account.business, prefecture=account.business.prefecture
    )
    form = ProfileForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        form.save()
        from madoguchi.core import audit

        audit.record(actor=request.user, action="grants.profile_saved", target=form.instance,
                     details={"notify": form.instance.notify})  # fmt: skip
        messages.success(request, _("Saved. We will tell you about new calls that match."))
        return redirect("grants:profile")
    return render(request, "grants/profile.html", {"form": form, "account": account})


# --- A municipality applying (e.g. マイナポイント事業費補助金) ------------------------------------------------
@municipality_staff_required(APPLICANT_ROLES)
def municipal_calls(request: HttpRequest, municipality_code: str) -> HttpResponse:
    found = selectors.calls_search(applicant_type=Programme.ApplicantType.LOCAL_GOVERNMENT, open_only=False)
    mine = Application.objects.filter(applicant_municipality=request.municipality).select_related(
        "call__programme"
    )
    return render(request, "grants/municipal_calls.html",
                  {"calls": found, "applications": mine, "municipality": request.municipality})  # fmt: skip


@municipality_staff_required(APPLICANT_ROLES)
@require_http_methods(["GET", "POST"])
def municipal_apply(request: HttpRequest, municipality_code: str, public_id: str) -> HttpResponse:
    call = get_object_or_404(Call.objects.select_related("programme"), public_id=public_id, published=True,
                             programme__applicant_type=Programme.ApplicantType.LOCAL_GOVERNMENT)  # fmt: skip
    problems = services.eligibility_problems(call=call, municipality=request.municipality)
    if problems:
        for problem in problems:
            messages.error(request, problem)
        return redirect("grants_applicant:calls", municipality_code=municipality_code)
    return _handle_apply(
        request, call, municipality=request.municipality,
        done_url=lambda a: reverse("grants_applicant:application", args=[municipality_code, a.reference]),
    )  # fmt: skip


@municipality_staff_required(APPLICANT_ROLES)
@require_http_methods(["GET", "POST"])
def municipal_application(request: HttpRequest, municipality_code: str, reference: str) -> HttpResponse:
    application = get_object_or_404(
        Application.objects.select_related("call__programme"), reference=reference,
        applicant_municipality=request.municipality,
    )  # fmt: skip
    return _detail(request, application, template="grants/application.html", municipality=request.municipality,
                   back=reverse("grants_applicant:application", args=[municipality_code, reference]))  # fmt: skip

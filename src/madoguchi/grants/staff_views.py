"""Staff pages of the subsidies: the reviewer inbox, each application's steps, alerts, dashboards and the
admin-cost subsidy table. Two scopes: a municipality's own programmes (/<lgcode>/staff/grants/, its staff)
and the ministries' programmes (/staff/grants/, platform operators)."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from madoguchi.core.documents import csv_bytes, spreadsheet_text, xlsx_bytes
from madoguchi.core.wareki import fiscal_year
from madoguchi.grants import selectors, services
from madoguchi.grants.forms import DecisionForm
from madoguchi.grants.models import Application, Programme
from madoguchi.grants.notices import decision_pdf
from madoguchi.identity.decorators import municipality_staff_required, verified_staff_required
from madoguchi.identity.models import StaffRole
from madoguchi.identity.selectors import is_platform_operator

R = StaffRole.Role
STAFF = frozenset({R.MUNICIPAL_ADMIN, R.REVIEWER, R.AUDITOR})
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def scoped(view):
    """Run `view(request, scope)` where scope is the URL's municipality (its staff) or None (operators)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, municipality_code: str | None = None, **kwargs):
        return view(request, request.municipality if municipality_code else None, *args, **kwargs)

    municipal = municipality_staff_required(STAFF)(wrapped)

    @wraps(view)
    @verified_staff_required
    def national(request: HttpRequest, *args, **kwargs):
        if not is_platform_operator(request.user):
            raise Http404
        return view(request, None, *args, **kwargs)

    def dispatch(request: HttpRequest, *args, **kwargs):
        if "municipality_code" in kwargs:
            return municipal(request, *args, **kwargs)
        return national(request, *args, **kwargs)

    return dispatch


def _url(scope, name: str, *args) -> str:
    if scope is None:
        return reverse(f"grants_national:{name}", args=args)
    return reverse(f"grants_staff:{name}", args=[scope.code, *args])


def _download(data: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@scoped
def index(request: HttpRequest, scope) -> HttpResponse:
    programmes = selectors.programmes_for(municipality=scope)
    status = request.GET.get("status", "")
    found = selectors.inbox(programmes=programmes, status=status, keyword=request.GET.get("q", ""))
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    return render(
        request, "grants/staff/index.html",
        {"scope": scope, "municipality": scope, "programmes": programmes, "page": page,
         "alerts": selectors.open_alerts(programmes=programmes)[:50], "statuses": Application.Status.choices,
         "status": status, "base": _url(scope, "index")},
    )  # fmt: skip


ACTIONS = {
    "review": lambda a, u, f: services.application_review(application=a, actor=u),
    "return": lambda a, u, f: services.application_return(application=a, actor=u, note=f["note"]),
    "decide": lambda a, u, f: services.application_decide(application=a, actor=u, amount=f["amount"] or 0, note=f["note"]),
    "refuse": lambda a, u, f: services.application_refuse(application=a, actor=u, note=f["note"]),
    "change": lambda a, u, f: services.application_change(application=a, actor=u, amount=f["amount"] or 0, note=f["note"]),
    "confirm": lambda a, u, f: services.amount_confirm(application=a, actor=u),
    "advance": lambda a, u, f: services.disburse(application=a, actor=u, amount=f["amount"] or 0,
                                                 on=f["on"] or timezone.localdate(), advance=True),
    "pay": lambda a, u, f: services.disburse(application=a, actor=u, amount=f["amount"] or 0,
                                             on=f["on"] or timezone.localdate()),
    "cancel": lambda a, u, f: services.application_cancel(application=a, actor=u, note=f["note"]),
    "carry_over": lambda a, u, f: services.carry_over_record(application=a, actor=u, amount=f["amount"] or 0,
                                                             from_fiscal_year=fiscal_year(f["on"] or timezone.localdate()),
                                                             reason=f["note"]),
    "return_money": lambda a, u, f: services.return_record(application=a, actor=u, amount=f["amount"] or 0,
                                                           on=f["on"] or timezone.localdate()),
}  # fmt: skip


@scoped
@require_http_methods(["GET", "POST"])
def application(request: HttpRequest, scope, reference: str) -> HttpResponse:
    found = get_object_or_404(
        Application.objects.select_related("call__programme", "business", "applicant_municipality"),
        reference=reference, call__programme__in=selectors.programmes_for(municipality=scope),
    )  # fmt: skip
    form = DecisionForm(request.POST or None)
    writer = scope is None or services_staff(request, scope)
    if request.method == "POST":
        action = request.POST.get("action")
        if not writer or action not in ACTIONS:
            raise Http404
        if form.is_valid():
            try:
                ACTIONS[action](found, request.user, form.cleaned_data)
            except services.GrantError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("Done."))
                return redirect(_url(scope, "application", reference))
    additional = late = None
    if found.status == Application.Status.CANCELLED or services.overpayment(found):
        additional, late = services.return_charges(found, until=timezone.localdate())
    return render(
        request, "grants/staff/application.html",
        {"application": found, "form": form, "scope": scope, "municipality": scope, "writer": writer,
         "events": found.events.select_related("actor"), "expenses": found.expenses.all(),
         "alerts": found.alerts.all(), "disbursements": found.disbursements.all(),
         "eligible": services.eligible_spent(found), "overpayment": services.overpayment(found),
         "additional": additional, "late": late,
         "charge_rows": [
             {"start": r.start, "end": r.end, "days": r.days, "principal": r.principal,
              "charge": f"{float(r.charge):,.2f}"} for r in (additional.rows if additional else ())
         ], "notice_url": _url(scope, "notice", reference),
         "index_url": _url(scope, "index")},
    )  # fmt: skip


def services_staff(request: HttpRequest, scope) -> bool:
    from madoguchi.identity.selectors import staff_access

    return staff_access(request.user, scope, {R.MUNICIPAL_ADMIN, R.REVIEWER})


@scoped
def notice(request: HttpRequest, scope, reference: str) -> HttpResponse:
    found = get_object_or_404(Application, reference=reference,
                              call__programme__in=selectors.programmes_for(municipality=scope))  # fmt: skip
    try:
        data = decision_pdf(found)
    except ValueError:
        raise Http404(_("There is no decision yet.")) from None
    return _download(data, f"decision-{reference}.pdf", "application/pdf")


DASH_HEADER = ["区分", "件数", "申請額", "交付決定額", "確定額", "支払額"]


@scoped
def dashboard(request: HttpRequest, scope) -> HttpResponse:
    programmes = selectors.programmes_for(municipality=scope)
    by = request.GET.get("by", "programme")
    if by not in ("programme", "status", "prefecture", "industry"):
        by = "programme"
    rows = selectors.dashboard(programmes=programmes, by=by)
    table = [[spreadsheet_text(r.key), r.count, r.requested, r.decided, r.confirmed, r.paid] for r in rows]
    fmt = request.GET.get("format")
    if fmt == "csv":
        return _download(csv_bytes(DASH_HEADER, table), f"grants-{by}.csv", "text/csv")
    if fmt == "xlsx":
        return _download(xlsx_bytes("補助金", DASH_HEADER, table), f"grants-{by}.xlsx", XLSX)
    biggest = max([r.requested for r in rows] + [1])
    bars = [{"y": i * 28, "label": r.key[:16], "width": round(r.requested * 380 / biggest),
             "decided": round(r.decided * 380 / biggest), "text": f"{r.requested:,}"} for i, r in enumerate(rows[:20])]  # fmt: skip
    return render(
        request, "grants/staff/dashboard.html",
        {"rows": rows, "by": by, "scope": scope, "municipality": scope, "bars": bars,
         "height": max(len(bars), 1) * 28 + 10, "days": selectors.decision_days(programmes=programmes),
         "base": _url(scope, "dashboard")},
    )  # fmt: skip


BODY_HEADER = [
    "団体コード",
    "団体名",
    "人口",
    "基準額",
    "交付申請額",
    "交付決定額",
    "確定額",
    "支払額",
    "返還額",
]


@scoped
def base_table(request: HttpRequest, scope, code: str) -> HttpResponse:
    programme = get_object_or_404(Programme, code=code, municipality=scope)
    rows = selectors.admin_cost_table(programme)
    table = [[r.code, spreadsheet_text(r.name), r.population, r.base, r.applied, r.decided, r.confirmed, r.paid,
              r.returned] for r in rows]  # fmt: skip
    fmt = request.GET.get("format")
    if fmt == "csv":
        return _download(csv_bytes(BODY_HEADER, table), f"{programme.code}-bodies.csv", "text/csv")
    if fmt == "xlsx":
        return _download(xlsx_bytes("団体別", BODY_HEADER, table), f"{programme.code}-bodies.xlsx", XLSX)
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    return render(
        request, "grants/staff/base_table.html",
        {"programme": programme, "page": page, "total": sum(r.base for r in rows), "count": len(rows),
         "scope": scope, "municipality": scope, "base": _url(scope, "base_table", code)},
    )  # fmt: skip


@scoped
@require_http_methods(["GET", "POST"])
def call_new(request: HttpRequest, scope) -> HttpResponse:
    """A new call (公募) of one of this scope's programmes; its form is the standard one or a builder export."""
    import json

    from madoguchi.grants.demo import _form
    from madoguchi.grants.forms import CallForm
    from madoguchi.procedures.answers import definition_problem_message
    from madoguchi.procedures.formengine import DefinitionError

    programmes = selectors.programmes_for(municipality=scope)
    form = CallForm(request.POST or None, request.FILES or None, programmes=programmes)
    if request.method == "POST":
        if scope is not None and not services_staff(request, scope):
            raise Http404
        if form.is_valid():
            data = dict(form.cleaned_data)
            programme = programmes.get(code=data.pop("programme"))
            upload = data.pop("form_file")
            publish = data.pop("publish")
            try:
                definition = json.loads(upload.read().decode("utf-8")) if upload else _form(data["title"], [])
                call = services.call_create(programme=programme, actor=request.user, form_definition=definition,
                                            publish=publish, **data)  # fmt: skip
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                form.add_error("form_file", _("The file is not valid JSON: %(error)s") % {"error": exc})
            except DefinitionError as exc:
                for problem in exc.problems[:10]:
                    form.add_error("form_file", definition_problem_message(problem))
            except services.GrantError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Call %(id)s created.") % {"id": call.public_id})
                return redirect(_url(scope, "index"))
    return render(
        request, "grants/staff/call_new.html", {"form": form, "scope": scope, "municipality": scope}
    )

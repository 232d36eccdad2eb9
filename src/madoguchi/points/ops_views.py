"""マイナポイント back-office pages: the national dashboard and settlement for platform operators (the
ministry), and the municipal dashboard for a municipality's own staff.

Reads go through points.dashboards and points.settlement's selectors; every change through
points.settlement's services, which check the actor again.
"""

import csv
import io
from functools import wraps

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from madoguchi.core.documents import spreadsheet_text
from madoguchi.identity.decorators import municipality_staff_required, verified_staff_required
from madoguchi.identity.selectors import is_platform_operator
from madoguchi.points import dashboards, settlement
from madoguchi.points.dashboards import Table
from madoguchi.points.models import Campaign, PaymentProvider, Statement
from madoguchi.points.settlement import SettlementError

STATEMENTS_PER_PAGE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def operator_required(view):
    """A verified staff member who is a platform operator; 403 for any other staff member."""

    @wraps(view)
    @verified_staff_required
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not is_platform_operator(request.user):
            raise PermissionDenied(
                _("These pages are for platform operators (the ministry's settlement staff).")
            )
        return view(request, *args, **kwargs)

    return wrapped


def _download(content: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _table_csv(table: Table, filename: str) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.header)
    writer.writerows([spreadsheet_text(v) if isinstance(v, str) else v for v in row] for row in table.rows)
    # UTF-8 with a BOM so that Excel shows the Japanese names.
    return _download(("\ufeff" + buffer.getvalue()).encode("utf-8"), filename, "text/csv; charset=utf-8")


def _campaign_from(request: HttpRequest) -> Campaign | None:
    code = request.GET.get("campaign", "").strip()
    if not code:
        return None
    campaign = Campaign.objects.filter(code=code).first()
    if campaign is None:
        raise Http404(_("There is no campaign with the code %(code)s.") % {"code": code})
    return campaign


# --- National dashboard ----------------------------------------------------------------------------------------
@operator_required
def national(request: HttpRequest) -> HttpResponse:
    campaign = _campaign_from(request)
    tables = dashboards.national_dashboard(campaign)
    query = f"?campaign={campaign.code}" if campaign else ""
    for table in tables:
        table.csv_url = reverse("points_ops:national_csv", args=[table.slug]) + query
    return render(
        request,
        "points/ops/national.html",
        {
            "tables": tables,
            "campaign": campaign,
            "campaigns": dashboards.campaign_choices(),
        },
    )


@operator_required
def national_csv(request: HttpRequest, table: str) -> HttpResponse:
    campaign = _campaign_from(request)
    built = dashboards.national_table(table, campaign)
    if built is None:
        raise Http404(_("There is no such table."))
    scope = campaign.code if campaign else "all"
    return _table_csv(built, f"mynapoint-{built.slug}-{scope}-{timezone.localdate():%Y%m%d}.csv")


# --- Municipal dashboard ---------------------------------------------------------------------------------------
@municipality_staff_required()
def municipal(request: HttpRequest, municipality_code: str) -> HttpResponse:
    municipality = request.municipality
    campaign = _campaign_from(request)
    tables = dashboards.municipal_dashboard(municipality, campaign)
    query = f"?campaign={campaign.code}" if campaign else ""
    for table in tables:
        table.csv_url = reverse("points_municipal:csv", args=[municipality.code, table.slug]) + query
    return render(
        request,
        "points/ops/municipal.html",
        {
            "municipality": municipality,
            "summary": dashboards.municipal_summary(municipality, campaign),
            "tables": tables,
            "campaign": campaign,
            "campaigns": dashboards.campaign_choices(),
        },
    )


@municipality_staff_required()
def municipal_csv(request: HttpRequest, municipality_code: str, table: str) -> HttpResponse:
    municipality = request.municipality
    build = dashboards.MUNICIPAL_TABLES.get(table)
    if build is None:
        raise Http404(_("There is no such table."))
    campaign = _campaign_from(request)
    built = build(municipality, campaign)
    scope = campaign.code if campaign else "all"
    return _table_csv(
        built, f"mynapoint-{municipality.code}-{built.slug}-{scope}-{timezone.localdate():%Y%m%d}.csv"
    )


# --- Settlement ------------------------------------------------------------------------------------------------
def _campaign_field(required: bool) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=Campaign.objects.order_by("application_starts_at", "code"),
        to_field_name="code",
        required=required,
        label=gettext_lazy("Campaign"),
        empty_label=None if required else gettext_lazy("All campaigns"),
    )


class MonthField(forms.CharField):
    widget = forms.TextInput(attrs={"type": "month", "placeholder": "2020-09", "inputmode": "numeric"})

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            return settlement.parse_month(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="month") from None

    def prepare_value(self, value):
        return settlement.month_label(value) if isinstance(value, int) else value


class StatementFilterForm(forms.Form):
    campaign = _campaign_field(required=False)
    provider = forms.ModelChoiceField(
        queryset=PaymentProvider.objects.order_by("name", "pk"),
        to_field_name="code",
        required=False,
        label=gettext_lazy("Payment service"),
        empty_label=gettext_lazy("All payment services"),
    )
    kind = forms.ChoiceField(
        choices=[("", gettext_lazy("All kinds")), *Statement.Kind.choices],
        required=False,
        label=gettext_lazy("Kind"),
    )
    status = forms.ChoiceField(
        choices=[("", gettext_lazy("All states")), *Statement.Status.choices],
        required=False,
        label=gettext_lazy("Status"),
    )
    month = MonthField(required=False, label=gettext_lazy("Month"))


class GenerateForm(forms.Form):
    campaign = _campaign_field(required=True)
    kind = forms.ChoiceField(choices=Statement.Kind.choices, label=gettext_lazy("Kind"), initial="estimate")
    month = MonthField(
        required=False,
        label=gettext_lazy("Month to settle (estimates only)"),
        help_text=gettext_lazy(
            "A month that has ended, as YYYY-MM. Final and repayment statements are drawn up for the current month."
        ),
    )

    def clean(self):
        data = super().clean()
        if data.get("kind") == Statement.Kind.ESTIMATE and not data.get("month"):
            self.add_error("month", _("Choose the month to settle."))
        return data


def _filtered_statements(request: HttpRequest):
    form = StatementFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    statements = settlement.statements_list(
        campaign=filters.get("campaign"),
        provider=filters.get("provider"),
        kind=filters.get("kind") or "",
        status=filters.get("status") or "",
        month=filters.get("month"),
    )
    return form, filters, statements


@operator_required
def statements(request: HttpRequest) -> HttpResponse:
    form, filters, listed = _filtered_statements(request)
    page = Paginator(listed, STATEMENTS_PER_PAGE).get_page(request.GET.get("page"))
    campaign = filters.get("campaign")
    generate = GenerateForm(
        initial={
            "campaign": campaign.code if campaign else None,
            "month": settlement.month_label(settlement.previous_month(settlement.current_month())),
        }
    )
    return render(
        request,
        "points/ops/statements.html",
        {
            "form": form,
            "generate": generate,
            "page": page,
            "campaign": campaign,
            "unsettled": settlement.unsettled_summary(campaign=campaign) if campaign else None,
        },
    )


@operator_required
def statements_export(request: HttpRequest, fmt: str) -> HttpResponse:
    _form, _filters, listed = _filtered_statements(request)
    stamp = timezone.localdate().strftime("%Y%m%d")
    if fmt == "csv":
        return _download(
            settlement.statements_csv(listed), f"statements-{stamp}.csv", "text/csv; charset=utf-8"
        )
    if fmt == "xlsx":
        return _download(settlement.statements_xlsx(listed), f"statements-{stamp}.xlsx", XLSX)
    raise Http404(_("There is no such format."))


@operator_required
@require_POST
def statement_generate(request: HttpRequest) -> HttpResponse:
    form = GenerateForm(request.POST)
    if not form.is_valid():
        for field_errors in form.errors.values():
            for error in field_errors:
                messages.error(request, error)
        return redirect("points_ops:statements")
    campaign, kind = form.cleaned_data["campaign"], form.cleaned_data["kind"]
    try:
        made, refusals = settlement.statements_generate(
            campaign=campaign, kind=kind, month=form.cleaned_data.get("month"), actor=request.user
        )
    except SettlementError as exc:
        messages.error(request, exc.message)
        return redirect("points_ops:statements")
    if made:
        messages.success(
            request,
            _("%(count)s statement(s) drawn up or refreshed as drafts; claimed ones are left as they are.")
            % {"count": len(made)},
        )
    elif not refusals:
        messages.info(request, _("No payment service has points to settle for that period."))
    for refusal in refusals:
        messages.error(request, f"{refusal.provider.name}: {refusal.message}")
    return redirect(f"{reverse('points_ops:statements')}?campaign={campaign.code}")


def _statement_or_404(pk: int) -> Statement:
    statement = settlement.statement_by_id(pk)
    if statement is None:
        raise Http404(_("There is no such statement."))
    return statement


@operator_required
def statement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    statement = _statement_or_404(pk)
    return render(
        request,
        "points/ops/statement.html",
        {
            "statement": statement,
            "lines": settlement.statement_lines(statement),
            "month_wareki": settlement.month_wareki(statement.month),
            "month": statement.period,
            "amount_abs": abs(statement.amount_due),
        },
    )


ACTIONS = {
    "refresh": (None, gettext_lazy("The draft's figures were recomputed.")),
    "claim": (
        settlement.statement_claim,
        gettext_lazy("The statement was claimed; its figures are now fixed."),
    ),
    "approve": (settlement.statement_approve, gettext_lazy("The statement was approved.")),
    "pay": (settlement.statement_mark_paid, gettext_lazy("The statement was marked as paid.")),
    "discard": (settlement.statement_discard, gettext_lazy("The draft was discarded.")),
}


@operator_required
@require_POST
def statement_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    statement = _statement_or_404(pk)
    if action not in ACTIONS:
        raise Http404(_("There is no such action."))
    service, done = ACTIONS[action]
    try:
        if action == "refresh":
            if statement.frozen:
                raise SettlementError("not_draft", _("Only a draft statement can be recomputed."))
            settlement.statement_generate(
                campaign=statement.campaign, provider=statement.provider, kind=statement.kind,
                month=statement.month if statement.kind == Statement.Kind.ESTIMATE else None, actor=request.user,
            )  # fmt: skip
        else:
            service(statement=statement, actor=request.user)
    except SettlementError as exc:
        messages.error(request, exc.message)
        return redirect("points_ops:statement", pk=pk)
    messages.success(request, done)
    if action == "discard":
        return redirect("points_ops:statements")
    return redirect("points_ops:statement", pk=pk)


@operator_required
def statement_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    statement = _statement_or_404(pk)
    stem = f"statement-{statement.provider.code}-{statement.kind}-{statement.month}-{statement.pk}"
    if fmt == "csv":
        return _download(settlement.statement_csv(statement), f"{stem}.csv", "text/csv; charset=utf-8")
    if fmt == "xlsx":
        return _download(settlement.statement_xlsx(statement), f"{stem}.xlsx", XLSX)
    if fmt == "pdf":
        return _download(settlement.statement_pdf(statement), f"{stem}.pdf", "application/pdf")
    raise Http404(_("There is no such format."))

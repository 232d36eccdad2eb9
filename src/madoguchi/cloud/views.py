"""自治体クラウド staff pages, mounted under a "staff/" path so that the Internet zone never serves them.

Every page resolves the user's role in the group through `selectors.group_role`; a group the user may not see
answers 404, so that its existence is not revealed either. Changes go through `services`, which check again.
"""

import csv
import io

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from madoguchi.cloud import selectors, services
from madoguchi.cloud.models import CloudGroup, CostStatement, period_validator
from madoguchi.core.models import Municipality
from madoguchi.identity.decorators import verified_staff_required

CHART_WIDTH = 640
CHART_BAR = 18
CHART_GAP = 10
CHART_LABEL = 260


class OnboardForm(forms.Form):
    municipality_code = forms.RegexField(
        regex=r"^\d{6}$", label=gettext_lazy("Local government code (6 digits)"), max_length=6
    )
    joined_on = forms.DateField(
        label=gettext_lazy("Joined on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    cost_before_yen = forms.IntegerField(
        label=gettext_lazy("Annual cost before joining (yen)"),
        min_value=0,
        required=False,
        help_text=gettext_lazy("Leave empty when not recorded."),
    )

    def clean_municipality_code(self) -> Municipality:
        code = self.cleaned_data["municipality_code"]
        municipality = Municipality.objects.filter(code=code).first()
        if municipality is None:
            raise forms.ValidationError(_("There is no municipality with this code."))
        return municipality


class IssueForm(forms.Form):
    period = forms.CharField(
        label=gettext_lazy("Period (YYYYMM, or FY and the fiscal year)"),
        max_length=6,
        validators=[period_validator],
    )
    total_cost_yen = forms.IntegerField(label=gettext_lazy("Total operating cost (yen)"), min_value=0)
    note = forms.CharField(label=gettext_lazy("Note"), max_length=255, required=False)


def _group_for(request: HttpRequest, pk: int) -> tuple[CloudGroup, str]:
    group = get_object_or_404(CloudGroup.objects.select_related("lead_municipality__prefecture"), pk=pk)
    role = selectors.group_role(request.user, group)
    if role is None:
        raise Http404(_("There is no such group."))
    return group, role


def _require_admin(role: str) -> None:
    if role not in (selectors.OPERATOR, selectors.ADMIN):
        raise PermissionDenied(_("Only an administrator of the group's lead municipality may do this."))


@verified_staff_required
def index(request: HttpRequest) -> HttpResponse:
    groups = list(selectors.groups_for(request.user))
    rows = [(g, selectors.group_role(request.user, g)) for g in groups]
    return render(request, "cloud/index.html", {"rows": rows})


@verified_staff_required
def group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    group, role = _group_for(request, pk)
    context = {"group": group, "role": role, "is_admin": role in (selectors.OPERATOR, selectors.ADMIN)}
    statements = group.statements.order_by("-period")
    if context["is_admin"]:
        context.update(
            memberships=selectors.memberships_of(group),
            standards=group.standards.order_by("code"),
            statements=statements,
            onboard_form=OnboardForm(initial={"joined_on": timezone.localdate()}),
            issue_form=IssueForm(),
        )
    else:
        context["my_lines"] = selectors.member_lines(request.user, group)
    return render(request, "cloud/group.html", context)


@require_POST
@verified_staff_required
def member_onboard(request: HttpRequest, pk: int) -> HttpResponse:
    group, role = _group_for(request, pk)
    _require_admin(role)
    form = OnboardForm(request.POST)
    if form.is_valid():
        try:
            membership = services.member_onboard(
                group=group,
                municipality=form.cleaned_data["municipality_code"],
                joined_on=form.cleaned_data["joined_on"],
                cost_before_yen=form.cleaned_data["cost_before_yen"],
                actor=request.user,
            )
        except services.CloudError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, _("%(name)s has joined the group.") % {"name": membership.municipality.full_name}
            )
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("cloud:group", pk=group.pk)


@require_POST
@verified_staff_required
def statement_issue(request: HttpRequest, pk: int) -> HttpResponse:
    group, role = _group_for(request, pk)
    _require_admin(role)
    form = IssueForm(request.POST)
    if form.is_valid():
        try:
            statement = services.cost_statement_issue(
                group=group,
                period=form.cleaned_data["period"],
                total_cost_yen=form.cleaned_data["total_cost_yen"],
                note=form.cleaned_data["note"],
                actor=request.user,
            )
        except services.CloudError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, _("The statement for %(period)s was issued.") % {"period": statement.period}
            )
            return redirect("cloud:statement", pk=statement.pk)
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("cloud:group", pk=group.pk)


@require_POST
@verified_staff_required
def usage_meter(request: HttpRequest, pk: int) -> HttpResponse:
    """Measure a month's usage of every member from the platform (applications, storage, staff accounts)."""
    group, role = _group_for(request, pk)
    _require_admin(role)
    raw = request.POST.get("month", "").replace("-", "")
    try:
        month = int(raw)
        records = services.usage_meter(group=group, month=month, actor=request.user)
    except ValueError:
        messages.error(request, _("The month must be YYYYMM."))
    except services.CloudError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Usage of %(month)s measured for %(count)s members.") % {"month": month, "count": len(records)},
        )
    return redirect("cloud:group", pk=group.pk)


def _statement_for(request: HttpRequest, pk: int):
    statement = get_object_or_404(CostStatement.objects.select_related("group__lead_municipality"), pk=pk)
    lines = selectors.visible_lines(request.user, statement)
    if not lines.exists():
        raise Http404(_("There is no such statement."))
    return statement, lines


@verified_staff_required
def statement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    statement, lines = _statement_for(request, pk)
    role = selectors.group_role(request.user, statement.group)
    return render(
        request,
        "cloud/statement.html",
        {"statement": statement, "lines": lines, "full": role in (selectors.OPERATOR, selectors.ADMIN)},
    )


def _cell(value: object) -> object:
    # A text cell that starts like a formula would run in a spreadsheet: make it plain text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@verified_staff_required
def statement_csv(request: HttpRequest, pk: int, code: str) -> HttpResponse:
    """One member's statement line as CSV (UTF-8 with a BOM, so that Excel shows the Japanese names)."""
    statement, lines = _statement_for(request, pk)
    line = lines.filter(municipality__code=code).first()
    if line is None:
        raise Http404(_("There is no such statement."))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(
        [
            _("Group"),
            _("Period"),
            _("Group total (yen)"),
            _("Local government code"),
            _("Municipality"),
            _("Basis"),
            _("Equal part (yen)"),
            _("Variable part (yen)"),
            _("Total (yen)"),
            _("Issued at"),
        ]
    )
    writer.writerow(
        [
            _cell(statement.group.name),
            statement.period,
            statement.total_cost_yen,
            line.municipality.code,
            _cell(line.municipality.full_name),
            _cell(line.basis),
            line.equal_part_yen,
            line.variable_part_yen,
            line.total_yen,
            timezone.localtime(statement.issued_at).isoformat(),
        ]
    )
    response = HttpResponse(
        ("\ufeff" + buffer.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="cloud-statement-{statement.period}-{code}.csv"'
    return response


def _bar_chart(
    chart_id: str, title: str, description: str, bars: list[tuple[str, int, str]], scale: int
) -> dict:
    """A horizontal bar chart for cloud/_chart.html; `bars` are (label, value, shown text)."""
    plot = CHART_WIDTH - CHART_LABEL - 80
    top = max([scale, *[v for _label, v, _text in bars]]) or 1
    items = []
    for i, (label, value, text) in enumerate(bars):
        y = CHART_GAP + i * (CHART_BAR + CHART_GAP)
        width = max(0, value) * plot // top
        items.append(
            {
                "label": label,
                "text": text,
                "y": y,
                "text_y": y + CHART_BAR - 4,
                "width": width,
                "value_x": CHART_LABEL + width + 6,
            }
        )
    return {
        "id": chart_id,
        "title": title,
        "description": description,
        "width": CHART_WIDTH,
        "height": CHART_GAP + len(bars) * (CHART_BAR + CHART_GAP),
        "bar_height": CHART_BAR,
        "plot_left": CHART_LABEL,
        "label_right": CHART_LABEL - 6,
        "bars": items,
    }


@verified_staff_required
def savings(request: HttpRequest) -> HttpResponse:
    rows = selectors.savings_report(selectors.groups_for(request.user))
    bars = []
    for row in rows:
        value = row.reduction_bp if row.reduction_bp is not None else row.reported_reduction_bp
        if value is not None:
            label = (
                row.group.name
                if row.reduction_bp is not None
                else _("%(name)s (reported)") % {"name": row.group.name}
            )
            bars.append((label, max(value, 0), f"{value / 100:.1f}%"))
    reduction_chart = _bar_chart(
        "cloud-reduction",
        _("Cost reduction by group"),
        _(
            "Reduction of the annual operating cost after joining, in percent; the table below has the figures."
        ),
        bars,
        10_000,
    )
    national = selectors.national_figures()
    national_chart = None
    if national is not None:
        pairs = [
            (_("Bodies using the cloud"), national.bodies_on_cloud),
            (_("Target: bodies using the cloud"), national.target_bodies_on_cloud),
            (_("Bodies using a shared cloud"), national.bodies_on_group_cloud),
            (_("Target: bodies using a shared cloud"), national.target_bodies_on_group_cloud),
        ]
        national_bars = [(label, v, f"{v:,}") for label, v in pairs if v is not None]
        if national_bars:
            national_chart = _bar_chart(
                "cloud-national",
                _("Bodies on the cloud and the national targets"),
                _("Recorded figures only; the table below shows which are not recorded."),
                national_bars,
                0,
            )
    return render(
        request,
        "cloud/savings.html",
        {
            "rows": rows,
            "reduction_chart": reduction_chart,
            "national": national,
            "national_chart": national_chart,
        },
    )

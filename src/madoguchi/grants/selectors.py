"""Reads of the subsidies app: calls, staff inboxes by scope, dashboards and the admin-cost subsidy table."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from madoguchi.grants.models import Alert, Application, BaseAmount, Call, Programme
from madoguchi.procedures.formengine import normalize_search_text


def is_open(call: Call) -> bool:
    now = timezone.now()
    return call.published and call.acceptance_start_datetime <= now <= call.acceptance_end_datetime


def calls_search(*, keyword: str = "", open_only: bool = True, applicant_type: str = "") -> list[Call]:
    """Published calls; the keyword ignores case and full/half width (matched on the normalised text)."""
    found = Call.objects.filter(published=True).select_related("programme")
    if open_only:
        now = timezone.now()
        found = found.filter(acceptance_start_datetime__lte=now, acceptance_end_datetime__gte=now)
    if applicant_type:
        found = found.filter(programme__applicant_type=applicant_type)
    words = normalize_search_text(keyword).split()
    calls = list(found.order_by("acceptance_end_datetime"))
    if words:

        def text(c: Call) -> str:
            return normalize_search_text(
                " ".join([c.name, c.title, c.catch_phrase, c.programme.institution_name])
            )

        calls = [c for c in calls if all(w in text(c) for w in words)]
    return calls


def programmes_for(*, municipality=None) -> QuerySet[Programme]:
    """The programmes a staff scope runs: a municipality's own, or (municipality=None) the ministries'."""
    return Programme.objects.filter(municipality=municipality).order_by("code")


def inbox(*, programmes, status: str = "", keyword: str = "") -> QuerySet[Application]:
    found = Application.objects.filter(call__programme__in=programmes).select_related(
        "call__programme", "business", "applicant_municipality", "applicant_prefecture"
    )
    if status:
        found = found.filter(status=status)
    if keyword.strip():
        found = found.filter(
            Q(reference__icontains=keyword.strip()) | Q(project_title__icontains=keyword.strip())
        )
    return found.order_by("-submitted_at")


def open_alerts(*, programmes) -> QuerySet[Alert]:
    return Alert.objects.filter(
        application__call__programme__in=programmes, resolved_at__isnull=True
    ).select_related("application")


@dataclass
class DashboardRow:
    key: str
    count: int
    requested: int
    decided: int
    confirmed: int
    paid: int


def dashboard(*, programmes, by: str) -> list[DashboardRow]:
    """Counts and amounts by programme, status, prefecture or industry (from the business profile)."""
    field = {
        "programme": "call__programme__name",
        "status": "status",
        "prefecture": "business__prefecture",
        "industry": "business__grant_profile__industry",
    }[by]
    rows = (
        Application.objects.filter(call__programme__in=programmes)
        .values(field)
        .annotate(
            n=Count("pk"),
            requested=Sum("requested_amount"),
            decided=Sum("decided_amount"),
            confirmed=Sum("confirmed_amount"),
            paid=Sum("paid_amount"),
        )  # fmt: skip
        .order_by(field)
    )
    out = []
    for row in rows:
        key = row[field] or "—"
        if by == "status":
            key = str(Application.Status(key).label) if key in Application.Status.values else key
        if by == "prefecture" and row[field] is None:
            key = "—"
        out.append(DashboardRow(str(key), row["n"], row["requested"] or 0, row["decided"] or 0,
                                row["confirmed"] or 0, row["paid"] or 0))  # fmt: skip
    return out


def decision_days(*, programmes) -> float | None:
    """Average calendar days from application to decision."""
    found = Application.objects.filter(call__programme__in=programmes, decided_at__isnull=False)
    values = [(a.decided_at - a.submitted_at).days for a in found.only("decided_at", "submitted_at")]
    return round(sum(values) / len(values), 1) if values else None


@dataclass
class BodyRow:
    code: str
    name: str
    population: int
    base: int
    applied: int
    decided: int
    confirmed: int
    paid: int
    returned: int


def admin_cost_table(programme: Programme) -> list[BodyRow]:
    """Every body under a base-amount programme: base, applied, decided, confirmed, paid, returned."""
    by_code: dict[str, dict] = {}
    applications = (
        Application.objects.filter(call__programme=programme)
        .exclude(status__in=[Application.Status.WITHDRAWN, Application.Status.REFUSED])
        .select_related("applicant_municipality", "applicant_prefecture")
    )
    for a in applications:
        body = a.applicant_municipality or a.applicant_prefecture
        if body is None:
            continue
        row = by_code.setdefault(
            body.code, {"applied": 0, "decided": 0, "confirmed": 0, "paid": 0, "returned": 0}
        )
        row["applied"] += a.requested_amount
        row["decided"] += a.decided_amount or 0
        row["confirmed"] += a.confirmed_amount or 0
        row["paid"] += a.paid_amount
        row["returned"] += a.returned_amount
    empty = {"applied": 0, "decided": 0, "confirmed": 0, "paid": 0, "returned": 0}
    return [
        BodyRow(b.body_code, b.body_name, b.population, b.amount, **by_code.get(b.body_code, empty))
        for b in BaseAmount.objects.filter(programme=programme).order_by("body_code")
    ]

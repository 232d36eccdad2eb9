"""マイナポイント dashboards: the figures (aggregated in SQL, one query per table) and their charts.

- National, for platform operators: reservations, applications by payment service / prefecture /
  municipality, points per day, budget reserved vs granted per campaign.
- Municipal, for a municipality's own staff: its residents' applications by service and mode, and the desk's
  activity per clerk. Every municipal read filters on the municipality passed in, never on a URL parameter.

A chart is drawn on the server as inline SVG from the same rows as the table shown with it (and the CSV): no
script, no external resource, and the numbers stay readable without the picture.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.core.models import Municipality
from madoguchi.points.models import (
    Application,
    Campaign,
    Mode,
    PointAccount,
    ProviderTransaction,
    Reservation,
    Statement,
)

MUNICIPALITIES_ON_PAGE = 30
DAYS_ON_PAGE = 92


# --- Tables ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    label: str
    numeric: bool = True


@dataclass
class Table:
    """Rows of a dashboard table: text columns first, then integers. `chart` draws some of its columns."""

    slug: str
    title: str
    columns: list[Column]
    rows: list[list]
    chart: "BarChart | ColumnChart | None" = None
    truncated: bool = False
    csv_url: str = ""  # set by the view that shows the table

    @property
    def header(self) -> list[str]:
        return [str(c.label) for c in self.columns]

    @property
    def cells(self) -> list[list[tuple[object, bool]]]:
        """Each row as (value, is it a number) pairs, for the template."""
        return [[(v, c.numeric) for v, c in zip(row, self.columns, strict=True)] for row in self.rows]


def unknown_label() -> str:
    return _("unknown (不明)")


# --- Charts ----------------------------------------------------------------------------------------------------
SERIES_CSS = ("chart-s0", "chart-s1", "chart-s2")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    series: str
    css: str
    text_x: float
    text_y: float


@dataclass(frozen=True)
class BarGroup:
    label: str
    short_label: str
    label_y: float
    bars: list[Bar]


@dataclass(frozen=True)
class LegendItem:
    name: str
    css: str
    x: float
    y: float

    @property
    def text_x(self) -> float:
        return self.x + 16

    @property
    def text_y(self) -> float:
        return self.y + 11


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one group per row and one bar per series: long Japanese names fit at the left."""

    id: str
    title: str
    description: str
    width: int
    height: int
    label_right: float
    plot_left: float
    groups: list[BarGroup]
    legend: list[LegendItem] = field(default_factory=list)
    kind: str = "bars"


def _short(text: str, limit: int = 14) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(
    *, chart_id: str, title: str, groups: list[tuple[str, list[int]]], series: list[str]
) -> BarChart:
    """Lay out a horizontal bar chart; every number is drawn beside its bar as well."""
    bar_height, bar_gap, group_gap = 16, 2, 10
    label_right, plot_left, plot_width, value_room = 168, 176, 400, 90
    legend_height = 24 if len(series) > 1 else 0
    top = 8 + legend_height
    largest = max((v for _, values in groups for v in values), default=0)
    laid_out: list[BarGroup] = []
    y = top
    for label, values in groups:
        bars = []
        for i, value in enumerate(values):
            length = 0.0 if largest <= 0 else round(plot_width * max(value, 0) / largest, 1)
            by = y + i * (bar_height + bar_gap)
            bars.append(
                Bar(plot_left, by, length, bar_height, value, series[i], SERIES_CSS[i % len(SERIES_CSS)],
                    plot_left + length + 4, by + bar_height - 4)
            )  # fmt: skip
        group_height = len(values) * (bar_height + bar_gap) - bar_gap
        laid_out.append(BarGroup(label, _short(label), y + group_height / 2 + 4, bars))
        y += group_height + group_gap
    legend = [
        LegendItem(name, SERIES_CSS[i % len(SERIES_CSS)], plot_left + i * 150, 8)
        for i, name in enumerate(series)
    ]
    if len(series) < 2:
        legend = []
    if groups:
        best = max(groups, key=lambda g: max(g[1], default=0))
        description = _("%(count)s rows; the largest is %(label)s with %(value)s.") % {
            "count": f"{len(groups):,}",
            "label": best[0],
            "value": f"{max(best[1], default=0):,}",
        }
    else:
        description = _("No data yet.")
    height = max(int(y - group_gap + 8), top + 24)
    return BarChart(chart_id, title, description, plot_left + plot_width + value_room, height, label_right,
                    plot_left, laid_out, legend)  # fmt: skip


@dataclass(frozen=True)
class DayColumn:
    x: float
    width: float
    up_y: float
    up_height: float
    down_y: float
    down_height: float
    day: date
    up: int
    down: int


@dataclass(frozen=True)
class AxisLabel:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class ColumnChart:
    """Columns per day: grants upward from the zero line, clawbacks downward."""

    id: str
    title: str
    description: str
    width: int
    height: int
    plot_left: float
    plot_right: float
    zero_y: float
    columns: list[DayColumn]
    x_labels: list[AxisLabel]
    y_labels: list[AxisLabel]
    legend: list[LegendItem]
    kind: str = "columns"


def day_chart(*, chart_id: str, title: str, days: list[tuple[date, int, int]]) -> ColumnChart:
    """`days`: (day, points granted, points clawed back as a positive number), oldest first."""
    width, height = 740, 260
    plot_left, plot_right, plot_top, plot_bottom = 72.0, 712.0, 32.0, 228.0
    up_max = max((up for _, up, _ in days), default=0)
    down_max = max((down for _, _, down in days), default=0)
    span = up_max + down_max
    plot_height = plot_bottom - plot_top
    zero_y = plot_bottom if span == 0 else round(plot_top + plot_height * up_max / span, 1)
    scale = 0.0 if span == 0 else plot_height / span
    slot = (plot_right - plot_left) / max(len(days), 1)
    bar = max(round(slot * 0.8, 2), 0.5)
    columns = []
    for i, (day, up, down) in enumerate(days):
        x = round(plot_left + i * slot + (slot - bar) / 2, 2)
        up_h, down_h = round(up * scale, 1), round(down * scale, 1)
        columns.append(DayColumn(x, bar, round(zero_y - up_h, 1), up_h, zero_y, down_h, day, up, down))
    x_labels = []
    if days:
        step = max(len(days) // 6, 1)
        picks = sorted({*range(0, len(days), step), len(days) - 1})
        if len(picks) > 1 and picks[-1] - picks[-2] < step / 2:
            picks.pop(-2)  # keep the last day's label clear of its neighbour
        x_labels = [
            AxisLabel(round(plot_left + i * slot + slot / 2, 1), plot_bottom + 18, f"{days[i][0]:%m/%d}")
            for i in picks
        ]
    y_labels = [AxisLabel(plot_left - 6, zero_y + 4, "0")]
    if up_max:
        y_labels.append(AxisLabel(plot_left - 6, plot_top + 4, f"{up_max:,}"))
    if down_max:
        y_labels.append(AxisLabel(plot_left - 6, plot_bottom + 4, f"−{down_max:,}"))
    legend = [
        LegendItem(_("granted"), SERIES_CSS[0], plot_left, 8),
        LegendItem(_("clawed back"), SERIES_CSS[1], plot_left + 150, 8),
    ]
    if days:
        best = max(days, key=lambda d: d[1])
        description = _(
            "%(count)s days from %(first)s to %(last)s; the most points were granted on %(day)s: %(value)s."
        ) % {
            "count": len(days),
            "first": days[0][0].isoformat(),
            "last": days[-1][0].isoformat(),
            "day": best[0].isoformat(),
            "value": f"{best[1]:,}",
        }
    else:
        description = _("No points recorded yet.")
    return ColumnChart(chart_id, title, description, width, height, plot_left, plot_right, zero_y, columns,
                       x_labels, y_labels, legend)  # fmt: skip


# --- National --------------------------------------------------------------------------------------------------
def _applications(campaign: Campaign | None):
    qs = Application.objects.all()
    return qs.filter(campaign=campaign) if campaign is not None else qs


def _campaigns(campaign: Campaign | None):
    qs = Campaign.objects.all()
    return qs.filter(pk=campaign.pk) if campaign is not None else qs


def reservations_table(campaign: Campaign | None = None, **_kwargs) -> Table:
    """Reservations and applications per campaign, against how many reservations the budget covers."""
    rows = [
        [c.name, c.reservations, c.reservation_capacity, c.n_applications]
        for c in _campaigns(campaign)
        .annotate(n_applications=Count("applications"))
        .order_by("application_starts_at", "code")
    ]
    title = _("Reservations and applications per campaign")
    return Table(
        "reservations", title,
        [Column(_("Campaign"), False), Column(_("Reservations")), Column(_("Reservations the budget covers")),
         Column(_("Applications"))],
        rows,
        bar_chart(chart_id="chart-reservations", title=title, groups=[(r[0], [r[1], r[3]]) for r in rows],
                  series=[_("Reservations"), _("Applications")]),
    )  # fmt: skip


def budget_table(campaign: Campaign | None = None, **_kwargs) -> Table:
    """Budget, the part reserved by applications (cap × applications), points granted, and paid to providers."""
    granted = (
        PointAccount.objects.filter(campaign=OuterRef("pk"))
        .order_by()
        .values("campaign")
        .annotate(total=Sum("granted"))
        .values("total")
    )
    paid = (
        Statement.objects.filter(campaign=OuterRef("pk"), status=Statement.Status.PAID)
        .order_by()
        .values("campaign")
        .annotate(total=Sum("amount_due"))
        .values("total")
    )
    campaigns = (
        _campaigns(campaign)
        .annotate(granted_total=Subquery(granted), paid_total=Subquery(paid))
        .order_by("application_starts_at", "code")
    )
    rows = [[c.name, c.budget, c.reserved_budget, c.granted_total or 0, c.paid_total or 0] for c in campaigns]
    title = _("Budget reserved and points granted per campaign (yen)")
    return Table(
        "budget", title,
        [Column(_("Campaign"), False), Column(_("Budget")), Column(_("Reserved by applications")),
         Column(_("Points granted")), Column(_("Paid to providers"))],
        rows,
        bar_chart(chart_id="chart-budget", title=title, groups=[(r[0], [r[1], r[2], r[3]]) for r in rows],
                  series=[_("Budget"), _("Reserved"), _("Granted")]),
    )  # fmt: skip


def services_table(campaign: Campaign | None = None, **_kwargs) -> Table:
    rows = [
        [r["provider__name"], r["provider__code"], r["n"]]
        for r in _applications(campaign)
        .values("provider__name", "provider__code")
        .annotate(n=Count("pk"))
        .order_by("-n", "provider__name")
    ]
    title = _("Applications by payment service")
    return Table(
        "services", title,
        [Column(_("Payment service"), False), Column(_("Service code"), False), Column(_("Applications"))],
        rows,
        bar_chart(chart_id="chart-services", title=title, groups=[(r[0], [r[2]]) for r in rows],
                  series=[_("Applications")]),
    )  # fmt: skip


def prefectures_table(campaign: Campaign | None = None, **_kwargs) -> Table:
    counted = (
        _applications(campaign)
        .values("municipality__prefecture__number", "municipality__prefecture__name")
        .annotate(n=Count("pk"))
        .order_by()
    )
    ordered = sorted(counted, key=lambda r: (r["municipality__prefecture__number"] is None,
                                             r["municipality__prefecture__number"] or 0))  # fmt: skip
    rows = [[r["municipality__prefecture__name"] or unknown_label(), r["n"]] for r in ordered]
    title = _("Applications by prefecture")
    return Table(
        "prefectures", title, [Column(_("Prefecture"), False), Column(_("Applications"))], rows,
        bar_chart(chart_id="chart-prefectures", title=title, groups=[(r[0], [r[1]]) for r in rows],
                  series=[_("Applications")]),
    )  # fmt: skip


def municipalities_table(campaign: Campaign | None = None, *, limit: int | None = None, **_kwargs) -> Table:
    """Applications by municipality (the resident's, or the desk's), most first; `limit` keeps the top rows."""
    qs = (
        _applications(campaign)
        .values("municipality__code", "municipality__name", "municipality__prefecture__name")
        .annotate(n=Count("pk"))
        .order_by("-n", "municipality__code")
    )
    counted = list(qs[: limit + 1]) if limit else list(qs)
    truncated = bool(limit) and len(counted) > limit
    counted = counted[:limit] if limit else counted
    rows = [
        [
            r["municipality__code"] or "",
            f"{r['municipality__prefecture__name']}{r['municipality__name']}"
            if r["municipality__code"]
            else unknown_label(),
            r["n"],
        ]
        for r in counted
    ]
    title = _("Applications by municipality")
    return Table(
        "municipalities", title,
        [Column(_("Local government code"), False), Column(_("Municipality"), False), Column(_("Applications"))],
        rows,
        bar_chart(chart_id="chart-municipalities", title=title, groups=[(r[1], [r[2]]) for r in rows],
                  series=[_("Applications")]),
        truncated=truncated,
    )  # fmt: skip


def days_table(campaign: Campaign | None = None, *, limit: int | None = None, **_kwargs) -> Table:
    """Points granted and clawed back per day (recording date in Asia/Tokyo): the newest `limit` days that
    had any, oldest first."""
    ledger = ProviderTransaction.objects.exclude(points=0)
    if campaign is not None:
        ledger = ledger.filter(account__campaign=campaign)
    qs = (
        ledger.annotate(day=TruncDate("recorded_at", tzinfo=ZoneInfo(settings.TIME_ZONE)))
        .values("day")
        .annotate(
            granted=Sum("points", filter=Q(points__gt=0)),
            clawed=Sum("points", filter=Q(points__lt=0)),
            rows=Count("pk"),
        )
        .order_by("-day")
    )
    counted = list(qs[: limit + 1]) if limit else list(qs)
    truncated = bool(limit) and len(counted) > limit
    counted = list(reversed(counted[:limit] if limit else counted))
    rows = []
    for r in counted:
        granted, clawed = r["granted"] or 0, -(r["clawed"] or 0)
        rows.append([r["day"].isoformat(), granted, clawed, granted - clawed, r["rows"]])
    title = _("Points per day")
    return Table(
        "days", title,
        [Column(_("Date"), False), Column(_("Granted")), Column(_("Clawed back")), Column(_("Net")),
         Column(_("Ledger rows"))],
        rows,
        day_chart(chart_id="chart-days", title=title,
                  days=[(date.fromisoformat(r[0]), r[1], r[2]) for r in rows]),
        truncated=truncated,
    )  # fmt: skip


NATIONAL_TABLES: dict[str, Callable[..., Table]] = {
    "reservations": reservations_table,
    "budget": budget_table,
    "services": services_table,
    "prefectures": prefectures_table,
    "municipalities": municipalities_table,
    "days": days_table,
}


def national_dashboard(campaign: Campaign | None = None) -> list[Table]:
    """Every national table, as shown on the page (the long ones cut to their top rows; the CSVs are whole).
    One query per table."""
    return [
        reservations_table(campaign),
        budget_table(campaign),
        services_table(campaign),
        prefectures_table(campaign),
        municipalities_table(campaign, limit=MUNICIPALITIES_ON_PAGE),
        days_table(campaign, limit=DAYS_ON_PAGE),
    ]


def national_table(slug: str, campaign: Campaign | None = None) -> Table | None:
    """One whole national table (for its CSV), or None for an unknown slug."""
    build = NATIONAL_TABLES.get(slug)
    return build(campaign) if build is not None else None


# --- Municipal -------------------------------------------------------------------------------------------------
def _municipal_applications(municipality: Municipality, campaign: Campaign | None):
    qs = Application.objects.filter(municipality=municipality)
    return qs.filter(campaign=campaign) if campaign is not None else qs


@dataclass(frozen=True)
class MunicipalSummary:
    applications: int
    desk_applications: int
    points_granted: int


def municipal_summary(municipality: Municipality, campaign: Campaign | None = None) -> MunicipalSummary:
    totals = _municipal_applications(municipality, campaign).aggregate(
        n=Count("pk"),
        desk=Count("pk", filter=Q(desk_session__isnull=False)),
        points=Sum("account__granted"),
    )
    return MunicipalSummary(totals["n"], totals["desk"], totals["points"] or 0)


def municipal_services_table(municipality: Municipality, campaign: Campaign | None = None) -> Table:
    """The municipality's residents' applications by payment service and mode."""
    modes = list(Mode)
    by_service: dict[tuple[str, str], dict[str, int]] = {}
    for r in (
        _municipal_applications(municipality, campaign)
        .values("provider__name", "provider__code", "mode")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        by_service.setdefault((r["provider__name"], r["provider__code"]), {})[r["mode"]] = r["n"]
    rows = []
    for (name, code), counts in sorted(by_service.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        per_mode = [counts.get(m.value, 0) for m in modes]
        rows.append([name, code, *per_mode, sum(per_mode)])
    title = _("Applications by payment service and mode")
    return Table(
        "services", title,
        [Column(_("Payment service"), False), Column(_("Service code"), False), *(Column(m.label) for m in modes),
         Column(_("Total"))],
        rows,
        bar_chart(chart_id="chart-municipal-services", title=title,
                  groups=[(r[0], r[2:2 + len(modes)]) for r in rows], series=[str(m.label) for m in modes]),
    )  # fmt: skip


def municipal_desk_table(municipality: Municipality, campaign: Campaign | None = None) -> Table:
    """The desk's work per clerk: reservations and applications made at this municipality's desk (for whichever
    resident it served: an application counts for the resident's own municipality elsewhere, and for the desk
    that made it here)."""
    applications = Application.objects.filter(desk_session__municipality=municipality)
    if campaign is not None:
        applications = applications.filter(campaign=campaign)
    applications = (
        applications.values("clerk_id", "clerk__display_name", "clerk__username")
        .annotate(n=Count("pk"), last=Max("created_at"))
        .order_by()
    )
    reservations = Reservation.objects.filter(desk_session__municipality=municipality)
    if campaign is not None:
        reservations = reservations.filter(campaign=campaign)
    reservations = (
        reservations.values(
            "desk_session__clerk_id", "desk_session__clerk__display_name", "desk_session__clerk__username"
        )
        .annotate(n=Count("pk"))
        .order_by()
    )
    clerks: dict[int | None, dict] = {}
    for r in applications:
        entry = clerks.setdefault(
            r["clerk_id"], {"name": r["clerk__display_name"] or r["clerk__username"], "res": 0, "app": 0}
        )
        entry["app"], entry["last"] = r["n"], r["last"]
    for r in reservations:
        entry = clerks.setdefault(
            r["desk_session__clerk_id"],
            {"name": r["desk_session__clerk__display_name"] or r["desk_session__clerk__username"], "app": 0},
        )
        entry["res"] = r["n"]
    rows = []
    for entry in sorted(clerks.values(), key=lambda e: (-e["app"], -e.get("res", 0), e["name"] or "")):
        last = entry.get("last")
        rows.append([entry["name"] or unknown_label(), entry.get("res", 0), entry["app"],
                     _local_date(last) if last else ""])  # fmt: skip
    title = _("Desk activity per clerk")
    return Table(
        "desk", title,
        [Column(_("Clerk"), False), Column(_("Reservations at the desk")), Column(_("Applications at the desk")),
         Column(_("Last application"), False)],
        rows,
        bar_chart(chart_id="chart-municipal-desk", title=title, groups=[(r[0], [r[1], r[2]]) for r in rows],
                  series=[_("Reservations"), _("Applications")]),
    )  # fmt: skip


def _local_date(at) -> str:
    return timezone.localtime(at).date().isoformat()


MUNICIPAL_TABLES: dict[str, Callable[[Municipality, Campaign | None], Table]] = {
    "services": municipal_services_table,
    "desk": municipal_desk_table,
}


def municipal_dashboard(municipality: Municipality, campaign: Campaign | None = None) -> list[Table]:
    return [build(municipality, campaign) for build in MUNICIPAL_TABLES.values()]


def campaign_choices() -> list[Campaign]:
    return list(Campaign.objects.order_by("application_starts_at", "code"))

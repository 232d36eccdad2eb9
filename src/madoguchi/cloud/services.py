"""Writes of the 自治体クラウド app. Each service runs in one transaction and leaves one audit record.

`actor` is the acting user, or None for the platform itself (metering, demo data). A user must be a
platform operator or, for a group's own business, a municipal administrator of its lead municipality;
anyone else gets PermissionDenied.
"""

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.cloud import selectors
from madoguchi.cloud.allocation import split_cost
from madoguchi.cloud.models import (
    CloudGroup,
    CostStatement,
    CostStatementLine,
    GroupMembership,
    GroupProcedureStandard,
    ProcedureAdoption,
    UsageRecord,
    period_validator,
)
from madoguchi.core import audit
from madoguchi.core.models import Municipality
from madoguchi.identity.models import User
from madoguchi.identity.selectors import is_platform_operator

JST = ZoneInfo("Asia/Tokyo")

USAGE_METRICS = ("submissions", "storage_bytes", "api_calls", "users")


class CloudError(ValueError):
    """A request the group's rules refuse; the message is for the user."""


def _require_operator(actor: User | None) -> None:
    if actor is not None and not is_platform_operator(actor):
        raise PermissionDenied(_("Only a platform operator may do this."))


def _require_group_admin(actor: User | None, group: CloudGroup) -> None:
    if actor is not None and not (is_platform_operator(actor) or selectors.is_group_admin(actor, group)):
        raise PermissionDenied(_("Only an administrator of the group's lead municipality may do this."))


def _adopt_standards(membership: GroupMembership, on: date) -> list[str]:
    """The member adopts each of the group's standard procedures as is. A standard that is a national
    template of the e-application catalogue becomes the member's published procedure at once."""
    from madoguchi.procedures import services as procedures
    from madoguchi.procedures.models import Procedure, ProcedureTemplate

    standards = list(membership.group.standards.order_by("code"))
    ProcedureAdoption.objects.bulk_create(
        [ProcedureAdoption(membership=membership, standard=s, adopted_on=on) for s in standards],
        ignore_conflicts=True,
    )
    templates = {t.code: t for t in ProcedureTemplate.objects.filter(code__in=[s.code for s in standards])}
    for standard in standards:
        template = templates.get(standard.code)
        exists = Procedure.objects.filter(municipality=membership.municipality, code=standard.code).exists()
        if template is not None and not exists:
            procedures.procedure_adopt(municipality=membership.municipality, template=template, actor=None)
    return [s.code for s in standards]


@transaction.atomic
def group_create(
    *,
    name: str,
    lead_municipality: Municipality,
    sharing_rule: str,
    equal_share_bp: int,
    standards: Iterable[tuple[str, str]] = (),
    joined_on: date,
    lead_cost_before_yen: int | None = None,
    reported_reduction_bp: int | None = None,
    reported_reduction_source: str = "",
    actor: User | None,
) -> CloudGroup:
    """Create a group with its standard procedures; the lead municipality becomes its first member."""
    _require_operator(actor)
    if sharing_rule not in CloudGroup.SharingRule.values:
        raise CloudError(_("Unknown cost-sharing rule."))
    if not 0 <= equal_share_bp <= 10_000:
        raise CloudError(_("The equal share must be between 0 and 10,000 basis points."))
    group = CloudGroup.objects.create(
        name=name,
        lead_municipality=lead_municipality,
        sharing_rule=sharing_rule,
        equal_share_bp=equal_share_bp,
        reported_reduction_bp=reported_reduction_bp,
        reported_reduction_source=reported_reduction_source,
    )
    GroupProcedureStandard.objects.bulk_create(
        [GroupProcedureStandard(group=group, code=code, name=label) for code, label in standards]
    )
    membership = GroupMembership.objects.create(
        group=group, municipality=lead_municipality, joined_on=joined_on, cost_before_yen=lead_cost_before_yen
    )
    adopted = _adopt_standards(membership, joined_on)
    audit.record(
        actor=audit.actor_of(actor),
        action="cloud.group_create",
        target=group,
        municipality=lead_municipality,
        details={
            "name": name,
            "sharing_rule": sharing_rule,
            "equal_share_bp": equal_share_bp,
            "standards": adopted,
        },
    )
    return group


@transaction.atomic
def member_onboard(
    *,
    group: CloudGroup,
    municipality: Municipality,
    joined_on: date,
    cost_before_yen: int | None = None,
    actor: User | None,
) -> GroupMembership:
    """Add a member, which adopts every standard procedure of the group as it is (no customisation)."""
    _require_group_admin(actor, group)
    existing = (
        GroupMembership.objects.select_for_update().filter(group=group, municipality=municipality).first()
    )
    if existing is not None and existing.status == GroupMembership.Status.ACTIVE:
        raise CloudError(_("%(name)s is already a member of this group.") % {"name": municipality.full_name})
    if existing is not None:
        existing.status = GroupMembership.Status.ACTIVE
        existing.joined_on = joined_on
        existing.cost_before_yen = cost_before_yen
        existing.save(update_fields=["status", "joined_on", "cost_before_yen"])
        membership = existing
    else:
        membership = GroupMembership.objects.create(
            group=group, municipality=municipality, joined_on=joined_on, cost_before_yen=cost_before_yen
        )
    adopted = _adopt_standards(membership, joined_on)
    audit.record(
        actor=audit.actor_of(actor),
        action="cloud.member_onboard",
        target=membership,
        municipality=municipality,
        details={
            "group_id": group.pk,
            "group": group.name,
            "joined_on": joined_on.isoformat(),
            "adopted": adopted,
        },
    )
    return membership


@transaction.atomic
def usage_record(
    *,
    membership: GroupMembership,
    month: int,
    submissions: int,
    storage_bytes: int,
    api_calls: int,
    users: int,
    actor: User | None,
) -> UsageRecord:
    """Record a member's usage for a month (YYYYMM). Idempotent: the figures replace any earlier ones for
    that month, and a repeat with the same figures changes nothing and writes no audit record."""
    _require_group_admin(actor, membership.group)
    if not (1900 <= month // 100 <= 9999 and 1 <= month % 100 <= 12):
        raise CloudError(_("The month must be YYYYMM."))
    figures = {
        "submissions": submissions,
        "storage_bytes": storage_bytes,
        "api_calls": api_calls,
        "users": users,
    }
    if any(v < 0 for v in figures.values()):
        raise CloudError(_("Usage figures must not be negative."))
    record, created = UsageRecord.objects.select_for_update().get_or_create(
        membership=membership, month=month, defaults=figures
    )
    if not created:
        if all(getattr(record, k) == v for k, v in figures.items()):
            return record
        for k, v in figures.items():
            setattr(record, k, v)
        record.save(update_fields=list(figures))
    audit.record(
        actor=audit.actor_of(actor),
        action="cloud.usage_record",
        target=record,
        municipality=membership.municipality,
        details={"month": month, "created": created, **figures},
    )
    return record


def usage_meter(*, group: CloudGroup, month: int, actor: User | None) -> list[UsageRecord]:
    """Each member's usage of one month (YYYYMM) measured from the platform itself: applications filed,
    bytes kept, staff accounts. API calls are not measured by the platform: the figure already entered for
    that month (or 0) is kept. Recorded through `usage_record`, so an unchanged month writes nothing."""
    from madoguchi.identity.models import StaffRole
    from madoguchi.procedures.selectors import usage_figures

    _require_group_admin(actor, group)
    if not (1900 <= month // 100 <= 9999 and 1 <= month % 100 <= 12):
        raise CloudError(_("The month must be YYYYMM."))
    year, mon = divmod(month, 100)
    start = datetime(year, mon, 1, tzinfo=JST)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=JST)
    records = []
    for membership in group.memberships.select_related("municipality").order_by("municipality__code"):
        figures = usage_figures(municipality=membership.municipality, start=start, end=end)
        users = (
            StaffRole.objects.filter(municipality=membership.municipality).values("user").distinct().count()
        )
        earlier = UsageRecord.objects.filter(membership=membership, month=month).first()
        records.append(
            usage_record(
                membership=membership,
                month=month,
                submissions=figures["submissions"],
                storage_bytes=figures["storage_bytes"],
                api_calls=earlier.api_calls if earlier else 0,
                users=users,
                actor=actor,
            )  # fmt: skip
        )
    return records


def period_months(period: str) -> list[int]:
    """The months (YYYYMM) a period covers: itself, or April to March of a fiscal year "FYYYYY"."""
    if period.startswith("FY"):
        year = int(period[2:])
        return [year * 100 + m for m in range(4, 13)] + [(year + 1) * 100 + m for m in range(1, 4)]
    return [int(period)]


def _usage_weights(members: Sequence[GroupMembership], months: list[int]) -> list[Fraction]:
    # Each metric counts equally: a member's weight is its average share of the metrics anyone used.
    totals = {m.pk: dict.fromkeys(USAGE_METRICS, 0) for m in members}
    for row in UsageRecord.objects.filter(membership__in=members, month__in=months).values(
        "membership_id", *USAGE_METRICS
    ):
        for metric in USAGE_METRICS:
            totals[row["membership_id"]][metric] += row[metric]
    used = [metric for metric in USAGE_METRICS if sum(t[metric] for t in totals.values())]
    if not used:
        return [Fraction(0)] * len(members)
    group_totals = {metric: sum(t[metric] for t in totals.values()) for metric in used}
    return [
        sum((Fraction(totals[m.pk][metric], group_totals[metric]) for metric in used), Fraction(0))
        / len(used)
        for m in members
    ]


@transaction.atomic
def cost_statement_issue(
    *, group: CloudGroup, period: str, total_cost_yen: int, actor: User | None, note: str = ""
) -> CostStatement:
    """Issue the group's statement for `period` (YYYYMM or FYYYYY): the total split among its active members
    by the group's rule, in integer yen that add up exactly to the total. A period is issued once."""
    _require_group_admin(actor, group)
    # The group row serialises issuing: two administrators issuing the same period must not both succeed.
    group = CloudGroup.objects.select_for_update().get(pk=group.pk)
    try:
        period_validator(period)
    except Exception:
        raise CloudError(_("The period must be YYYYMM or FY followed by a fiscal year.")) from None
    if total_cost_yen < 0:
        raise CloudError(_("The total cost must not be negative."))
    if CostStatement.objects.filter(group=group, period=period).exists():
        raise CloudError(_("A statement for %(period)s has already been issued.") % {"period": period})
    members = list(
        group.memberships.filter(status=GroupMembership.Status.ACTIVE)
        .select_related("municipality")
        .order_by("municipality__code")
    )
    if not members:
        raise CloudError(_("The group has no active members."))
    if group.sharing_rule == CloudGroup.SharingRule.EQUAL_AND_POPULATION:
        weights: list[Fraction] = [Fraction(m.municipality.population) for m in members]
        weight_sum = sum(weights, Fraction(0))
        bases = [f"population {m.municipality.population}" for m in members]
    else:
        weights = _usage_weights(members, period_months(period))
        weight_sum = sum(weights, Fraction(0))
        bases = [f"usage {float(w / weight_sum * 100) if weight_sum else 0:.2f}%" for w in weights]
    splits = split_cost(
        total_cost_yen,
        equal_share_bp=group.equal_share_bp,
        keys=[m.municipality.code for m in members],
        weights=weights,
    )
    statement = CostStatement.objects.create(
        group=group,
        period=period,
        total_cost_yen=total_cost_yen,
        sharing_rule=group.sharing_rule,
        equal_share_bp=group.equal_share_bp,
        note=note,
        issued_at=timezone.now(),
        issued_by=actor,
    )
    CostStatementLine.objects.bulk_create(
        [
            CostStatementLine(
                statement=statement,
                municipality=m.municipality,
                basis=basis,
                equal_part_yen=s.equal_part,
                variable_part_yen=s.variable_part,
                total_yen=s.total,
            )
            for m, s, basis in zip(members, splits, bases, strict=True)
        ]
    )
    audit.record(
        actor=audit.actor_of(actor),
        action="cloud.cost_statement_issue",
        target=statement,
        municipality=group.lead_municipality,
        details={
            "group_id": group.pk,
            "period": period,
            "total_cost_yen": total_cost_yen,
            "lines": {m.municipality.code: s.total for m, s in zip(members, splits, strict=True)},
        },
    )
    return statement

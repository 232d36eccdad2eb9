"""Reads of the 自治体クラウド app, and who may see what.

Platform operators see every group. A municipal administrator of a group's lead municipality administers
that group. Staff of a member municipality see the group's name and their own statement lines only; staff
of any other municipality see nothing of it.
"""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from madoguchi.cloud.allocation import reduction_bp
from madoguchi.cloud.models import (
    CloudGroup,
    CostStatement,
    CostStatementLine,
    GroupMembership,
    NationalCloudFigures,
)
from madoguchi.identity.models import StaffRole, User
from madoguchi.identity.selectors import is_platform_operator, staff_access, staff_municipalities

ADMIN = "admin"
MEMBER = "member"
OPERATOR = "operator"


def is_group_admin(user: User, group: CloudGroup) -> bool:
    return staff_access(user, group.lead_municipality, {StaffRole.Role.MUNICIPAL_ADMIN})


def group_role(user: User, group: CloudGroup) -> str | None:
    """ "operator", "admin", "member" or None (the user may not see the group at all)."""
    if is_platform_operator(user):
        return OPERATOR
    if is_group_admin(user, group):
        return ADMIN
    if group.memberships.filter(municipality__in=staff_municipalities(user)).exists():
        return MEMBER
    return None


def groups_for(user: User) -> QuerySet[CloudGroup]:
    if is_platform_operator(user):
        return CloudGroup.objects.select_related("lead_municipality__prefecture").order_by("name")
    mine = staff_municipalities(user)
    return (
        CloudGroup.objects.filter(Q(lead_municipality__in=mine) | Q(memberships__municipality__in=mine))
        .select_related("lead_municipality__prefecture")
        .distinct()
        .order_by("name")
    )


def visible_lines(user: User, statement: CostStatement) -> QuerySet[CostStatementLine]:
    """All lines for the group's administrators and operators; a member's own lines for its staff."""
    lines = statement.lines.select_related("municipality__prefecture").order_by("municipality__code")
    role = group_role(user, statement.group)
    if role in (OPERATOR, ADMIN):
        return lines
    if role == MEMBER:
        return lines.filter(municipality__in=staff_municipalities(user))
    return lines.none()


def memberships_of(group: CloudGroup) -> QuerySet[GroupMembership]:
    return group.memberships.select_related("municipality__prefecture").order_by("municipality__code")


def national_figures() -> NationalCloudFigures | None:
    return NationalCloudFigures.objects.order_by("-as_of").first()


def fiscal_year_of(month: int) -> int:
    """Japanese fiscal years run April to March: 202603 belongs to FY2025."""
    year, mm = divmod(month, 100)
    return year if mm >= 4 else year - 1


@dataclass(frozen=True)
class SavingsRow:
    group: CloudGroup
    members: int
    cost_before_yen: int | None  # None: not recorded for every member
    fiscal_year: int | None
    cost_after_yen: int | None  # None: no complete fiscal year issued
    months_issued: int
    reduction_bp: int | None
    reported_reduction_bp: int | None

    @property
    def reduction_percent(self) -> str:
        return "" if self.reduction_bp is None else f"{self.reduction_bp / 100:.1f}%"

    @property
    def reported_percent(self) -> str:
        return "" if self.reported_reduction_bp is None else f"{self.reported_reduction_bp / 100:.1f}%"


def _after(statements: list[CostStatement]) -> tuple[int | None, int | None, int]:
    # The latest fiscal year with any statement: a whole-year statement, or all twelve monthly ones.
    by_year: dict[int, list[CostStatement]] = {}
    for s in statements:
        year = int(s.period[2:]) if s.period.startswith("FY") else fiscal_year_of(int(s.period))
        by_year.setdefault(year, []).append(s)
    if not by_year:
        return None, None, 0
    year = max(by_year)
    annual = [s for s in by_year[year] if s.period.startswith("FY")]
    if annual:
        return year, annual[0].total_cost_yen, 12
    months = len(by_year[year])
    if months == 12:
        return year, sum(s.total_cost_yen for s in by_year[year]), 12
    return year, None, months


def savings_report(groups: QuerySet[CloudGroup]) -> list[SavingsRow]:
    rows = []
    for group in groups.prefetch_related("memberships", "statements"):
        active = [m for m in group.memberships.all() if m.status == GroupMembership.Status.ACTIVE]
        befores = [m.cost_before_yen for m in active]
        before = sum(befores) if active and all(b is not None for b in befores) else None
        year, after, months = _after(list(group.statements.all()))
        reduction = reduction_bp(before, after) if before and after is not None else None
        rows.append(
            SavingsRow(
                group=group,
                members=len(active),
                cost_before_yen=before,
                fiscal_year=year,
                cost_after_yen=after,
                months_issued=months,
                reduction_bp=reduction,
                reported_reduction_bp=group.reported_reduction_bp,
            )
        )
    return rows


def member_lines(user: User, group: CloudGroup) -> QuerySet[CostStatementLine]:
    """The statement lines of the group that belong to the municipalities the user is staff of."""
    return (
        CostStatementLine.objects.filter(statement__group=group, municipality__in=staff_municipalities(user))
        .select_related("statement", "municipality__prefecture")
        .order_by("-statement__period", "municipality__code")
    )

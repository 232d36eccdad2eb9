"""Groups, onboarding, metering and cost statements."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied

from madoguchi.cloud import services
from madoguchi.cloud.models import CloudGroup, CostStatement, FrozenError, ProcedureAdoption, UsageRecord
from madoguchi.cloud.tests.conftest import make_group
from madoguchi.core.models import AuditRecord
from madoguchi.core.tests.factories import MunicipalityFactory
from madoguchi.identity.tests.factories import StaffRoleFactory

pytestmark = pytest.mark.django_db


def test_population_rule_statement_adds_up_to_the_total(three):
    group = make_group(three, rule=CloudGroup.SharingRule.EQUAL_AND_POPULATION, equal_share_bp=3000)
    statement = services.cost_statement_issue(
        group=group, period="202604", total_cost_yen=1_000_001, actor=None
    )
    lines = list(statement.lines.order_by("municipality__code"))
    # Equal pool: 1,000,001 × 30% = 300,000.3 → 300,000, i.e. 100,000 each.
    # Variable pool 700,001 by population 1:2:7 → 70,000.1 / 140,000.2 / 490,000.7: floors 70,000 + 140,000
    # + 490,000 = 700,000, and the one yen left goes to the largest remainder (0.7, the third member).
    assert [(x.equal_part_yen, x.variable_part_yen, x.total_yen) for x in lines] == [
        (100_000, 70_000, 170_000),
        (100_000, 140_000, 240_000),
        (100_000, 490_001, 590_001),
    ]
    assert sum(x.total_yen for x in lines) == statement.total_cost_yen


def test_usage_rule_statement_adds_up_to_the_total(three):
    group = make_group(three, rule=CloudGroup.SharingRule.EQUAL_AND_USAGE, equal_share_bp=5000)
    memberships = list(group.memberships.order_by("municipality__code"))
    for membership, n in zip(memberships, [1, 1, 2], strict=True):
        services.usage_record(
            membership=membership,
            month=202604,
            submissions=n,
            storage_bytes=n,
            api_calls=n,
            users=n,
            actor=None,
        )
    statement = services.cost_statement_issue(group=group, period="202604", total_cost_yen=100, actor=None)
    lines = list(statement.lines.order_by("municipality__code"))
    # Equal pool 50 → 17 / 17 / 16 (remainders tie at 2/3: the lowest codes get the extra yen).
    # Variable pool 50 by usage 1:1:2 → 12.5 / 12.5 / 25 → 12 / 12 / 25 and one yen to the lower code of the tie.
    assert [(x.equal_part_yen, x.variable_part_yen) for x in lines] == [(17, 13), (17, 12), (16, 25)]
    assert sum(x.total_yen for x in lines) == 100


def test_member_without_usage_pays_only_the_equal_part(three):
    group = make_group(three, rule=CloudGroup.SharingRule.EQUAL_AND_USAGE, equal_share_bp=6000)
    first = group.memberships.get(municipality=three[0])
    services.usage_record(
        membership=first, month=202605, submissions=5, storage_bytes=0, api_calls=0, users=1, actor=None
    )
    statement = services.cost_statement_issue(group=group, period="202605", total_cost_yen=900, actor=None)
    totals = {x.municipality_id: x.total_yen for x in statement.lines.all()}
    assert totals == {three[0].pk: 180 + 360, three[1].pk: 180, three[2].pk: 180}


def test_a_fiscal_year_statement_counts_april_to_march(three):
    group = make_group(three, rule=CloudGroup.SharingRule.EQUAL_AND_USAGE, equal_share_bp=0)
    first, second = list(group.memberships.order_by("municipality__code"))[:2]
    services.usage_record(
        membership=first, month=202603, submissions=9, storage_bytes=0, api_calls=0, users=0, actor=None
    )
    services.usage_record(
        membership=second, month=202703, submissions=1, storage_bytes=0, api_calls=0, users=0, actor=None
    )
    statement = services.cost_statement_issue(group=group, period="FY2026", total_cost_yen=10, actor=None)
    # 202603 is FY2025, so only the second member's March 2027 usage counts.
    assert {x.municipality_id: x.total_yen for x in statement.lines.all()} == {
        three[0].pk: 0,
        three[1].pk: 10,
        three[2].pk: 0,
    }


def test_onboarding_is_audited_and_adopts_the_standards(three):
    admin = StaffRoleFactory(municipality=three[0]).user
    group = make_group(three[:2])
    membership = services.member_onboard(
        group=group, municipality=three[2], joined_on=date(2026, 4, 1), cost_before_yen=5_000_000, actor=admin
    )
    record = AuditRecord.objects.get(action="cloud.member_onboard", target_id=str(membership.pk))
    assert record.municipality == three[2]
    assert record.actor_id == str(admin.pk)
    assert record.details["adopted"] == ["moving-out", "resident-record-copy"]
    assert set(
        ProcedureAdoption.objects.filter(membership=membership).values_list("standard__code", flat=True)
    ) == {"moving-out", "resident-record-copy"}


def test_only_the_lead_administrator_or_an_operator_onboards(three):
    group = make_group(three[:2])
    member_admin = StaffRoleFactory(municipality=three[1]).user
    lead_clerk = StaffRoleFactory(municipality=three[0], clerk=True).user
    for actor in (member_admin, lead_clerk):
        with pytest.raises(PermissionDenied):
            services.member_onboard(
                group=group, municipality=three[2], joined_on=date(2026, 4, 1), actor=actor
            )
    operator = StaffRoleFactory(operator=True).user
    services.member_onboard(group=group, municipality=three[2], joined_on=date(2026, 4, 1), actor=operator)


def test_onboarding_twice_is_refused(three):
    group = make_group(three)
    with pytest.raises(services.CloudError):
        services.member_onboard(group=group, municipality=three[1], joined_on=date(2026, 4, 1), actor=None)


def test_usage_record_is_idempotent(three):
    membership = make_group(three).memberships.first()
    figures = {"submissions": 3, "storage_bytes": 10, "api_calls": 7, "users": 2}
    services.usage_record(membership=membership, month=202604, actor=None, **figures)
    services.usage_record(membership=membership, month=202604, actor=None, **figures)
    assert UsageRecord.objects.filter(membership=membership).count() == 1
    assert AuditRecord.objects.filter(action="cloud.usage_record").count() == 1
    services.usage_record(membership=membership, month=202604, actor=None, **(figures | {"users": 5}))
    assert UsageRecord.objects.get(membership=membership).users == 5
    assert AuditRecord.objects.filter(action="cloud.usage_record").count() == 2


def test_a_statement_is_issued_once_and_frozen(three):
    group = make_group(three)
    statement = services.cost_statement_issue(group=group, period="202604", total_cost_yen=100, actor=None)
    assert AuditRecord.objects.filter(action="cloud.cost_statement_issue").count() == 1
    with pytest.raises(services.CloudError):
        services.cost_statement_issue(group=group, period="202604", total_cost_yen=100, actor=None)
    statement.total_cost_yen = 1
    with pytest.raises(FrozenError):
        statement.save()
    line = statement.lines.first()
    line.total_yen = 0
    with pytest.raises(FrozenError):
        line.save()
    assert CostStatement.objects.get(pk=statement.pk).total_cost_yen == 100


def test_bad_periods_are_refused(three):
    group = make_group(three)
    for period in ("202613", "2026-04", "FY26"):
        with pytest.raises(services.CloudError):
            services.cost_statement_issue(group=group, period=period, total_cost_yen=100, actor=None)


def test_a_stranger_cannot_issue(three):
    group = make_group(three)
    stranger = StaffRoleFactory(municipality=MunicipalityFactory()).user
    with pytest.raises(PermissionDenied):
        services.cost_statement_issue(group=group, period="202604", total_cost_yen=100, actor=stranger)

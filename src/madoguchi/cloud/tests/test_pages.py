"""Staff pages: who sees which group, statement lines and CSV; the savings report."""

import csv
import io
from datetime import date

import pytest
from django.urls import reverse

from madoguchi.cloud import selectors, services
from madoguchi.cloud.models import CloudGroup, GroupMembership, NationalCloudFigures
from madoguchi.cloud.tests.conftest import make_group
from madoguchi.core.models import AuditRecord
from madoguchi.core.tests.factories import MunicipalityFactory
from madoguchi.core.zones import Zone
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff

# Until conf/urls.py includes the cloud URLs, the tests use a urlconf that adds them to the project's.
pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(three):
    group = make_group(three, rule=CloudGroup.SharingRule.EQUAL_AND_POPULATION, equal_share_bp=5000)
    statement = services.cost_statement_issue(
        group=group, period="202604", total_cost_yen=1_000_000, actor=None
    )
    return group, statement


def test_the_lead_administrator_onboards_and_issues(client, three):
    group = make_group(three[:2])
    admin = sign_in_staff(client, StaffRoleFactory(municipality=three[0]).user)
    page = client.get(reverse("cloud:group", args=[group.pk]))
    assert page.status_code == 200
    assert "住民票の写し等の交付申請" in page.content.decode()
    response = client.post(
        reverse("cloud:member_onboard", args=[group.pk]),
        {"municipality_code": three[2].code, "joined_on": "2026-04-01", "cost_before_yen": "1000"},
    )
    assert response.status_code == 302
    membership = GroupMembership.objects.get(group=group, municipality=three[2])
    assert AuditRecord.objects.get(
        action="cloud.member_onboard", target_id=str(membership.pk)
    ).actor_id == str(admin.pk)
    response = client.post(
        reverse("cloud:statement_issue", args=[group.pk]), {"period": "202604", "total_cost_yen": "999"}
    )
    statement = group.statements.get()
    assert response.url == reverse("cloud:statement", args=[statement.pk])
    assert sum(statement.lines.values_list("total_yen", flat=True)) == 999


def test_member_staff_see_only_their_own_lines(client, issued, three):
    group, statement = issued
    sign_in_staff(client, StaffRoleFactory(municipality=three[1], clerk=True).user)
    page = client.get(reverse("cloud:statement", args=[statement.pk])).content.decode()
    assert three[1].full_name in page
    assert three[0].full_name not in page.split("<table")[1]
    assert three[2].full_name not in page
    assert (
        client.post(reverse("cloud:statement_issue", args=[group.pk]), {"period": "202605"}).status_code
        == 403
    )
    csv_ok = client.get(reverse("cloud:statement_csv", args=[statement.pk, three[1].code]))
    assert csv_ok.status_code == 200
    assert client.get(reverse("cloud:statement_csv", args=[statement.pk, three[2].code])).status_code == 404


def test_a_non_member_municipality_sees_nothing(client, issued):
    group, statement = issued
    outsider = MunicipalityFactory()
    user = sign_in_staff(client, StaffRoleFactory(municipality=outsider).user)
    assert list(selectors.groups_for(user)) == []
    assert group.name not in client.get(reverse("cloud:index")).content.decode()
    assert client.get(reverse("cloud:group", args=[group.pk])).status_code == 404
    assert client.get(reverse("cloud:statement", args=[statement.pk])).status_code == 404
    line = statement.lines.first()
    url = reverse("cloud:statement_csv", args=[statement.pk, line.municipality.code])
    assert client.get(url).status_code == 404
    assert group.name not in client.get(reverse("cloud:savings")).content.decode()
    response = client.post(
        reverse("cloud:member_onboard", args=[group.pk]),
        {"municipality_code": outsider.code, "joined_on": "2026-04-01"},
    )
    assert response.status_code == 404
    assert not GroupMembership.objects.filter(municipality=outsider).exists()


def test_operators_see_every_group(client, issued, three):
    group, statement = issued
    sign_in_staff(client, StaffRoleFactory(operator=True).user)
    assert group.name in client.get(reverse("cloud:index")).content.decode()
    page = client.get(reverse("cloud:statement", args=[statement.pk])).content.decode()
    for municipality in three:
        assert municipality.full_name in page


def test_statement_csv_has_a_bom_and_the_member_line(client, issued, three):
    _group, statement = issued
    sign_in_staff(client, StaffRoleFactory(municipality=three[0]).user)
    response = client.get(reverse("cloud:statement_csv", args=[statement.pk, three[2].code]))
    assert response["Content-Type"].startswith("text/csv")
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    line = statement.lines.get(municipality=three[2])
    assert rows[1][3] == three[2].code
    assert [int(v) for v in rows[1][6:9]] == [line.equal_part_yen, line.variable_part_yen, line.total_yen]


def test_savings_report_numbers(client, three):
    # Before: 4,000,000 + 3,000,000 + 3,000,000 = 10,000,000 yen a year.
    # After: twelve monthly statements of FY2025 (202504 … 202603) at 350,000 yen = 4,200,000 yen.
    # Reduction: (10,000,000 − 4,200,000) / 10,000,000 = 58.0 % = 5,800 basis points.
    group = make_group(three, befores=[4_000_000, 3_000_000, 3_000_000])
    months = [202504 + i for i in range(9)] + [202601, 202602, 202603]
    for month in months[:11]:
        services.cost_statement_issue(group=group, period=str(month), total_cost_yen=350_000, actor=None)
    (row,) = selectors.savings_report(CloudGroup.objects.all())
    assert (row.cost_before_yen, row.fiscal_year, row.cost_after_yen, row.months_issued) == (
        10_000_000,
        2025,
        None,
        11,
    )
    services.cost_statement_issue(group=group, period="202603", total_cost_yen=350_000, actor=None)
    (row,) = selectors.savings_report(CloudGroup.objects.all())
    assert (row.cost_after_yen, row.reduction_bp, row.reduction_percent) == (4_200_000, 5800, "58.0%")

    NationalCloudFigures.objects.create(
        as_of=date(2019, 6, 14), target_bodies_on_cloud=1600, target_bodies_on_group_cloud=1100, source="test"
    )
    sign_in_staff(client, StaffRoleFactory(operator=True).user)
    page = client.get(reverse("cloud:savings")).content.decode()
    assert "58.0%" in page
    assert 'role="img"' in page and "<title" in page
    assert "1,600" in page and "1,100" in page
    assert "記録なし" in page  # the current national counts (pages are Japanese by default)


def test_savings_report_without_costs_says_not_recorded(three):
    group = make_group(three)
    group.reported_reduction_bp = 4000
    group.save()
    (row,) = selectors.savings_report(CloudGroup.objects.all())
    assert (row.cost_before_yen, row.cost_after_yen, row.reduction_bp, row.reported_percent) == (
        None,
        None,
        None,
        "40.0%",
    )


def test_the_internet_zone_never_serves_the_cloud_pages(client, settings, issued, three):
    _group, statement = issued
    sign_in_staff(client, StaffRoleFactory(operator=True).user)
    settings.MADOGUCHI_ZONE = Zone.INTERNET
    for url in (
        reverse("cloud:index"),
        reverse("cloud:savings"),
        reverse("cloud:statement", args=[statement.pk]),
    ):
        assert client.get(url).status_code == 404, url

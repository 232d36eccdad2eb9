"""Phase-2 fixed grants (new card 5,000; health insurance 7,500; public-money account 7,500)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.points import services
from madoguchi.points.models import Campaign, PointAccount
from madoguchi.points.services import ApplicationRequest
from madoguchi.points.tests.conftest import make_resident, sandbox_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def insurance(provider):
    now = timezone.now()
    campaign = Campaign.objects.create(
        code="test-insurance", name="健康保険証としての利用申込み", kind=Campaign.Kind.FIXED, cap=7500,
        fixed_points=7500, modes=["charge", "purchase"], budget=7500 * 10,
        application_starts_at=now - timedelta(days=1), application_ends_at=now + timedelta(days=1),
        earning_starts_at=now - timedelta(days=1), earning_ends_at=now + timedelta(days=1),
    )  # fmt: skip
    campaign.providers.add(provider)
    return campaign


def test_fixed_grant_once_through_the_api(client, insurance, provider):
    sandbox_account(provider, "acct-9")
    resident = make_resident()
    services.application_submit(resident=resident, campaign=insurance, actor=None,
                                request=ApplicationRequest(provider, "charge", "acct-9", "acct-9", "123"))  # fmt: skip
    url = "/api/v1/points/fixed-grants"
    payload = {"campaign": insurance.code, "mykey_id": resident.mykey_id, "reference": "insurance-2022-001"}
    clerk = StaffRoleFactory().user
    sign_in_staff(client, clerk)
    assert client.post(url, payload, content_type="application/json").status_code == 403
    sign_in_staff(client, StaffRoleFactory(operator=True).user)
    first = client.post(url, payload, content_type="application/json")
    assert first.status_code == 200 and first.json() == {
        "campaign": insurance.code,
        "points": 7500,
        "remaining": 0,
    }
    again = client.post(url, payload, content_type="application/json")
    assert again.status_code == 422 and again.json()["code"] == "already_granted"
    assert PointAccount.objects.get().granted == 7500
    unknown = client.post(url, {**payload, "mykey_id": "ZZZZZZZZ"}, content_type="application/json")
    assert unknown.status_code == 422


def test_a_fixed_grant_needs_an_application(insurance):
    with pytest.raises(services.PointsError) as excinfo:
        services.fixed_grant_record(campaign=insurance, resident=make_resident(), reference="x", actor=None)
    assert excinfo.value.code == "not_enrolled"

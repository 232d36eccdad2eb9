"""Reservation → application (with the provider's confirmation) → transactions and refunds, via the API."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from madoguchi.core.models import AuditRecord
from madoguchi.points import services
from madoguchi.points.models import Application, Campaign, PointAccount, ProviderTransaction
from madoguchi.points.services import ApplicationRequest, PointsError
from madoguchi.points.tests.conftest import make_resident, sandbox_account

pytestmark = pytest.mark.django_db


def apply(resident, campaign, provider, account="acct-1", mode="charge", code="123", confirm=None):
    services.reservation_create(resident=resident, campaign=campaign, actor=resident.user)
    request = ApplicationRequest(provider, mode, account, confirm if confirm is not None else account, code)
    return services.application_submit(
        resident=resident, campaign=campaign, request=request, actor=resident.user
    )


@pytest.fixture
def enrolled(campaign, provider):
    sandbox_account(provider, "acct-1")
    resident = make_resident()
    application = apply(resident, campaign, provider)
    return resident, application


def test_application_is_accepted_after_the_provider_confirms(enrolled, campaign):
    _resident, application = enrolled
    assert application.account.cap == 5000 and application.account.granted == 0
    campaign.refresh_from_db()
    assert campaign.reserved_budget == 5000 and campaign.reservations == 1
    assert AuditRecord.objects.filter(action="points.application_submit").count() == 1


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"code": "999"}, "account_not_confirmed"),
        ({"account": "nobody"}, "account_not_confirmed"),
        ({"confirm": "acct-x"}, "account_mismatch"),
        ({"account": " "}, "account_required"),
        ({"code": " "}, "security_code_required"),
    ],
)
def test_application_refusals_leave_nothing_behind(campaign, provider, kwargs, code):
    sandbox_account(provider, "acct-1")
    with pytest.raises(PointsError) as excinfo:
        apply(make_resident(), campaign, provider, **kwargs)
    assert excinfo.value.code == code
    assert Application.objects.count() == 0 and PointAccount.objects.count() == 0
    campaign.refresh_from_db()
    assert campaign.reserved_budget == 0


def test_one_application_per_resident_and_one_resident_per_account(enrolled, campaign, provider):
    resident, _ = enrolled
    sandbox_account(provider, "acct-2")
    with pytest.raises(PointsError) as again:
        services.application_submit(resident=resident, campaign=campaign,
                                    request=ApplicationRequest(provider, "purchase", "acct-2", "acct-2", "123"),
                                    actor=resident.user)  # fmt: skip
    assert again.value.code == "already_applied"
    with pytest.raises(PointsError) as taken:
        apply(make_resident(), campaign, provider, account="acct-1")
    assert taken.value.code == "account_taken"


def test_no_mykey_id_no_reservation(campaign):
    with pytest.raises(PointsError) as excinfo:
        services.reservation_create(resident=make_resident(mykey=False), campaign=campaign, actor=None)
    assert excinfo.value.code == "no_mykey_id"


def test_reservations_close_exactly_at_the_budget(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(budget=5000 * 3)
    campaign.refresh_from_db()
    for _ in range(3):
        services.reservation_create(resident=make_resident(), campaign=campaign, actor=None)
    with pytest.raises(PointsError) as excinfo:
        services.reservation_create(resident=make_resident(), campaign=campaign, actor=None)
    assert excinfo.value.code == "reservations_full"
    campaign.refresh_from_db()
    assert campaign.reservations == 3
    with pytest.raises(IntegrityError), transaction.atomic():  # the database holds the line too
        Campaign.objects.filter(pk=campaign.pk).update(reservations=4)


def test_applications_never_reserve_beyond_the_budget(campaign, provider):
    Campaign.objects.filter(pk=campaign.pk).update(budget=5000 * 2)
    for i in range(2):
        sandbox_account(provider, f"a{i}")
        apply(make_resident(), campaign, provider, account=f"a{i}")
    sandbox_account(provider, "a2")
    resident = make_resident()
    Campaign.objects.filter(pk=campaign.pk).update(reservations=0)  # reservations are not the limit here
    with pytest.raises(PointsError) as excinfo:
        apply(resident, campaign, provider, account="a2")
    assert excinfo.value.code == "budget_exhausted"
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(reserved_budget=5000 * 3)


def tx(id_, amount, account="acct-1", kind="charge", at=None):
    return {"id": id_, "account": account, "kind": kind, "amount": amount,
            "occurred_at": (at or timezone.now()).isoformat()}  # fmt: skip


def test_grants_accumulate_to_the_cap_and_are_idempotent(enrolled, provider):
    first = tx("t1", 5000)
    results = services.transactions_record(provider=provider, items=[first, tx("t2", 20000), tx("t3", 100)])
    assert [(r.status, r.granted, r.remaining) for r in results] == [
        ("granted", 1250, 3750), ("capped", 3750, 0), ("capped", 0, 0)]  # fmt: skip
    again = services.transactions_record(provider=provider, items=[first, {**first, "amount": 9999}])
    assert [(r.status, r.granted) for r in again] == [("granted", 1250), ("conflict", 0)]
    assert PointAccount.objects.get().granted == 5000
    assert ProviderTransaction.objects.count() == 3


def test_item_statuses(enrolled, provider, campaign):
    far = campaign.earning_ends_at + timedelta(days=1)
    same = tx("i", 1000)
    items = [tx("a", 1000, account="unknown"), tx("b", 1000, kind="purchase"), tx("c", 1000, at=far),
             {"id": "d", "account": "acct-1", "kind": "charge", "amount": -5, "occurred_at": "2020-09-01T10:00:00+09:00"},
             {"id": "e", "account": "acct-1", "kind": "charge", "amount": 0, "occurred_at": "2020-09-01T10:00:00+09:00"},
             {"id": "f", "account": "acct-1", "kind": "charge", "amount": 10**12, "occurred_at": "2020-09-01T10:00:00+09:00"},
             {"id": "g", "account": "acct-1", "kind": "charge", "amount": 100, "occurred_at": "2020-09-01 10:00"},
             {"id": "h", "account": "acct-1", "kind": "gift", "amount": 100, "occurred_at": "2020-09-01T10:00:00+09:00"},
             {"account": "acct-1"}, "not an object", same, dict(same)]  # fmt: skip
    statuses = [r.status for r in services.transactions_record(provider=provider, items=items)]
    assert statuses == ["not_enrolled", "wrong_mode", "outside_period", "invalid", "invalid", "invalid", "invalid",
                        "invalid", "invalid", "invalid", "granted", "duplicate"]  # fmt: skip
    assert PointAccount.objects.get().granted == 250


def test_refunds_free_headroom_and_cannot_claw_back_twice(enrolled, provider):
    services.transactions_record(provider=provider, items=[tx("t1", 20000), tx("t2", 4000)])
    assert PointAccount.objects.get().granted == 5000
    r = services.refunds_record(provider=provider, items=[{"id": "r1", "original_id": "t1", "amount": 8000}])
    assert (r[0].status, r[0].granted, r[0].remaining) == ("clawed_back", -2000, 2000)
    r = services.refunds_record(provider=provider, items=[{"id": "r2", "original_id": "t1", "amount": 20000}])
    assert r[0].granted == -3000  # only what is left of t1's 5,000
    r = services.refunds_record(provider=provider, items=[{"id": "r2", "original_id": "t1", "amount": 20000},
                                                          {"id": "r3", "original_id": "nope", "amount": 1}])  # fmt: skip
    assert [x.status for x in r] == ["clawed_back", "unknown_original"]
    assert PointAccount.objects.get().granted == 0
    later = services.transactions_record(provider=provider, items=[tx("t3", 4000)])
    assert (later[0].status, later[0].granted) == ("granted", 1000)


def test_provider_api_with_keys(client, enrolled, provider, campaign):
    key = services.api_key_issue(provider=provider, actor=None)
    url = "/api/v1/points/transactions"
    assert client.post(url, [tx("t1", 1000)], content_type="application/json").status_code == 401
    headers = {"Authorization": f"Bearer {key}"}
    response = client.post(url, [tx("t1", 1000)], content_type="application/json", headers=headers)
    assert response.status_code == 200
    assert response.json()["items"][0] == {"id": "t1", "status": "granted", "granted": 250, "remaining": 4750,
                                           "message": None}  # fmt: skip
    assert client.post(url, [], content_type="application/json", headers=headers).status_code == 422
    assert client.post(url, "{not json", content_type="application/json", headers=headers).status_code in (
        400,
        422,
    )
    from madoguchi.points.models import ProviderApiKey

    services.api_key_revoke(key=ProviderApiKey.objects.get(), actor=None)
    assert (
        client.post(url, [tx("t2", 1000)], content_type="application/json", headers=headers).status_code
        == 401
    )
    assert PointAccount.objects.get().granted == 250

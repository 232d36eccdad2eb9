"""Caps and budgets under concurrency (PostgreSQL: real row locks between real connections)."""

import pytest
from django.db import connection
from django.utils import timezone

from madoguchi.core.tests.concurrency import run_concurrently
from madoguchi.points import services
from madoguchi.points.models import Campaign, PointAccount
from madoguchi.points.services import ApplicationRequest, PointsError
from madoguchi.points.tests.conftest import make_resident, sandbox_account

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


_run = run_concurrently


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency is tested on PostgreSQL")


def test_fifty_concurrent_requests_never_exceed_the_cap(postgres_only, campaign, provider):
    sandbox_account(provider, "acct-1")
    resident = make_resident()
    services.reservation_create(resident=resident, campaign=campaign, actor=None)
    services.application_submit(resident=resident, campaign=campaign, actor=None,
                                request=ApplicationRequest(provider, "charge", "acct-1", "acct-1", "123"))  # fmt: skip
    amounts = [(k * 37) % 3000 + 500 for k in range(50)]
    now = timezone.now().isoformat()

    def work(k):
        item = {
            "id": f"t{k}",
            "account": "acct-1",
            "kind": "charge",
            "amount": amounts[k],
            "occurred_at": now,
        }
        return services.transactions_record(provider=provider, items=[item])[0].granted

    results, errors = _run(50, work)
    assert errors == []
    expected = min(5000, sum(a * 2500 // 10000 for a in amounts))
    assert sum(results) == expected == PointAccount.objects.get().granted


def test_concurrent_applications_never_reserve_beyond_the_budget(postgres_only, campaign, provider):
    Campaign.objects.filter(pk=campaign.pk).update(budget=5000 * 5)
    residents = []
    for k in range(12):
        sandbox_account(provider, f"a{k}")
        resident = make_resident()
        residents.append(resident)
    Campaign.objects.filter(pk=campaign.pk).update(reservations=0)
    from madoguchi.points.models import Reservation

    Reservation.objects.bulk_create([Reservation(campaign=campaign, resident=r) for r in residents])

    def work(k):
        try:
            services.application_submit(resident=residents[k], campaign=campaign, actor=None,
                                        request=ApplicationRequest(provider, "charge", f"a{k}", f"a{k}", "123"))  # fmt: skip
            return "ok"
        except PointsError as exc:
            return exc.code

    results, errors = _run(12, work)
    assert errors == []
    assert results.count("ok") == 5 and set(results) == {"ok", "budget_exhausted"}
    campaign.refresh_from_db()
    assert campaign.reserved_budget == campaign.budget

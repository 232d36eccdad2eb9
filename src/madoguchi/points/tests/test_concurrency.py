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


def test_refund_batches_crossing_campaigns_do_not_deadlock(postgres_only, campaign, provider, monkeypatch):
    """Two refund batches, each over accounts of two campaigns in opposite orders. Each batch's first item is
    held until both batches have locked theirs; then each goes on to its second item. Locking the campaign
    row with the account (a join without FOR UPDATE OF) made each wait for the other: a deadlock."""
    import threading
    from datetime import timedelta

    from madoguchi.points import calc

    now = timezone.now()
    later = Campaign.objects.create(
        code="test-2022", name="第2弾", kind=Campaign.Kind.PREMIUM, rate_bp=2500, cap=20000,
        modes=["charge", "purchase"], budget=20000 * 100,
        reservation_starts_at=now - timedelta(days=30), reservation_ends_at=now + timedelta(days=30),
        application_starts_at=now - timedelta(days=30), application_ends_at=now + timedelta(days=30),
        earning_starts_at=now - timedelta(days=30), earning_ends_at=now + timedelta(days=30),
    )  # fmt: skip
    later.providers.add(provider)
    for c, account in [(campaign, "a1"), (later, "b2"), (later, "c2"), (campaign, "d1")]:
        sandbox_account(provider, account)
        resident = make_resident()
        services.reservation_create(resident=resident, campaign=c, actor=None)
        services.application_submit(resident=resident, campaign=c, actor=None,
                                    request=ApplicationRequest(provider, "charge", account, account, "123"))  # fmt: skip
    at = timezone.now().isoformat()
    services.transactions_record(provider=provider, items=[
        {"id": f"t-{a}", "account": a, "kind": "charge", "amount": 4000, "occurred_at": at}
        for a in ("a1", "b2", "c2", "d1")])  # fmt: skip
    both_locked, seen, real = threading.Barrier(2), threading.local(), calc.clawback

    def clawback(*args):
        if not getattr(seen, "first", False):  # each thread's first item: wait for the other's first lock
            seen.first = True
            both_locked.wait(timeout=30)
        return real(*args)

    monkeypatch.setattr(calc, "clawback", clawback)
    batches = [
        [
            {"id": "r1a", "original_id": "t-a1", "amount": 400},
            {"id": "r1b", "original_id": "t-b2", "amount": 400},
        ],
        [
            {"id": "r2a", "original_id": "t-c2", "amount": 400},
            {"id": "r2b", "original_id": "t-d1", "amount": 400},
        ],
    ]
    results, errors = _run(
        2, lambda k: [r.status for r in services.refunds_record(provider=provider, items=batches[k])]
    )
    assert errors == []
    assert results == [["clawed_back", "clawed_back"], ["clawed_back", "clawed_back"]]
    assert sorted(PointAccount.objects.values_list("granted", flat=True)) == [900, 900, 900, 900]

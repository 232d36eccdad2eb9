"""Group commit of the online grant (points/coalesce.py): each request answered as it would be alone, batches
recorded together; on PostgreSQL with real transactions (the committer is another thread)."""

import asyncio
import contextlib
import threading

import pytest
from django.db import DataError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from madoguchi.core.models import AuditRecord
from madoguchi.points import coalesce, services
from madoguchi.points.coalesce import Coalescer, _Pending
from madoguchi.points.models import PointAccount, ProviderTransaction
from madoguchi.points.tests.conftest import make_resident, sandbox_account
from madoguchi.points.tests.test_flow import apply, tx

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def key(campaign, provider):
    if connection.vendor != "postgresql":
        pytest.skip("group commit runs on PostgreSQL only")
    for account in ("acct-1", "acct-2", "acct-3"):
        sandbox_account(provider, account)
        apply(make_resident(), campaign, provider, account=account)
    return services.api_key_issue(provider=provider, actor=None)


@pytest.fixture
def coalescer():
    coalescer = Coalescer()
    yield coalescer
    coalescer.stop()  # its thread's connection must not outlive the test database


def pending(key, item, language="en"):
    return _Pending(key, item, language)


def answer(p):
    provider, result = p.outcome()
    return result.status, result.granted, result.remaining


def test_a_batch_is_one_transaction_with_each_item_answered_in_order(key, coalescer):
    batch = [pending(key, tx("a", 8000)), pending(key, tx("b", 20000, account="acct-2")),
             pending(key, tx("c", 20000)), pending(key, tx("d", 100, account="acct-3"))]  # fmt: skip
    audits = AuditRecord.objects.count()
    assert coalescer.record(batch) == []
    # Recording order within the batch: acct-1 earns 2,000 then is capped at its remaining 3,000.
    assert [answer(p) for p in batch] == [
        ("granted", 2000, 3000), ("granted", 5000, 0), ("capped", 3000, 0), ("granted", 25, 4975)]  # fmt: skip
    assert dict(PointAccount.objects.values_list("service_account", "granted")) == {
        "acct-1": 5000, "acct-2": 5000, "acct-3": 25}  # fmt: skip
    assert ProviderTransaction.objects.count() == 4
    assert AuditRecord.objects.count() == audits + 1  # one record for the batch
    assert AuditRecord.objects.latest("pk").details == {"items": 4, "recorded": 4, "points": 10025}
    assert (coalescer.batches, coalescer.items) == (1, 4)


def test_an_id_twice_in_a_batch_waits_and_gets_the_first_answer(key, coalescer):
    item = tx("same", 4000)
    first, second = pending(key, item), pending(key, dict(item))
    conflicting = pending(key, {**item, "amount": 9999})
    deferred = coalescer.record([first, second, conflicting])
    assert deferred == [second, conflicting] and not second.settled
    assert answer(first) == ("granted", 1000, 4000)
    # As a second request would: the stored first answer (not "duplicate"), and a conflict for other content.
    assert coalescer.record(deferred) == [conflicting]
    assert answer(second) == ("granted", 1000, 4000)
    assert coalescer.record([conflicting]) == []
    assert conflicting.outcome()[1].status == "conflict"
    assert PointAccount.objects.get(service_account="acct-1").granted == 1000
    assert ProviderTransaction.objects.count() == 1


def test_an_unknown_or_revoked_key_is_left_to_the_router(key, provider, coalescer):
    good, bad = pending(key, tx("g", 1000)), pending("mpk_nope_nope", tx("h", 1000))
    coalescer.record([good, bad])
    assert answer(good)[0] == "granted"
    assert bad.settled and bad.outcome() is None
    key_row = provider.api_keys.get()
    services.api_key_revoke(key=key_row, actor=None)
    late = pending(key, tx("i", 1000))
    coalescer.record([late])
    assert late.outcome() is None
    assert ProviderTransaction.objects.count() == 1


def test_each_request_is_answered_in_its_own_language(key, coalescer):
    english = pending(key, {**tx("x", 1000), "amount": -5}, "en")
    japanese = pending(key, {**tx("y", 1000), "amount": -5}, "ja")
    coalescer.record([english, japanese])
    en, ja = english.outcome()[1], japanese.outcome()[1]
    assert en.status == ja.status == "invalid"
    assert en.message.isascii() and not ja.message.isascii()


def test_a_batch_that_fails_whole_is_recorded_one_item_at_a_time(key, monkeypatch, coalescer):
    real = services.transactions_record

    def fragile(*, provider, items, **kwargs):
        if len(items) > 1 or items[0]["id"] == "boom":
            raise RuntimeError("broken batch")
        return real(provider=provider, items=items, **kwargs)

    monkeypatch.setattr(services, "transactions_record", fragile)
    batch = [pending(key, tx("ok1", 1000)), pending(key, tx("boom", 1000)), pending(key, tx("ok2", 1000))]
    coalescer.record(batch)
    assert answer(batch[0])[0] == answer(batch[2])[0] == "granted"
    with pytest.raises(RuntimeError, match="broken batch"):
        batch[1].outcome()
    assert set(ProviderTransaction.objects.values_list("external_id", flat=True)) == {"ok1", "ok2"}


def test_waiting_threads_get_their_answers_from_the_committer(key, coalescer):
    answers, start = {}, threading.Barrier(12)

    def request(k):
        start.wait()
        try:
            answers[k] = coalescer.submit(key, tx(f"t{k}", 400, account=f"acct-{k % 3 + 1}"), "en")[1]
        finally:
            connection.close()

    threads = [threading.Thread(target=request, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(answers) == list(range(12))
    assert {(r.status, r.granted) for r in answers.values()} == {("granted", 100)}
    assert coalescer.items == 12 and coalescer.batches <= 12
    assert sorted(PointAccount.objects.values_list("granted", flat=True)) == [400, 400, 400]


def test_waiting_coroutines_get_their_answers_from_the_committer(key, coalescer):

    async def main():
        return await asyncio.gather(
            *(
                coalescer.submit_async(key, tx(f"c{k}", 1000, account=f"acct-{k % 3 + 1}"), "en")
                for k in range(9)
            )
        )

    results = asyncio.run(main())
    assert [r[1].status for r in results] == ["granted"] * 9
    assert sum(r[1].granted for r in results) == 9 * 250
    assert coalescer.items == 9


def test_group_commit_is_on_only_when_asked_and_on_postgresql(settings):
    settings.POINTS_GRANT_COALESCING = False
    assert coalesce.active() is None
    with override_settings(POINTS_GRANT_COALESCING=True):
        active = coalesce.active()
        if connection.vendor == "postgresql":
            assert isinstance(active, Coalescer) and coalesce.active() is active
        else:
            assert active is None


@contextlib.contextmanager
def acct_1_held():
    """Another transaction, on its own thread and connection, holds acct-1's row (as a refund batch does) until
    the block ends."""
    holding, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            list(PointAccount.objects.select_for_update().filter(service_account="acct-1"))
            holding.set()
            release.wait(30)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join(20)


def test_a_locked_account_does_not_hold_up_the_others(key, coalescer):
    """A refund batch (or any transaction) holding one account's row: the committer gives up waiting for it after
    LOCK_TIMEOUT and records that item on a thread of its own; the other grants are answered meanwhile."""
    answers = {}

    def request(name, account):
        try:
            answers[name] = coalescer.submit(key, tx(name, 1000, account=account), "en")[1]
        finally:
            connection.close()

    with acct_1_held():
        locked = threading.Thread(target=request, args=("locked", "acct-1"))
        locked.start()
        free = threading.Thread(target=request, args=("free", "acct-2"))
        free.start()
        free.join(20)
        assert answers["free"].status == "granted"  # answered while acct-1 is still held
        assert "locked" not in answers
    locked.join(20)
    assert (answers["locked"].status, answers["locked"].granted) == ("granted", 250)
    assert sorted(PointAccount.objects.values_list("granted", flat=True)) == [0, 250, 250]


def test_many_items_on_a_locked_account_neither_hold_up_nor_lose_the_others(key, coalescer):
    """A batch of twelve items on a held account and one on a free one: the batch gives up on the lock once, the
    items are tried one by one each with a short wait, the locked ones go to the patient thread (one thread, one
    connection) and are recorded once the lock is released."""
    locked = [_Pending(key, tx(f"l{k}", 100), "en", done=threading.Event()) for k in range(12)]
    free = _Pending(key, tx("free", 1000, account="acct-2"), "en", done=threading.Event())
    with acct_1_held():
        coalescer.record([*locked, free])
        assert free.done.is_set() and answer(free) == ("granted", 250, 4750)
        assert not any(p.settled for p in locked)  # waiting on the patient thread
        assert sum(t.name == "points-grant-patient" for t in threading.enumerate()) == 1
    for p in locked:
        assert p.done.wait(20)
    assert [answer(p) for p in locked] == [("granted", 25, 5000 - 25 * (k + 1)) for k in range(12)]
    assert PointAccount.objects.get(service_account="acct-1").granted == 300
    assert ProviderTransaction.objects.count() == 13


def test_a_batch_that_fails_whole_gives_each_request_an_error_of_its_own(key, coalescer, monkeypatch):
    def broken(token):
        raise RuntimeError("secret detail of the batch")

    monkeypatch.setattr(services, "provider_for_key", broken)
    with pytest.raises(coalesce.BatchFailed) as failed:
        coalescer.submit(key, tx("z", 1000), "en")
    assert "secret" not in str(failed.value) and failed.value.__cause__ is None


def test_an_over_long_value_is_refused_not_cut(key, provider):
    row = (provider.pk, "transaction", "x" * 65, "f" * 64, None, 1000, timezone.now(), "not_enrolled", 0, 0,
           timezone.now(), 202001)  # fmt: skip
    with pytest.raises(DataError), transaction.atomic():
        services._persist([row], {})
    assert not ProviderTransaction.objects.exists()

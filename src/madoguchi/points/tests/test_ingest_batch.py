"""The set-based batch path (points/ingest.py) answers and records exactly what the row-by-row path does."""

import json
import random
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from madoguchi.core.tests.concurrency import run_concurrently
from madoguchi.identity.models import Resident, User
from madoguchi.points import ingest, services
from madoguchi.points.models import Application, Campaign, PointAccount, ProviderTransaction


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the set-based path runs on PostgreSQL only")


def _enrol(campaign, provider, key, mode="charge", cap=None):
    n = User.objects.count()
    resident = Resident.objects.create(user=User.objects.create(username=f"batch-{n}-{key}"))
    application = Application.objects.create(campaign=campaign, resident=resident, provider=provider, mode=mode,
                                             service_account=key)  # fmt: skip
    return PointAccount.objects.create(application=application, campaign=campaign, provider=provider,
                                       service_account=key, mode=mode, cap=cap or campaign.cap)  # fmt: skip


@pytest.fixture
def world(campaign, provider):
    """Accounts in the open campaign (charge and purchase), one also in a past campaign, one only there."""
    now = timezone.now()
    past = Campaign.objects.create(
        code="past", name="past", kind=Campaign.Kind.PREMIUM, rate_bp=5000, cap=3000, modes=["charge"],
        budget=10**9, application_starts_at=now - timedelta(days=200), application_ends_at=now - timedelta(days=100),
        earning_starts_at=now - timedelta(days=100), earning_ends_at=now - timedelta(days=60),
    )  # fmt: skip
    past.providers.add(provider)
    keys = [f"k{i}" for i in range(8)]
    for i, key in enumerate(keys):
        _enrol(campaign, provider, key, mode="purchase" if i == 7 else "charge")
    _enrol(past, provider, "k0")
    _enrol(past, provider, "old")
    return keys + ["old", "nobody", "  k1  "]


def _batches(keys, seed, n_batches=4, size=60):
    rng = random.Random(seed)
    now = timezone.now()
    stamps = [now.isoformat(), (now - timedelta(days=80)).isoformat(), (now - timedelta(days=10)).isoformat(),
              (now + timedelta(days=90)).isoformat()]  # fmt: skip
    pool = [f"tx-{k}" for k in range(90)] + ['ä"\\\t\n-id']
    batches = []
    for _ in range(n_batches):
        batch = []
        for _ in range(size):
            item = {"id": rng.choice(pool), "account": rng.choice(keys), "kind": rng.choice(["charge"] * 5 + ["purchase"]),
                    "amount": rng.choice([1, 3, 4, 999, 2000, 7000, 19999]), "occurred_at": rng.choice(stamps)}  # fmt: skip
            roll = rng.random()
            if roll < 0.04:
                item["amount"] = "abc"
            elif roll < 0.07:
                item["occurred_at"] = "2024-01-01T00:00:00"  # no time zone
            elif roll < 0.09:
                item["note"] = "extra key"
            elif roll < 0.11:
                item["kind"] = "refund"
            elif roll < 0.12:
                item = "not a dict"
            batch.append(item)
        for _ in range(6):  # the same item twice in one batch
            batch.insert(rng.randrange(len(batch)), batch[rng.randrange(len(batch))])
        batches.append(batch)
    return batches


def _state():
    ledger = sorted(ProviderTransaction.objects.values_list(
        "external_id", "fingerprint", "account_id", "amount", "occurred_at", "status", "points", "remaining", "month"))  # fmt: skip
    return ledger, sorted(PointAccount.objects.values_list("pk", "granted"))


class _Undo(Exception):
    pass


def _run(provider, batches, batch_path: bool, monkeypatch):
    monkeypatch.setattr(ingest, "MIN_ITEMS", 1 if batch_path else 10**9)
    answers = []
    try:
        with transaction.atomic():
            for batch in batches:
                answers.append(
                    [r.as_dict() for r in services.transactions_record(provider=provider, items=batch)]
                )
            state = _state()
            raise _Undo
    except _Undo:
        pass
    return answers, state


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batch_path_equals_the_row_by_row_path(postgres_only, world, provider, monkeypatch, seed):
    batches = _batches(world, seed)
    batches.append(batches[0])  # a whole batch again: every answer from the ledger
    reference = _run(provider, batches, False, monkeypatch)
    assert _run(provider, batches, True, monkeypatch) == reference
    statuses = {a["status"] for answers in reference[0] for a in answers}
    assert {"granted", "capped", "not_enrolled", "wrong_mode", "outside_period", "duplicate", "conflict",
            "invalid"} <= statuses  # fmt: skip
    granted = dict(reference[1][1])
    assert all(0 <= g <= 5000 for g in granted.values())


def test_fast_fingerprint_is_the_reference_one():
    rng = random.Random(7)
    alphabet = 'aZ09 -_"\\/\t\n\r\x00\x1féあ😀\u2028'
    for _ in range(300):
        raw = {"id": "".join(rng.choices(alphabet, k=rng.randint(1, 20))),
               "account": " " + "".join(rng.choices(alphabet, k=rng.randint(1, 20))),
               "kind": "charge", "amount": rng.randint(1, 10**8), "occurred_at": "2025-05-01T10:00:00+09:00"}  # fmt: skip
        fast = ingest._fast_item(raw, services._MODES, services.MAX_AMOUNT, {})
        if fast is None:  # e.g. an account that is only blanks: the reference parser answers it
            assert isinstance(services._parse_transaction(raw), services.ItemResult)
            continue
        assert fast[5] == services._fingerprint(raw)
        assert fast[5] == services._parse_transaction(raw).fingerprint
        assert json.loads(json.dumps(raw))["id"] == fast[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_never_deadlock_nor_exceed_the_cap(postgres_only, campaign, provider, monkeypatch):
    monkeypatch.setattr(ingest, "MIN_ITEMS", 1)
    keys = [f"c{i}" for i in range(20)]
    for key in keys:
        _enrol(campaign, provider, key)
    now = timezone.now().isoformat()
    rng = random.Random(11)
    # Each of 8 workers sends 3 batches over all accounts in its own order; ids overlap between workers.
    plans = []
    for _w in range(8):
        plan = []
        for _b in range(3):
            ids = rng.sample(range(400), 250)
            plan.append([{"id": f"cc{i}", "account": keys[i % 20], "kind": "charge", "amount": 500 + 37 * i,
                          "occurred_at": now} for i in ids])  # fmt: skip
        plans.append(plan)

    def work(k):
        answers = []
        for batch in plans[k]:
            for attempt in range(10):  # a provider resends when two of its batches raced on new ids
                try:
                    answers.append(services.transactions_record(provider=provider, items=batch))
                    break
                except IntegrityError:
                    assert attempt < 9
        return answers

    results, errors = run_concurrently(8, work)
    assert errors == []
    distinct = {item["id"]: item for plan in plans for batch in plan for item in batch}
    expected = {}
    for item in distinct.values():
        expected[item["account"]] = expected.get(item["account"], 0) + item["amount"] * 2500 // 10000
    expected = {key: min(5000, total) for key, total in expected.items()}
    assert dict(PointAccount.objects.values_list("service_account", "granted")) == expected
    assert ProviderTransaction.objects.count() == len(distinct)
    # Every answer for one id is the same (first answer or the stored one), and grants add up to the totals.
    answers = {}
    for per_worker in results:
        for batch in per_worker:
            for r in batch:
                answers.setdefault(r.id, set()).add((r.status, r.granted, r.remaining))
    assert all(len(a) == 1 for a in answers.values())
    assert sum(next(iter(a))[1] for a in answers.values()) == sum(expected.values())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_batches_on_one_connection_once_its_statements_are_prepared(
    postgres_only, campaign, provider, monkeypatch
):
    """On PostgreSQL statements are prepared after `prepare_threshold` runs on a connection (settings). The
    batch path sends a multi-statement string and re-creates its staging table in every transaction: ten
    batches in a row, each committed, must all be recorded, and the staging probe must by then be prepared."""
    monkeypatch.setattr(ingest, "MIN_ITEMS", 1)
    keys = [f"p{i}" for i in range(5)]
    for key in keys:
        _enrol(campaign, provider, key)
    now = timezone.now().isoformat()
    threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    batches = [[{"id": f"pp{b}-{i}", "account": keys[i % 5], "kind": "charge", "amount": 400, "occurred_at": now}
                for i in range(10)] for b in range(threshold + 5)]  # fmt: skip
    for batch in batches:
        answers = services.transactions_record(provider=provider, items=batch)
        assert [a.status for a in answers] == ["granted"] * 10
    assert ProviderTransaction.objects.count() == 10 * len(batches)
    per_account = 2 * len(batches) * 100  # two items of 400 yen (100 points) per account and batch
    assert dict(PointAccount.objects.values_list("service_account", "granted")) == {
        k: per_account for k in keys
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = " ".join(row[0] for row in cursor.fetchall())
    assert "points_ingest_staging" in prepared

"""The provider API's and the application's hot paths in plain SQL give what the ORM gave: the key look-up, the
grant of one item (statements, locks, rows), multi-row INSERTs, the application checks, the sandbox callback."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from madoguchi.points import providers, services
from madoguchi.points.models import Application, Campaign, PaymentProvider, PointAccount, ProviderTransaction
from madoguchi.points.services import ApplicationRequest, PointsError
from madoguchi.points.tests.conftest import make_resident, sandbox_account

pytestmark = pytest.mark.django_db


def _enrol(campaign, provider, account):
    sandbox_account(provider, account)
    resident = make_resident()
    services.reservation_create(resident=resident, campaign=campaign, actor=None)
    request = ApplicationRequest(provider, "charge", account, account, "123")
    return services.application_submit(resident=resident, campaign=campaign, request=request, actor=None)


def _heads(prefix):
    """The audit chain heads of a sharded stream exist (the first record of a stream also creates its head)."""
    from madoguchi.core.models import AuditChainHead

    AuditChainHead.objects.bulk_create([AuditChainHead(stream=f"{prefix}.{n:02d}") for n in range(16)])


def _item(n, account="acct-1", amount=1000, **extra):
    return {"id": f"tx-{n}", "account": account, "kind": "charge", "amount": amount,
            "occurred_at": timezone.now().isoformat(), **extra}  # fmt: skip


# --- API keys ----------------------------------------------------------------------------------------------
def test_provider_for_key_builds_the_provider_the_orm_would(provider):
    key = services.api_key_issue(provider=provider, actor=None)
    found = services.provider_for_key(key)
    assert isinstance(found, PaymentProvider) and found.pk == provider.pk
    assert model_to_dict(found) == model_to_dict(PaymentProvider.objects.get(pk=provider.pk))
    assert found.modes == ["charge", "purchase"] and found.active is True  # JSON and boolean converted
    assert found._state.adding is False and found._state.db == "default"


def test_provider_for_key_refuses_wrong_revoked_and_inactive(provider):
    key = services.api_key_issue(provider=provider, actor=None)
    prefix = key.split("_")[1]
    assert services.provider_for_key(key[:-1] + ("A" if key[-1] != "A" else "B")) is None  # wrong secret
    assert services.provider_for_key("mpk_ffffffff_" + key.split("_", 2)[2]) is None  # unknown prefix
    assert services.provider_for_key("nonsense") is None
    PaymentProvider.objects.filter(pk=provider.pk).update(active=False)
    assert services.provider_for_key(key) is None
    PaymentProvider.objects.filter(pk=provider.pk).update(active=True)
    assert services.provider_for_key(key) is not None
    services.api_key_revoke(key=provider.api_keys.get(prefix=prefix), actor=None)
    assert services.provider_for_key(key) is None


# --- One grant ---------------------------------------------------------------------------------------------
def test_one_grant_over_the_api_statements(campaign, provider):
    _enrol(campaign, provider, "acct-1")
    key = services.api_key_issue(provider=provider, actor=None)
    _heads(f"p{provider.pk}")
    services.provider_for_key(key)  # a key's first use in an hour also records when it was used: not counted
    client = Client()
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/points/transactions", data=[_item(1)], content_type="application/json",
                               headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert response.status_code == 200, response.content
    (answer,) = response.json()["items"]
    assert {k: answer[k] for k in ("id", "status", "granted", "remaining")} == {
        "id": "tx-1", "status": "granted", "granted": 250, "remaining": 4750}  # fmt: skip
    statements = [
        q["sql"] for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]
    if connection.vendor == "postgresql":
        # key; accounts locked; ledger INSERT with the account UPDATE; audit head lock, record with head move
        assert len(statements) == 5, statements
        assert "core_auditchainhead" in statements[4] and "core_auditrecord" in statements[4]
        assert "ON CONFLICT" in statements[2] and "UPDATE" in statements[2]
        lock = statements[1]
    else:
        # key; known ids; accounts locked; ledger INSERT; account UPDATE; audit head, record, head
        assert len(statements) == 8, statements
        lock = statements[2]
    assert "points_pointaccount" in lock and "ORDER BY a.id" in lock
    if connection.features.has_select_for_update:
        assert lock.endswith("FOR UPDATE OF a")  # the account rows only, never the campaign row
    row = ProviderTransaction.objects.get(external_id="tx-1")
    assert (row.status, row.points, row.remaining, row.clawed_back, row.amount) == (
        "granted",
        250,
        4750,
        0,
        1000,
    )
    assert row.recorded_at is not None and row.month == services._month(row.recorded_at)
    assert PointAccount.objects.get().granted == 250


def test_accounts_of_campaigns_the_provider_left_or_fixed_campaigns_are_not_enrolled(campaign, provider):
    _enrol(campaign, provider, "acct-1")
    campaign.providers.remove(provider)
    assert services.transactions_record(provider=provider, items=[_item(1)])[0].status == "not_enrolled"
    campaign.providers.add(provider)
    Campaign.objects.filter(pk=campaign.pk).update(kind=Campaign.Kind.FIXED)
    assert services.transactions_record(provider=provider, items=[_item(2)])[0].status == "not_enrolled"
    Campaign.objects.filter(pk=campaign.pk).update(kind=Campaign.Kind.PREMIUM)
    assert services.transactions_record(provider=provider, items=[_item(3)])[0].status == "granted"
    assert PointAccount.objects.get().granted == 250


def test_the_earning_window_read_in_plain_sql_is_the_campaigns(campaign, provider):
    application = _enrol(campaign, provider, "acct-1")
    # Enrolled before earning starts (as most residents of 2020 were): the campaign's window is what counts.
    PointAccount.objects.filter(application=application).update(
        enrolled_at=campaign.earning_starts_at - timedelta(days=1)
    )
    before = campaign.earning_starts_at - timedelta(microseconds=1)
    results = services.transactions_record(provider=provider, items=[
        _item(1, occurred_at=before.isoformat()),
        _item(2, occurred_at=campaign.earning_starts_at.isoformat()),
        _item(3, occurred_at=campaign.earning_ends_at.isoformat()),
        _item(4, occurred_at=(campaign.earning_ends_at + timedelta(microseconds=1)).isoformat()),
    ])  # fmt: skip
    assert [r.status for r in results] == ["outside_period", "granted", "granted", "outside_period"]


def test_spending_before_the_application_earns_nothing(campaign, provider):
    """DOMAIN §2: the resident applies, then charges or buys. The enrolment time is read with the account's
    lock (plain SQL), so the boundary holds to the microsecond; the window still closes at earning's end."""
    application = _enrol(campaign, provider, "acct-1")
    enrolled = PointAccount.objects.get(application=application).enrolled_at
    assert campaign.earning_starts_at < enrolled <= timezone.now()
    results = services.transactions_record(provider=provider, items=[
        _item(1, occurred_at=(enrolled - timedelta(microseconds=1)).isoformat()),
        _item(2, occurred_at=enrolled.isoformat()),
    ])  # fmt: skip
    assert [(r.status, r.granted) for r in results] == [("outside_period", 0), ("granted", 250)]


def test_a_batch_larger_than_one_insert_statement_records_every_row(campaign, provider, monkeypatch):
    from madoguchi.points import ingest

    monkeypatch.setattr(ingest, "MIN_ITEMS", 10**9)  # the row-by-row path on PostgreSQL too
    monkeypatch.setattr(services, "_INSERT_ROWS", 7)
    _enrol(campaign, provider, "acct-1")
    _enrol(campaign, provider, "acct-2")
    items = [_item(n, account=f"acct-{1 + n % 3}", amount=100 + n) for n in range(30)]  # acct-3 is unknown
    results = services.transactions_record(provider=provider, items=items)
    rows = {r.external_id: r for r in ProviderTransaction.objects.filter(kind="tx")}
    assert len(rows) == 30
    for item, result in zip(items, results, strict=True):
        row = rows[item["id"]]
        assert (row.status, row.points, row.remaining) == (result.status, result.granted, result.remaining)
        assert row.amount == item["amount"] and row.occurred_at.isoformat() == item["occurred_at"]
        assert row.fingerprint == services._fingerprint(item)
    totals = {a.service_account: a.granted for a in PointAccount.objects.all()}
    assert totals == {"acct-1": sum(r.points for r in rows.values() if r.account and r.account.service_account == "acct-1"),
                      "acct-2": sum(r.points for r in rows.values() if r.account and r.account.service_account == "acct-2")}  # fmt: skip
    assert totals["acct-1"] > 0 and totals["acct-2"] > 0
    assert sum(r.status == "not_enrolled" for r in results) == 10
    # And again: every answer is the stored one, nothing granted twice.
    again = services.transactions_record(provider=provider, items=items)
    assert [(r.status, r.granted, r.remaining) for r in again] == [
        (r.status, r.granted, r.remaining) for r in results
    ]
    assert {a.service_account: a.granted for a in PointAccount.objects.all()} == totals


# --- Applications ------------------------------------------------------------------------------------------
def test_application_checks_are_one_select_and_keep_their_order(campaign, provider):
    sandbox_account(provider, "acct-1")
    resident = make_resident()
    request = ApplicationRequest(provider, "charge", "acct-1", "acct-1", "123")
    with pytest.raises(PointsError) as excinfo:
        services.application_submit(resident=resident, campaign=campaign, request=request, actor=None)
    assert excinfo.value.code == "not_reserved"
    services.reservation_create(resident=resident, campaign=campaign, actor=None)
    campaign.providers.remove(provider)
    with pytest.raises(PointsError) as excinfo:
        services.application_submit(resident=resident, campaign=campaign, request=request, actor=None)
    assert excinfo.value.code == "provider_not_eligible"
    campaign.providers.add(provider)
    _heads(f"c{campaign.pk}")
    with CaptureQueriesContext(connection) as captured:
        application = services.application_submit(
            resident=resident, campaign=campaign, request=request, actor=None
        )
    # facts; (the sandbox's own look-up through the test client); the account's holder (claimed or read, one
    # INSERT … ON CONFLICT … RETURNING); INSERT application, INSERT account (one statement on PostgreSQL);
    # audit ×3 (×2 on PostgreSQL: the record's INSERT carries the head's UPDATE); the budget UPDATE
    ours = [q["sql"] for q in captured.captured_queries
            if "sandboxpay_sandboxaccount" not in q["sql"] and not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]  # fmt: skip
    assert len(ours) == (6 if connection.vendor == "postgresql" else 8), ours
    assert ours[1].startswith('INSERT INTO "points_accountholder"')
    assert ours[-1].startswith('UPDATE "points_campaign" SET reserved_budget = reserved_budget + cap')
    stored = Application.objects.get(pk=application.pk)
    assert (stored.resident_id, stored.provider_id, stored.service_account, stored.mode) == (
        resident.pk, provider.pk, "acct-1", "charge")  # fmt: skip
    assert stored.created_at is not None and stored.account.cap == 5000
    with pytest.raises(PointsError) as excinfo:
        services.application_submit(resident=resident, campaign=campaign, request=request, actor=None)
    assert excinfo.value.code == "already_applied"
    campaign.refresh_from_db()
    assert campaign.reserved_budget == 5000


def test_budget_exhausted_leaves_no_application_nor_audit(campaign, provider):
    from madoguchi.core.models import AuditRecord

    Campaign.objects.filter(pk=campaign.pk).update(budget=5000 * 100, reserved_budget=5000 * 100 - 4999)
    sandbox_account(provider, "acct-1")
    resident = make_resident()
    services.reservation_create(resident=resident, campaign=campaign, actor=None)
    request = ApplicationRequest(provider, "charge", "acct-1", "acct-1", "123")
    with pytest.raises(PointsError) as excinfo:
        services.application_submit(resident=resident, campaign=campaign, request=request, actor=None)
    assert excinfo.value.code == "budget_exhausted"
    assert not Application.objects.exists() and not PointAccount.objects.exists()
    assert not AuditRecord.objects.filter(action="points.application_submit").exists()


# --- The callback: keep-alive session, the sandbox's answers -----------------------------------------------
def test_one_http_session_per_thread():
    first = providers._session()
    assert providers._session() is first
    other = []
    thread = threading.Thread(target=lambda: other.append(providers._session()))
    thread.start()
    thread.join()
    assert other[0] is not first


def _callback(provider, body: bytes, secret: str | None = None, code: str | None = None):
    headers = {providers.SIGNATURE_HEADER: providers.sign(body, secret or provider.callback_secret)}
    return Client().post(f"/sandbox-pay/{code or provider.code}/confirm", data=body,
                         content_type="application/json", headers=headers)  # fmt: skip


def test_sandbox_callback_answers(provider):
    sandbox_account(provider, "acct-1", "321")
    good = json.dumps({"account": "acct-1", "security_code": "321", "campaign": "x", "nonce": "n"}).encode()
    response = _callback(provider, good)
    assert response.status_code == 200 and response.json() == {"confirmed": True, "reason": ""}
    wrong = json.dumps({"account": "acct-1", "security_code": "000"}).encode()
    assert _callback(provider, wrong).json() == {"confirmed": False, "reason": "no_such_account"}
    nobody = json.dumps({"account": "acct-2", "security_code": "321"}).encode()
    assert _callback(provider, nobody).json() == {"confirmed": False, "reason": "no_such_account"}
    response = _callback(provider, good, secret="not-the-secret")
    assert response.status_code == 401 and response.json()["reason"] == "bad_signature"
    response = _callback(provider, good, code="no-such-provider")
    assert response.status_code == 404 and response.json()["reason"] == "unknown_provider"
    for malformed in (b"not json", b"[1, 2]", json.dumps({"account": "acct-1"}).encode()):
        response = _callback(provider, malformed)
        assert response.status_code == 400 and response.json()["reason"] == "malformed", malformed
    # A malformed body with a bad signature is refused for its signature first, as before.
    assert _callback(provider, b"not json", secret="x").status_code == 401
    other = PaymentProvider.objects.create(code="other", name="other", type="qr", modes=["charge"],
                                           callback_url="http://testserver/", callback_secret="s")  # fmt: skip
    assert _callback(other, good).json() == {
        "confirmed": False,
        "reason": "no_such_account",
    }  # not its account


def test_the_one_item_path_answers_as_the_general_path(campaign, provider, monkeypatch):
    """A random sequence of one-item requests (grants up to the cap, repeats, conflicts, wrong mode, unknown
    accounts, outside the period) gives the same answers, ledger and totals with the one-item path of
    PostgreSQL as with the general path, on two identical worlds."""
    import random

    twin = PaymentProvider.objects.create(code="twin", name="twin", type="qr", modes=["charge", "purchase"],
                                          callback_url="http://testserver/sandbox-pay/twin/confirm",
                                          callback_secret="twin-secret")  # fmt: skip
    campaign.providers.add(twin)
    for who in (provider, twin):
        for n in range(3):
            _enrol(campaign, who, f"acct-{n}")
    rng = random.Random(4)
    sent, items = [], []
    for n in range(120):
        if sent and rng.random() < 0.2:
            item = dict(rng.choice(sent))
            if rng.random() < 0.5:
                item["amount"] += 1  # same id, other content
        else:
            item = _item(n, account=f"acct-{rng.randrange(4)}", amount=rng.randrange(1, 9000),
                         kind=rng.choice(["charge", "charge", "purchase"]))  # fmt: skip
            if rng.random() < 0.05:
                item["occurred_at"] = (campaign.earning_ends_at + timedelta(days=1)).isoformat()
            sent.append(item)
        items.append(item)
    answers = {}
    for who, fast in ((provider, True), (twin, False)):
        monkeypatch.setattr(services, "ONE_ITEM_FAST_PATH", fast)
        answers[fast] = [
            services.transactions_record(provider=who, items=[item])[0].as_dict() for item in items
        ]
    assert answers[True] == answers[False]
    statuses = {a["status"] for a in answers[True]}
    assert {"granted", "capped", "conflict", "not_enrolled", "wrong_mode", "outside_period"} <= statuses

    def ledger(who):
        return sorted(ProviderTransaction.objects.filter(provider=who).values_list(
            "external_id", "status", "points", "remaining", "amount", "account__service_account"))  # fmt: skip

    assert ledger(provider) == ledger(twin) and len(ledger(provider)) == len(sent)
    totals = {p: sorted(PointAccount.objects.filter(provider=p).values_list("service_account", "granted"))
              for p in (provider, twin)}  # fmt: skip
    assert totals[provider] == totals[twin] and any(g == 5000 for _, g in totals[provider])

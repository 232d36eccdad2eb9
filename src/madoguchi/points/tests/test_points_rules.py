"""Rules an audit found unenforced: bad dates and control characters are invalid items (never a crash), one
provider account has one holder across campaigns, fixed grants keep their window, their once-per-resident rule
and their own id space, fixed campaigns take no reservation, and an application counts for the resident's own
municipality while the desk that made it keeps the desk's credit."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from madoguchi.core.tests.factories import MunicipalityFactory
from madoguchi.identity.models import DeskSession
from madoguchi.identity.tests.factories import StaffRoleFactory
from madoguchi.points import dashboards, ingest, services
from madoguchi.points.models import (
    AccountHolder,
    Application,
    Campaign,
    FixedGrant,
    PaymentProvider,
    PointAccount,
    ProviderTransaction,
)
from madoguchi.points.services import ApplicationRequest, PointsError
from madoguchi.points.tests.conftest import make_resident, sandbox_account
from madoguchi.points.tests.test_flow import apply, tx

pytestmark = pytest.mark.django_db

IMPOSSIBLE = [
    "2020-02-30T10:00:00+09:00",
    "2020-09-01T25:00:00+09:00",
    "2020-09-01T10:00:00+25:00",
    # parse, but name no instant a database stores (before year 1 / after 9999 in UTC), or no
    # instant of this century
    "0001-01-01T00:00:00+09:00",
    "9999-12-31T23:59:59-09:00",
    "1999-12-31T23:59:59Z",
    "2100-01-01T00:00:00Z",
]


def _second_campaign(provider, code="test-2022", **extra) -> Campaign:
    now = timezone.now()
    fields = dict(
        code=code, name="マイナポイント第2弾（テスト）", kind=Campaign.Kind.PREMIUM, rate_bp=2500, cap=20000,
        modes=["charge", "purchase"], budget=20000 * 100,
        reservation_starts_at=now - timedelta(days=30), reservation_ends_at=now + timedelta(days=30),
        application_starts_at=now - timedelta(days=30), application_ends_at=now + timedelta(days=30),
        earning_starts_at=now - timedelta(days=30), earning_ends_at=now + timedelta(days=30),
    )  # fmt: skip
    campaign = Campaign.objects.create(**(fields | extra))
    campaign.providers.add(provider)
    return campaign


def _applied(campaign, provider, account="acct-1", resident=None):
    sandbox_account(provider, account)
    resident = resident or make_resident()
    if campaign.kind == Campaign.Kind.PREMIUM:  # a fixed campaign takes no reservation
        services.reservation_create(resident=resident, campaign=campaign, actor=None)
    services.application_submit(resident=resident, campaign=campaign, actor=None,
                                request=ApplicationRequest(provider, "charge", account, account, "123"))  # fmt: skip
    return resident


# --- Items that name no real instant or carry control characters ------------------------------------------------
@pytest.mark.parametrize("when", IMPOSSIBLE)
def test_an_impossible_date_is_an_invalid_item_and_the_rest_of_the_batch_is_recorded(
    campaign, provider, when
):
    _applied(campaign, provider)
    with translation.override("en"):
        results = services.transactions_record(provider=provider, items=[
            tx("good-1", 400), {**tx("bad", 400), "occurred_at": when}, tx("good-2", 400),
        ])  # fmt: skip
    assert [(r.id, r.status, r.granted) for r in results] == [
        ("good-1", "granted", 100), ("bad", "invalid", 0), ("good-2", "granted", 100)]  # fmt: skip
    assert "occurred_at" in results[1].message
    assert not ProviderTransaction.objects.filter(external_id="bad").exists()


@pytest.mark.parametrize("field", ["id", "account"])
@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x85"])
def test_control_characters_make_an_item_invalid(campaign, provider, field, char):
    _applied(campaign, provider)
    item = tx("c-1", 400)
    item[field] = item[field] + char
    with translation.override("en"):
        [result] = services.transactions_record(provider=provider, items=[item])
    assert result.status == "invalid" and "control characters" in result.message
    assert char not in result.id
    assert not ProviderTransaction.objects.exists()


def test_the_batch_path_refuses_what_the_row_path_refuses(campaign, provider, monkeypatch):
    """On PostgreSQL a large batch takes the set-based path; its fast item check must leave these items to the
    general one (on SQLite both run the row path: the same answers)."""
    monkeypatch.setattr(ingest, "MIN_ITEMS", 1)
    _applied(campaign, provider)
    items = [tx("g", 400), {**tx("d", 400), "occurred_at": IMPOSSIBLE[0]}, {**tx("n", 400), "account": "acct-1\x00"},
             {**tx("i\x00", 400)}, {**tx("z", 400), "occurred_at": "0001-01-01T00:00:00+09:00"},
             {**tx("e", 400), "occurred_at": "9999-12-31T23:59:59-09:00"}]  # fmt: skip
    results = services.transactions_record(provider=provider, items=items)
    assert [r.status for r in results] == ["granted", "invalid", "invalid", "invalid", "invalid", "invalid"]
    assert ProviderTransaction.objects.count() == 1


def test_refunds_refuse_control_characters_and_overlong_originals(campaign, provider):
    _applied(campaign, provider)
    services.transactions_record(provider=provider, items=[tx("t1", 4000)])
    results = services.refunds_record(provider=provider, items=[
        {"id": "r\x00", "original_id": "t1", "amount": 400},
        {"id": "r2", "original_id": "t1\x00", "amount": 400},
        {"id": "r3", "original_id": "x" * 65, "amount": 400},
        {"id": "r4", "original_id": "t1", "amount": 400},
    ])  # fmt: skip
    assert [r.status for r in results] == ["invalid", "invalid", "invalid", "clawed_back"]
    assert results[0].id == "r?"
    assert PointAccount.objects.get().granted == 1000 - 100


def test_a_refund_batch_sent_twice_gives_the_first_answers(campaign, provider):
    _applied(campaign, provider)
    services.transactions_record(provider=provider, items=[tx("t1", 4000)])
    batch = [{"id": "r1", "original_id": "t1", "amount": 800}]
    first = services.refunds_record(provider=provider, items=batch)
    again = services.refunds_record(provider=provider, items=batch)
    assert (
        [(r.status, r.granted) for r in first]
        == [(r.status, r.granted) for r in again]
        == [("clawed_back", -200)]
    )
    assert PointAccount.objects.get().granted == 800


# --- One provider account, one holder, across campaigns -----------------------------------------------------------
def test_an_account_registered_in_one_campaign_cannot_be_registered_by_someone_else_in_another(
    campaign, provider
):
    later = _second_campaign(provider)
    first = _applied(campaign, provider, "shared")
    other = make_resident()
    services.reservation_create(resident=other, campaign=later, actor=None)
    with pytest.raises(PointsError) as excinfo:
        apply(other, later, provider, account="shared")
    assert excinfo.value.code == "account_taken"
    assert not Application.objects.filter(resident=other).exists()
    assert later.__class__.objects.get(pk=later.pk).reserved_budget == 0
    holder = AccountHolder.objects.get(provider=provider, service_account="shared")
    assert holder.resident_id == first.pk


def test_the_holder_may_register_the_same_account_in_another_campaign(campaign, provider):
    later = _second_campaign(provider)
    resident = _applied(campaign, provider, "mine")
    services.reservation_create(resident=resident, campaign=later, actor=None)
    apply(resident, later, provider, account="mine")
    assert Application.objects.filter(resident=resident).count() == 2
    assert AccountHolder.objects.filter(service_account="mine").count() == 1


def test_a_charge_goes_to_the_account_of_the_campaign_whose_window_holds_it(campaign, provider):
    """With one holder per account, a service account in two campaigns is always the same person's."""
    now = timezone.now()
    later = _second_campaign(provider, earning_starts_at=now + timedelta(days=31),
                             earning_ends_at=now + timedelta(days=90))  # fmt: skip
    resident = _applied(campaign, provider, "mine")
    services.reservation_create(resident=resident, campaign=later, actor=None)
    apply(resident, later, provider, account="mine")
    services.transactions_record(provider=provider, items=[
        tx("now", 400, account="mine"), tx("later", 400, account="mine", at=now + timedelta(days=40))])  # fmt: skip
    granted = dict(PointAccount.objects.values_list("campaign__code", "granted"))
    assert granted == {campaign.code: 100, later.code: 100}


# --- Fixed grants ---------------------------------------------------------------------------------------------------
@pytest.fixture
def new_card(provider):
    now = timezone.now()
    campaign = Campaign.objects.create(
        code="test-new-card", name="新規取得", kind=Campaign.Kind.FIXED, cap=15000, fixed_points=5000,
        modes=["charge", "purchase"], budget=15000 * 10,
        application_starts_at=now - timedelta(days=1), application_ends_at=now + timedelta(days=1),
        earning_starts_at=now - timedelta(days=1), earning_ends_at=now + timedelta(days=1),
    )  # fmt: skip
    campaign.providers.add(provider)
    return campaign


def test_a_fixed_grant_is_once_per_resident_whatever_the_cap(new_card, provider):
    resident = _applied(new_card, provider, "acct-f")
    row = services.fixed_grant_record(campaign=new_card, resident=resident, reference="card-1", actor=None)
    assert (row.kind, row.external_id, row.points) == ("fixed", f"{new_card.pk}:card-1", 5000)
    assert FixedGrant.objects.get().transaction == row
    with pytest.raises(PointsError) as excinfo:
        services.fixed_grant_record(campaign=new_card, resident=resident, reference="card-2", actor=None)
    assert excinfo.value.code == "already_granted"
    assert PointAccount.objects.get().granted == 5000


def test_a_fixed_grant_outside_the_campaigns_period_is_refused(new_card, provider):
    resident = _applied(new_card, provider, "acct-f")
    Campaign.objects.filter(pk=new_card.pk).update(earning_ends_at=timezone.now() - timedelta(seconds=1))
    new_card.refresh_from_db()
    with pytest.raises(PointsError) as excinfo:
        services.fixed_grant_record(campaign=new_card, resident=resident, reference="late", actor=None)
    assert excinfo.value.code == "outside_period"
    assert not ProviderTransaction.objects.exists()


def test_fixed_grants_have_their_own_id_space(new_card, campaign, provider):
    """A provider's transaction id equal to a fixed grant's ledger id never collides with it."""
    holder = _applied(campaign, provider, "acct-1")
    services.transactions_record(provider=provider, items=[tx(f"{new_card.pk}:card-1", 400)])
    resident = _applied(new_card, provider, "acct-f")
    row = services.fixed_grant_record(campaign=new_card, resident=resident, reference="card-1", actor=None)
    assert row.points == 5000
    assert ProviderTransaction.objects.filter(external_id=f"{new_card.pk}:card-1").count() == 2
    assert ProviderTransaction.objects.filter(account__application__resident=holder).count() == 1


def test_a_reference_is_one_grant_of_a_campaign_whichever_payment_service(new_card, provider):
    """Found by review: the reference was unique per payment service, so the same qualifying action paid out
    once per service. It is one grant per campaign now (UNIQUE of FixedGrant)."""
    other_service = PaymentProvider.objects.create(
        code="other-pay", name="ほかペイ", type=PaymentProvider.Type.QR, modes=["charge"],
        callback_url="http://testserver/sandbox-pay/other-pay/confirm", callback_secret="s" * 32,
    )  # fmt: skip
    new_card.providers.add(other_service)
    first = _applied(new_card, provider, "acct-f")
    second = _applied(new_card, other_service, "acct-o")
    services.fixed_grant_record(campaign=new_card, resident=first, reference="card-1", actor=None)
    with pytest.raises(PointsError) as excinfo:
        services.fixed_grant_record(campaign=new_card, resident=second, reference="card-1", actor=None)
    assert excinfo.value.code == "reference_used"
    assert FixedGrant.objects.count() == 1
    assert sorted(PointAccount.objects.values_list("granted", flat=True)) == [0, 5000]


@pytest.mark.parametrize("reference", ["", "   ", "x" * 51, "a\x00b"])
def test_a_fixed_grant_reference_is_checked_not_cut(new_card, provider, reference):
    resident = _applied(new_card, provider, "acct-f")
    with pytest.raises(PointsError) as excinfo:
        services.fixed_grant_record(campaign=new_card, resident=resident, reference=reference, actor=None)
    assert excinfo.value.code == "invalid_reference"


def test_a_fixed_campaign_takes_no_reservation(new_card):
    with pytest.raises(PointsError) as excinfo:
        services.reservation_create(resident=make_resident(), campaign=new_card, actor=None)
    assert excinfo.value.code == "no_reservations"
    assert Campaign.objects.get(pk=new_card.pk).reservations == 0


# --- Whose municipality an application counts for -------------------------------------------------------------------
def test_a_desk_application_counts_for_the_residents_town_and_for_the_desk(campaign, provider):
    home, desk_town = MunicipalityFactory(name="すまい市"), MunicipalityFactory(name="まどぐち町")
    clerk = StaffRoleFactory(municipality=desk_town, clerk=True).user
    resident = make_resident()
    resident.municipality = home
    resident.save(update_fields=["municipality"])
    desk = DeskSession.objects.create(municipality=desk_town, clerk=clerk, resident=resident,
                                      last_activity_at=timezone.now())  # fmt: skip
    services.reservation_create(resident=resident, campaign=campaign, actor=None)
    sandbox_account(provider, "acct-d")
    services.application_submit(resident=resident, campaign=campaign, actor=None, desk=desk,
                                request=ApplicationRequest(provider, "charge", "acct-d", "acct-d", "123"))  # fmt: skip
    application = Application.objects.get()
    assert (application.municipality_id, application.desk_session_id) == (home.pk, desk.pk)
    assert dashboards.municipal_summary(home).applications == 1
    assert dashboards.municipal_summary(desk_town).applications == 0
    # The desk table: per clerk, reservations made at the desk (none here) and applications made at the desk.
    assert [row[1:3] for row in dashboards.municipal_desk_table(desk_town).rows] == [[0, 1]]
    assert dashboards.municipal_desk_table(home).rows == []


# --- When a provider key was last used ------------------------------------------------------------------------------
def test_a_keys_last_use_is_kept_at_most_once_an_hour(provider):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from madoguchi.points.models import ProviderApiKey

    key = services.api_key_issue(provider=provider, actor=None)
    stored = ProviderApiKey.objects.get(provider=provider)
    assert stored.last_used_at is None
    assert services.provider_for_key(key) == provider
    first = ProviderApiKey.objects.get(pk=stored.pk).last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as captured:
        assert services.provider_for_key(key) == provider
    assert len(captured.captured_queries) == 1  # the look-up only: used minutes ago is recent enough
    assert ProviderApiKey.objects.get(pk=stored.pk).last_used_at == first
    earlier = first - services.KEY_USE_RESOLUTION - timedelta(seconds=1)
    ProviderApiKey.objects.filter(pk=stored.pk).update(last_used_at=earlier)
    services.provider_for_key(key)
    assert ProviderApiKey.objects.get(pk=stored.pk).last_used_at > first
    assert services.provider_for_key(key + "x") is None


# --- The cap reserved is the cap copied ------------------------------------------------------------------------------
def test_an_application_whose_campaign_cap_changed_meanwhile_is_refused_whole(campaign, provider):
    """The point account copies the campaign's cap before the provider's (slow) answer; the budget reserves the
    campaign row's cap after it. If an operator changed the cap in between, the two would disagree: refused."""
    sandbox_account(provider, "acct-c")
    resident = make_resident()
    services.reservation_create(resident=resident, campaign=campaign, actor=None)
    Campaign.objects.filter(pk=campaign.pk).update(cap=6000)  # `campaign` still holds the old cap, 5,000
    with pytest.raises(PointsError) as excinfo:
        services.application_submit(resident=resident, campaign=campaign, actor=None,
                                    request=ApplicationRequest(provider, "charge", "acct-c", "acct-c", "123"))  # fmt: skip
    assert excinfo.value.code == "campaign_changed"
    assert not Application.objects.exists() and not PointAccount.objects.exists()
    assert not AccountHolder.objects.exists()
    assert Campaign.objects.get(pk=campaign.pk).reserved_budget == 0

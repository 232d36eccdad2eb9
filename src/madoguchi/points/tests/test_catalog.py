"""The operators' back office for campaigns and payment providers: points.catalog's checks and refusals, its
audit records, API key rotation and revocation, and the pages (who may see them, forms, CSRF)."""

import dataclasses
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.core import audit
from madoguchi.core.models import AuditRecord
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.points import catalog, services
from madoguchi.points.catalog import CampaignSpec, CatalogError, ProviderSpec
from madoguchi.points.models import Application, Campaign, PaymentProvider, ProviderApiKey
from madoguchi.points.services import ApplicationRequest
from madoguchi.points.tests.conftest import make_resident, sandbox_account
from madoguchi.points.tests.test_pages import field_is_invalid

pytestmark = pytest.mark.django_db
JST = ZoneInfo("Asia/Tokyo")
CALLBACK = "https://pay.example.jp/sandbox-pay/{code}/confirm"  # the test transport uses the path only


def jst(y: int, m: int, d: int, h: int = 0, minute: int = 0, s: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, s, tzinfo=JST)


@pytest.fixture
def operator():
    return StaffRoleFactory(operator=True).user


@pytest.fixture
def operator_client(client, operator):
    sign_in_staff(client, operator)
    return client


def provider_spec(**changes) -> ProviderSpec:
    base = ProviderSpec(name="テストペイ", type="qr", modes=["charge", "purchase"],
                        callback_url=CALLBACK.format(code="test-pay"))  # fmt: skip
    return dataclasses.replace(base, **changes)


def spec_2020(**changes) -> CampaignSpec:
    """The 2020 campaign's configuration (25 %, 5,000 points, 2,499億円)."""
    base = CampaignSpec(
        name="マイナポイント事業（2020年度）", kind="premium", rate_bp=2500, cap=5000, fixed_points=0,
        modes=["charge", "purchase"], budget=249_900_000_000,
        reservation_starts_at=jst(2020, 1, 1), reservation_ends_at=jst(2020, 8, 31, 23, 59, 59),
        application_starts_at=jst(2020, 7, 1), application_ends_at=jst(2021, 3, 31, 23, 59, 59),
        earning_starts_at=jst(2020, 9, 1), earning_ends_at=jst(2021, 3, 31, 23, 59, 59),
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def spec_of(campaign: Campaign, **changes) -> CampaignSpec:
    """The campaign's configuration as it is, with `changes`."""
    campaign.refresh_from_db()
    fields = {f.name for f in dataclasses.fields(CampaignSpec)} - {"providers"}
    spec = CampaignSpec(**{name: getattr(campaign, name) for name in fields},
                        providers=list(campaign.providers.all()))  # fmt: skip
    return dataclasses.replace(spec, **changes)


def refused(codes: str | set[str], function, **kwargs) -> CatalogError:
    with pytest.raises(CatalogError) as info:
        function(**kwargs)
    expected = {codes} if isinstance(codes, str) else codes
    assert expected <= info.value.codes, info.value.problems
    return info.value


def audited(action: str) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action=action).order_by("seq"))


def enrol(campaign, provider, account: str, mode: str = "charge") -> Application:
    sandbox_account(provider, account)
    resident = make_resident()
    services.reservation_create(resident=resident, campaign=campaign, actor=None)
    return services.application_submit(
        resident=resident, campaign=campaign, actor=None,
        request=ApplicationRequest(provider, mode, account, account, "123"),
    )  # fmt: skip


# --- Payment providers -----------------------------------------------------------------------------------------
def test_register_a_provider(operator):
    provider, secret = catalog.provider_register(code="test-pay", spec=provider_spec(), actor=operator)
    provider.refresh_from_db()
    assert (provider.code, provider.name, provider.type, provider.modes, provider.active) == (
        "test-pay", "テストペイ", "qr", ["charge", "purchase"], True)  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{64}", secret) and provider.callback_secret == secret
    [record] = audited("points.provider_register")
    assert record.actor_id == str(operator.pk) and record.target_id == str(provider.pk)
    assert (
        record.details["provider"] == "test-pay" and record.details["callback_url"] == provider.callback_url
    )
    assert secret not in str(record.details)  # the secret never reaches the audit log
    # Plain http is for this computer only (the demo's sandbox provider).
    local, _secret = catalog.provider_register(
        code="local", spec=provider_spec(name="ローカル", callback_url="http://localhost:8000/sandbox-pay/x/confirm"),
        actor=operator,
    )  # fmt: skip
    assert local.callback_url.startswith("http://localhost")


@pytest.mark.parametrize(
    ("code", "changes", "expected"),
    [
        ("Bad Code", {}, "code_invalid"),
        ("", {}, "code_required"),
        ("-x", {}, "code_invalid"),
        ("sandbox-qr", {}, "code_taken"),  # the conftest provider's
        ("new", {}, "code_taken"),  # the page that registers one
        ("ok", {"name": "  "}, "name_required"),
        ("ok", {"name": "サンドボックスqr"}, "name_taken"),  # case-insensitively
        ("ok", {"name": "x" * 101}, "name_too_long"),
        ("ok", {"type": "cash"}, "type_invalid"),
        ("ok", {"modes": []}, "modes_required"),
        ("ok", {"modes": ["charge", "gift"]}, "modes_invalid"),
        ("ok", {"callback_url": ""}, "callback_url_required"),
        ("ok", {"callback_url": "ftp://example.jp/confirm"}, "callback_url_invalid"),
        ("ok", {"callback_url": "example.jp/confirm"}, "callback_url_invalid"),
        ("ok", {"callback_url": "http://example.jp/confirm"}, "callback_url_not_https"),
        ("ok", {"callback_url": "https://user:pw@example.jp/confirm"}, "callback_url_credentials"),
        ("ok", {"callback_url": "https://example.jp/confirm#x"}, "callback_url_invalid"),
    ],
)
def test_provider_registration_refusals(provider, operator, code, changes, expected):
    before = PaymentProvider.objects.count()
    error = refused(
        expected, catalog.provider_register, code=code, spec=provider_spec(**changes), actor=operator
    )
    assert error.problems[0].field in {"code", "name", "type", "modes", "callback_url"}
    assert PaymentProvider.objects.count() == before and not audited("points.provider_register")


def test_every_problem_is_reported_at_once(operator):
    error = refused({"code_invalid", "name_required", "modes_required", "callback_url_not_https"},
                    catalog.provider_register, code="X", actor=operator,
                    spec=provider_spec(name="", modes=[], callback_url="http://example.jp/"))  # fmt: skip
    assert {p.field for p in error.problems} == {"code", "name", "modes", "callback_url"}


def test_edit_a_provider_and_the_modes_in_use(campaign, provider, operator):
    spec = provider_spec(
        name="サンドボックスQR（新）", type="emoney", callback_url=CALLBACK.format(code="sandbox-qr")
    )
    catalog.provider_update(provider=provider, spec=spec, actor=operator)
    provider.refresh_from_db()
    assert (provider.name, provider.type, provider.code) == ("サンドボックスQR（新）", "emoney", "sandbox-qr")
    [record] = audited("points.provider_update")
    assert record.details["changes"]["type"] == ["qr", "emoney"] and "modes" not in record.details["changes"]
    # Saving it unchanged is no change: nothing to audit.
    catalog.provider_update(provider=provider, spec=spec, actor=operator)
    assert len(audited("points.provider_update")) == 1

    enrol(campaign, provider, "acct-1", mode="charge")
    refused("mode_in_use", catalog.provider_update, provider=provider, actor=operator,
            spec=dataclasses.replace(spec, modes=["purchase"]))  # fmt: skip
    provider.refresh_from_db()
    assert provider.modes == ["charge", "purchase"]
    # Withdrawing the mode nobody chose is fine; so is deactivating the service.
    catalog.provider_update(provider=provider, spec=dataclasses.replace(spec, modes=["charge"], active=False),
                            actor=operator)  # fmt: skip
    provider.refresh_from_db()
    assert provider.modes == ["charge"] and not provider.active


def test_new_callback_secret(provider, operator):
    old = provider.callback_secret
    secret = catalog.provider_callback_secret_rotate(provider=provider, actor=operator)
    provider.refresh_from_db()
    assert provider.callback_secret == secret != old
    [record] = audited("points.provider_callback_secret_rotate")
    assert secret not in str(record.details) and old not in str(record.details)


# --- API keys ------------------------------------------------------------------------------------------------------
def test_rotate_leaves_the_old_key_unusable_and_the_new_one_usable(provider, operator):
    old_key = catalog.api_key_issue(provider=provider, actor=operator)
    assert services.provider_for_key(old_key) == provider
    old = ProviderApiKey.objects.get()

    new_key = catalog.api_key_rotate(key=old, actor=operator)
    assert services.provider_for_key(old_key) is None
    assert services.provider_for_key(new_key) == provider
    old.refresh_from_db()
    assert old.revoked_at is not None
    new = ProviderApiKey.objects.exclude(pk=old.pk).get()
    assert new.revoked_at is None and new_key.split("_")[1] == new.prefix
    [rotation] = audited("points.api_key_rotate")
    assert rotation.details == {"provider": provider.code, "revoked": old.prefix, "issued": new.prefix}
    assert len(audited("points.api_key_issue")) == 2 and len(audited("points.api_key_revoke")) == 1
    assert new_key not in str(rotation.details)

    refused("key_revoked", catalog.api_key_rotate, key=old, actor=operator)  # a revoked key cannot be rotated
    assert ProviderApiKey.objects.count() == 2


def test_rotation_is_one_transaction(provider, operator, monkeypatch):
    catalog.api_key_issue(provider=provider, actor=operator)
    old = ProviderApiKey.objects.get()

    def broken(**kwargs):
        raise RuntimeError("revocation failed")

    monkeypatch.setattr(services, "api_key_revoke", broken)
    with pytest.raises(RuntimeError):
        catalog.api_key_rotate(key=old, actor=operator)
    assert list(ProviderApiKey.objects.all()) == [old]  # the new key went with the failed revocation
    assert not audited("points.api_key_rotate") and len(audited("points.api_key_issue")) == 1


def test_revoke(provider, operator):
    key = catalog.api_key_issue(provider=provider, actor=operator)
    other = catalog.api_key_issue(provider=provider, actor=operator)
    record = ProviderApiKey.objects.get(prefix=key.split("_")[1])
    catalog.api_key_revoke(key=record, actor=operator)
    assert services.provider_for_key(key) is None and services.provider_for_key(other) == provider
    assert [r.target_id for r in audited("points.api_key_revoke")] == [str(record.pk)]
    refused("key_revoked", catalog.api_key_revoke, key=record, actor=operator)
    assert len(audited("points.api_key_revoke")) == 1


def test_only_operators_change_the_catalog(campaign, provider, operator):
    key = catalog.api_key_issue(provider=provider, actor=operator)
    record = ProviderApiKey.objects.get()
    for actor in [StaffRoleFactory().user, StaffRoleFactory(clerk=True).user, make_resident().user, None,
                  audit.Actor("provider", str(provider.pk), provider.code)]:  # fmt: skip
        calls = [
            (catalog.provider_register, {"code": "x", "spec": provider_spec()}),
            (catalog.provider_update, {"provider": provider, "spec": provider_spec()}),
            (catalog.provider_callback_secret_rotate, {"provider": provider}),
            (catalog.api_key_issue, {"provider": provider}),
            (catalog.api_key_rotate, {"key": record}),
            (catalog.api_key_revoke, {"key": record}),
            (catalog.campaign_create, {"code": "x", "spec": spec_2020()}),
            (catalog.campaign_update, {"campaign": campaign, "spec": spec_of(campaign, budget=1)}),
        ]
        for function, kwargs in calls:
            refused("not_operator", function, actor=actor, **kwargs)
    assert services.provider_for_key(key) == provider and ProviderApiKey.objects.count() == 1
    assert PaymentProvider.objects.count() == 1 and Campaign.objects.count() == 1
    # The system actor (a management command) may.
    catalog.api_key_issue(provider=provider, actor=audit.SYSTEM)
    assert ProviderApiKey.objects.count() == 2


# --- Campaigns -----------------------------------------------------------------------------------------------------
def test_create_the_2020_campaign_and_a_fixed_one(provider, operator):
    campaign = catalog.campaign_create(
        code="mynapoint-2020", spec=spec_2020(providers=[provider]), actor=operator
    )
    campaign.refresh_from_db()
    assert (campaign.rate_bp, campaign.cap, campaign.budget, campaign.reserved_budget) == (
        2500,
        5000,
        249_900_000_000,
        0,
    )
    assert list(campaign.providers.all()) == [provider]
    [record] = audited("points.campaign_create")
    # Money is grouped in the audit log (a bare 12-digit number could be taken for a My Number).
    assert record.details["budget"] == "249,900,000,000" and record.details["providers"] == ["sandbox-qr"]
    assert record.details["application_starts_at"] == "2020-06-30T15:00:00+00:00"

    fixed = catalog.campaign_create(code="mynapoint-2022-card", actor=operator, spec=spec_2020(
        name="第2弾：カードの新規取得", kind="fixed", rate_bp=0, fixed_points=5000, budget=5000 * 40_000_000,
        reservation_starts_at=None, reservation_ends_at=None, application_starts_at=jst(2022, 6, 30),
        application_ends_at=jst(2023, 9, 30, 23, 59, 59), earning_starts_at=jst(2022, 6, 30),
        earning_ends_at=jst(2023, 10, 31, 23, 59, 59)))  # fmt: skip
    assert fixed.kind == "fixed" and fixed.fixed_points == 5000 and fixed.reservation_starts_at is None


@pytest.mark.parametrize(
    ("code", "changes", "expected", "field"),
    [
        ("Bad_code", {}, "code_invalid", "code"),
        ("test-2020", {}, "code_taken", "code"),  # the conftest campaign's
        ("ok", {"name": ""}, "name_required", "name"),
        ("ok", {"name": "マイナポイント（テスト）"}, "name_taken", "name"),
        ("ok", {"kind": "lottery"}, "kind_invalid", "kind"),
        ("ok", {"budget": 1.5}, "not_integer", "budget"),
        ("ok", {"cap": "5000"}, "not_integer", "cap"),
        ("ok", {"rate_bp": True}, "not_integer", "rate_bp"),
        ("ok", {"cap": 0}, "cap_invalid", "cap"),
        ("ok", {"budget": -1}, "budget_negative", "budget"),
        ("ok", {"budget": 10**16}, "budget_too_large", "budget"),
        ("ok", {"rate_bp": 0}, "rate_invalid", "rate_bp"),
        ("ok", {"rate_bp": 10_001}, "rate_invalid", "rate_bp"),
        ("ok", {"fixed_points": 100}, "fixed_not_for_premium", "fixed_points"),
        ("ok", {"kind": "fixed", "fixed_points": 5000}, "rate_not_for_fixed", "rate_bp"),
        ("ok", {"kind": "fixed", "rate_bp": 0, "fixed_points": 0}, "fixed_invalid", "fixed_points"),
        ("ok", {"kind": "fixed", "rate_bp": 0, "fixed_points": 5001}, "fixed_invalid", "fixed_points"),
        ("ok", {"modes": []}, "modes_required", "modes"),
        ("ok", {"modes": ["charge", "charge"]}, "modes_invalid", "modes"),
        ("ok", {"application_starts_at": None}, "window_required", "application_starts_at"),
        ("ok", {"earning_ends_at": datetime(2021, 3, 31)}, "window_invalid", "earning_ends_at"),  # noqa: DTZ001
        (
            "ok",
            {"reservation_starts_at": None, "reservation_ends_at": None},
            "reservation_window_required",
            "reservation_starts_at",
        ),  # fmt: skip
        ("ok", {"reservation_ends_at": None}, "reservation_window_partial", "reservation_ends_at"),
        ("ok", {"application_ends_at": jst(2020, 7, 1)}, "window_reversed", "application_ends_at"),
        ("ok", {"earning_ends_at": jst(2020, 8, 1)}, "window_reversed", "earning_ends_at"),
        ("ok", {"reservation_starts_at": jst(2020, 7, 2)}, "window_order", "reservation_starts_at"),
        ("ok", {"reservation_ends_at": jst(2021, 4, 1)}, "window_order", "reservation_ends_at"),
        ("ok", {"earning_starts_at": jst(2020, 6, 30)}, "window_order", "earning_starts_at"),
        ("ok", {"earning_ends_at": jst(2021, 3, 31)}, "window_order", "earning_ends_at"),
    ],
)
def test_campaign_creation_refusals(campaign, operator, code, changes, expected, field):
    error = refused(expected, catalog.campaign_create, code=code, spec=spec_2020(**changes), actor=operator)
    assert field in {p.field for p in error.problems if p.code == expected}
    assert Campaign.objects.count() == 1 and not audited("points.campaign_create")


def test_a_provider_must_offer_one_of_the_campaign_modes(provider, operator):
    card = PaymentProvider.objects.create(code="card", name="カード", type="credit", modes=["purchase"],
                                          callback_url="https://pay.example.jp/x")  # fmt: skip
    refused("provider_modes", catalog.campaign_create, code="ok", actor=operator,
            spec=spec_2020(modes=["charge"], providers=[provider, card]))  # fmt: skip
    assert catalog.campaign_create(code="ok", actor=operator, spec=spec_2020(providers=[provider, card]))


@pytest.fixture
def upcoming(campaign) -> Campaign:
    """The conftest campaign with reservations open now and applications opening tomorrow."""
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(
        reservation_starts_at=now - timedelta(days=1), reservation_ends_at=now + timedelta(days=5),
        application_starts_at=now + timedelta(days=1), application_ends_at=now + timedelta(days=30),
        earning_starts_at=now + timedelta(days=1), earning_ends_at=now + timedelta(days=40),
    )  # fmt: skip
    campaign.refresh_from_db()
    return campaign


def test_edit_a_campaign_before_applications_open(upcoming, operator):
    campaign = upcoming
    catalog.campaign_update(campaign=campaign, actor=operator,
                            spec=spec_of(campaign, rate_bp=2000, cap=4000, budget=4000 * 10, modes=["purchase"]))  # fmt: skip
    campaign.refresh_from_db()
    assert (campaign.rate_bp, campaign.cap, campaign.budget, campaign.modes) == (
        2000,
        4000,
        40_000,
        ["purchase"],
    )
    [record] = audited("points.campaign_update")
    assert record.details["changes"]["rate_bp"] == [2500, 2000]
    assert record.details["changes"]["budget"] == ["500,000", "40,000"]
    assert set(record.details["changes"]) == {"rate_bp", "cap", "budget", "modes"}
    catalog.campaign_update(campaign=campaign, spec=spec_of(campaign), actor=operator)  # unchanged: no record
    assert len(audited("points.campaign_update")) == 1


def test_the_earning_period_is_closed_once_the_final_settlement_is_claimed(campaign, provider, operator):
    """Found by the settlement audit: a final settlement (精算) claimed, the earning period could still be
    reopened, and points earned then would reach the State only as repayment lines later."""
    from madoguchi.points.models import Statement

    later = campaign.earning_ends_at + timedelta(days=30)
    draft = Statement.objects.create(campaign=campaign, provider=provider, kind=Statement.Kind.FINAL,
                                     month=202103, computed_at=timezone.now())  # fmt: skip
    # A draft final settlement is not yet a claim: the period may still move (applications are open, nobody
    # applied, so only the end is changed here).
    catalog.campaign_update(campaign=campaign, actor=operator, spec=spec_of(campaign, earning_ends_at=later))
    campaign.refresh_from_db()
    Statement.objects.filter(pk=draft.pk).update(status=Statement.Status.CLAIMED)
    refused("finally_settled", catalog.campaign_update, campaign=campaign, actor=operator,
            spec=spec_of(campaign, earning_ends_at=later + timedelta(days=1)))  # fmt: skip
    refused("finally_settled", catalog.campaign_update, campaign=campaign, actor=operator,
            spec=spec_of(campaign, earning_starts_at=campaign.earning_starts_at - timedelta(days=1)))  # fmt: skip
    campaign.refresh_from_db()
    assert campaign.earning_ends_at == later
    # What does not touch the period may still change (the name here).
    catalog.campaign_update(campaign=campaign, actor=operator, spec=spec_of(campaign, name="改名後"))


def test_open_applications_fix_the_money(campaign, operator):
    # Nobody has applied, but one application may be under way: it copies the cap into its point account
    # before it reserves the cap from the budget, so the cap (and the rest) cannot change in between.
    assert not Application.objects.exists()
    refused("locked_after_applications", catalog.campaign_update, campaign=campaign, actor=operator,
            spec=spec_of(campaign, cap=4000))  # fmt: skip
    # Moving the opening later (nobody applied) closes applications; then the cap may change.
    later = timezone.now() + timedelta(days=1)
    catalog.campaign_update(campaign=campaign, actor=operator,
                            spec=spec_of(campaign, application_starts_at=later, earning_starts_at=later))  # fmt: skip
    catalog.campaign_update(campaign=campaign, spec=spec_of(campaign, cap=4000), actor=operator)
    campaign.refresh_from_db()
    assert campaign.cap == 4000 and len(audited("points.campaign_update")) == 2


def test_reservations_hold_the_budget_and_their_window(upcoming, operator):
    campaign = upcoming
    services.reservation_create(resident=make_resident(), campaign=campaign, actor=None)
    services.reservation_create(resident=make_resident(), campaign=campaign, actor=None)
    refused("budget_below_reservations", catalog.campaign_update, campaign=campaign, actor=operator,
            spec=spec_of(campaign, budget=9_999))  # 2 × 5,000  # fmt: skip
    refused("budget_below_reservations", catalog.campaign_update, campaign=campaign, actor=operator,
            spec=spec_of(campaign, cap=6000, budget=10_000))  # fmt: skip
    refused("window_in_use", catalog.campaign_update, campaign=campaign, actor=operator,
            spec=spec_of(campaign, reservation_starts_at=campaign.reservation_starts_at + timedelta(seconds=1)))  # fmt: skip
    # Nobody has applied yet: the rate may still change, and the budget go down to what the reservations need.
    catalog.campaign_update(
        campaign=campaign, spec=spec_of(campaign, rate_bp=2000, budget=10_000), actor=operator
    )
    campaign.refresh_from_db()
    assert (campaign.budget, campaign.reservations, campaign.rate_bp) == (10_000, 2, 2000)


def test_applications_fix_the_money(campaign, provider, operator):
    enrol(campaign, provider, "acct-1")
    campaign.refresh_from_db()
    assert campaign.reserved_budget == 5000
    other = PaymentProvider.objects.create(code="other", name="他のペイ", type="qr", modes=["charge"],
                                           callback_url="https://pay.example.jp/x")  # fmt: skip
    cases = [
        ({"rate_bp": 3000}, "locked_after_applications", "rate_bp"),
        ({"cap": 6000}, "locked_after_applications", "cap"),
        ({"modes": ["charge"]}, "locked_after_applications", "modes"),
        ({"kind": "fixed", "rate_bp": 0, "fixed_points": 5000}, "locked_after_applications", "kind"),
        ({"budget": 4_999}, "budget_below_reserved", "budget"),
        ({"application_starts_at": campaign.application_starts_at + timedelta(minutes=1)}, "window_in_use",
         "application_starts_at"),
        ({"earning_starts_at": campaign.earning_starts_at + timedelta(minutes=1)}, "window_in_use",
         "earning_starts_at"),
        ({"earning_ends_at": campaign.earning_ends_at - timedelta(minutes=1)}, "window_in_use", "earning_ends_at"),
        ({"providers": [other]}, "provider_in_use", "providers"),
    ]  # fmt: skip
    for changes, code, field in cases:
        error = refused(code, catalog.campaign_update, campaign=campaign, spec=spec_of(campaign, **changes),
                        actor=operator)  # fmt: skip
        assert field in {p.field for p in error.problems if p.code == code}
    assert not audited("points.campaign_update")
    campaign.refresh_from_db()
    assert (campaign.rate_bp, campaign.cap, campaign.budget, list(campaign.providers.all())) == (
        2500, 5000, 500_000, [provider])  # fmt: skip

    # What does not touch committed money is allowed: a larger budget, applications closing earlier, a longer
    # earning period, another payment service; and the counters applications keep are left alone.
    now = timezone.now()
    catalog.campaign_update(campaign=campaign, actor=operator, spec=spec_of(
        campaign, budget=5_000, application_ends_at=now + timedelta(days=1), reservation_ends_at=now + timedelta(days=1),
        earning_ends_at=campaign.earning_ends_at + timedelta(days=30), providers=[provider, other]))  # fmt: skip
    campaign.refresh_from_db()
    assert (campaign.budget, campaign.reserved_budget) == (5_000, 5_000)
    assert set(campaign.providers.all()) == {provider, other}
    [record] = audited("points.campaign_update")
    assert record.details["changes"]["providers"] == [["sandbox-qr"], ["other", "sandbox-qr"]]


# --- Pages -----------------------------------------------------------------------------------------------------
def page_urls(provider, campaign, key) -> list[str]:
    return [
        reverse("points_ops:catalog_campaigns"),
        reverse("points_ops:catalog_campaign_new"),
        reverse("points_ops:catalog_campaign_edit", args=[campaign.code]),
        reverse("points_ops:catalog_providers"),
        reverse("points_ops:catalog_provider_new"),
        reverse("points_ops:catalog_provider", args=[provider.code]),
        reverse("points_ops:catalog_provider_edit", args=[provider.code]),
        reverse("points_ops:catalog_provider_secret", args=[provider.code]),
        reverse("points_ops:catalog_key_rotate", args=[provider.code, key.pk]),
        reverse("points_ops:catalog_key_revoke", args=[provider.code, key.pk]),
    ]


def test_the_pages_are_for_operators_only(client, campaign, provider, operator):
    api_key = catalog.api_key_issue(provider=provider, actor=operator)
    key = ProviderApiKey.objects.get()
    urls = page_urls(provider, campaign, key)
    posts = [*urls[1:3], *urls[4:], reverse("points_ops:catalog_key_issue", args=[provider.code])]
    for url in urls:
        assert client.get(url).status_code == 302  # anonymous: to the staff sign-in
    resident = make_resident()
    client.force_login(
        resident.user
    )  # a resident: not a verified staff member, sent to the staff sign-in steps
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "staff" in response["Location"]
    for user in [StaffRoleFactory().user, StaffRoleFactory(clerk=True).user]:  # municipal staff
        client.logout()
        sign_in_staff(client, user)
        for url in urls:
            assert client.get(url).status_code == 403
        for url in posts:
            assert client.post(url, {"name": "乗っ取り", "budget": "1"}).status_code == 403
    assert services.provider_for_key(api_key) == provider and ProviderApiKey.objects.count() == 1
    campaign.refresh_from_db()
    provider.refresh_from_db()
    assert campaign.budget == 500_000 and provider.name == "サンドボックスQR"
    assert (
        not AuditRecord.objects.filter(action__startswith="points.")
        .exclude(action="points.api_key_issue")
        .exists()
    )


def test_every_page_shows_for_an_operator(operator_client, campaign, provider, operator):
    catalog.api_key_issue(provider=provider, actor=operator)
    key = ProviderApiKey.objects.get()
    for url in page_urls(provider, campaign, key):
        response = operator_client.get(url)
        assert response.status_code == 200, url
        assert key.key_hash not in response.text and provider.callback_secret not in response.text
        assert '<html lang="ja">' in response.text  # Japanese first
    listing = operator_client.get(reverse("points_ops:catalog_providers")).text
    assert f"mpk_{key.prefix}_" in listing and provider.name in listing
    assert reverse("points_ops:catalog_campaigns") in operator_client.get(reverse("points_ops:national")).text
    assert operator_client.get(reverse("points_ops:catalog_provider", args=["nobody"])).status_code == 404
    assert (
        operator_client.get(reverse("points_ops:catalog_campaign_edit", args=["nothing"])).status_code == 404
    )
    assert (
        operator_client.get(reverse("points_ops:catalog_key_issue", args=[provider.code])).status_code == 405
    )


def new_provider_data(**changes) -> dict:
    return {"code": "test-pay", "name": "テストペイ", "type": "emoney", "modes": ["charge"],
            "callback_url": CALLBACK.format(code="test-pay"), "active": "on"} | changes  # fmt: skip


def test_register_a_provider_from_the_page(operator_client):
    url = reverse("points_ops:catalog_provider_new")
    # Refused: each error on its field, tied to it, with what was typed kept.
    response = operator_client.post(
        url, new_provider_data(code="Test Pay", callback_url="http://example.jp/cb", modes=[])
    )
    html = response.text
    assert response.status_code == 200 and not PaymentProvider.objects.exists()
    assert all(field_is_invalid(html, name) for name in ("code", "callback_url", "modes"))
    assert 'aria-describedby="id_code_helptext id_code_error"' in html and 'id="id_code_error"' in html
    assert (
        'value="Test Pay"' in html and 'value="http://example.jp/cb"' in html and 'value="テストペイ"' in html
    )
    assert 'value="emoney" selected' in html

    response = operator_client.post(url, new_provider_data())
    provider = PaymentProvider.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("points_ops:catalog_provider",
                                                                          args=["test-pay"])  # fmt: skip
    detail = operator_client.get(response["Location"]).text
    assert provider.callback_secret in detail  # shown once...
    assert provider.callback_secret not in operator_client.get(response["Location"]).text  # ...and only once
    assert audited("points.provider_register")


def test_edit_a_provider_from_the_page(operator_client, campaign, provider):
    url = reverse("points_ops:catalog_provider_edit", args=[provider.code])
    page = operator_client.get(url).text
    assert 'name="code"' not in page and f'value="{provider.callback_url}"' in page
    enrol(campaign, provider, "acct-1", mode="charge")
    data = new_provider_data(
        name="新しい名前", modes=["purchase"], callback_url=CALLBACK.format(code="sandbox-qr")
    )
    del data["code"]
    response = operator_client.post(url, data)
    assert response.status_code == 200 and field_is_invalid(response.text, "modes")
    assert 'value="新しい名前"' in response.text
    provider.refresh_from_db()
    assert provider.name == "サンドボックスQR"
    response = operator_client.post(url, data | {"modes": ["charge", "purchase"]})
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.name == "新しい名前" and provider.type == "emoney"


def test_keys_from_the_page(operator_client, provider):
    detail_url = reverse("points_ops:catalog_provider", args=[provider.code])
    response = operator_client.post(reverse("points_ops:catalog_key_issue", args=[provider.code]))
    # The key is in the answer to the POST itself, never kept anywhere (not even in the session), never cached.
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    [first] = re.findall(r"mpk_[0-9a-f]{8}_[-\w]{20,}", response.text)
    assert first not in str(dict(operator_client.session))
    assert services.provider_for_key(first) == provider
    assert first not in operator_client.get(detail_url).text  # shown once
    key = ProviderApiKey.objects.get()
    # The key was used (just above): the page says when, to the hour's resolution the platform keeps.
    used = timezone.localtime(key.last_used_at).strftime("%Y-%m-%d %H:%M")
    assert f"<td>{used}</td>" in operator_client.get(detail_url).text

    # Replace: a confirmation step, then the new key shown once, the old one revoked.
    rotate_url = reverse("points_ops:catalog_key_rotate", args=[provider.code, key.pk])
    confirm = operator_client.get(rotate_url).text
    assert 'method="post"' in confirm and "csrfmiddlewaretoken" in confirm and f"mpk_{key.prefix}_" in confirm
    assert services.provider_for_key(first) == provider  # the confirmation page changes nothing
    page = operator_client.post(rotate_url).text
    [second] = re.findall(r"mpk_[0-9a-f]{8}_[-\w]{20,}", page)
    assert second not in operator_client.get(detail_url).text
    assert services.provider_for_key(first) is None and services.provider_for_key(second) == provider

    # Revoke: a confirmation step, then revoked.
    new = ProviderApiKey.objects.get(revoked_at__isnull=True)
    revoke_url = reverse("points_ops:catalog_key_revoke", args=[provider.code, new.pk])
    assert (
        operator_client.get(revoke_url).status_code == 200 and services.provider_for_key(second) == provider
    )
    assert operator_client.post(revoke_url)["Location"] == detail_url
    assert services.provider_for_key(second) is None
    # Revoking it again is refused with a message, not an error page.
    response = operator_client.post(revoke_url, follow=True)
    assert response.status_code == 200 and len(audited("points.api_key_revoke")) == 2

    # A key of another provider is not found under this one.
    other = PaymentProvider.objects.create(code="other", name="他", type="qr", modes=["charge"],
                                           callback_url="https://pay.example.jp/x")  # fmt: skip
    url = reverse("points_ops:catalog_key_revoke", args=[other.code, new.pk])
    assert operator_client.post(url).status_code == 404


def test_new_callback_secret_from_the_page(operator_client, provider):
    old = provider.callback_secret
    url = reverse("points_ops:catalog_provider_secret", args=[provider.code])
    assert operator_client.get(url).status_code == 200
    provider.refresh_from_db()
    assert provider.callback_secret == old
    operator_client.post(url)
    provider.refresh_from_db()
    assert provider.callback_secret != old
    detail = reverse("points_ops:catalog_provider", args=[provider.code])
    assert provider.callback_secret in operator_client.get(detail).text
    assert provider.callback_secret not in operator_client.get(detail).text


def test_csrf_is_enforced(provider, operator):
    client = Client(enforce_csrf_checks=True)
    sign_in_staff(client, operator)
    url = reverse("points_ops:catalog_key_issue", args=[provider.code])
    assert client.post(url).status_code == 403
    assert not ProviderApiKey.objects.exists()
    client.get(reverse("points_ops:catalog_provider", args=[provider.code]))  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    assert client.post(url, {"csrfmiddlewaretoken": token}).status_code == 200
    assert ProviderApiKey.objects.count() == 1


def campaign_data(**changes) -> dict:
    return {
        "code": "mynapoint-2020", "name": "マイナポイント事業（2020年度）", "kind": "premium", "rate_percent": "25",
        "cap": "５，０００", "fixed_points": "", "modes": ["charge", "purchase"], "budget": "249,900,000,000",
        "reservation_starts_at": "2020-01-01T00:00", "reservation_ends_at": "2020-08-31T23:59:59",
        "application_starts_at": "2020-07-01T00:00", "application_ends_at": "2021-03-31T23:59:59",
        "earning_starts_at": "2020-09-01T00:00", "earning_ends_at": "2021-03-31T23:59:59",
        "providers": ["sandbox-qr"],
    } | changes  # fmt: skip


def test_create_a_campaign_from_the_page(operator_client, provider):
    url = reverse("points_ops:catalog_campaign_new")
    response = operator_client.post(
        url, campaign_data(earning_starts_at="2020-06-01T00:00", rate_percent="0")
    )
    html = response.text
    assert response.status_code == 200 and not Campaign.objects.exists()
    assert field_is_invalid(html, "earning_starts_at") and field_is_invalid(html, "rate_percent")
    assert 'value="2020-06-01T00:00"' in html and 'value="マイナポイント事業（2020年度）"' in html
    response = operator_client.post(url, campaign_data(rate_percent="12.345", budget="-5", cap="1.5"))
    html = response.text  # the form's own checks (basis points at most; whole, non-negative numbers)
    assert response.status_code == 200 and not Campaign.objects.exists()
    assert all(field_is_invalid(html, name) for name in ("rate_percent", "budget", "cap"))
    assert 'value="-5"' in html and 'value="1.5"' in html

    response = operator_client.post(url, campaign_data())
    assert response.status_code == 302 and response["Location"] == reverse("points_ops:catalog_campaigns")
    campaign = Campaign.objects.get()
    assert (campaign.rate_bp, campaign.cap, campaign.budget) == (2500, 5000, 249_900_000_000)
    assert campaign.application_starts_at == jst(2020, 7, 1)
    assert campaign.reservation_ends_at == jst(2020, 8, 31, 23, 59, 59)
    assert list(campaign.providers.all()) == [provider]
    listing = operator_client.get(response["Location"]).text
    assert "249,900,000,000" in listing and "25%" in listing


def test_edit_a_campaign_from_the_page(operator_client, campaign, provider):
    url = reverse("points_ops:catalog_campaign_edit", args=[campaign.code])
    page = operator_client.get(url).text
    assert 'name="code"' not in page and 'name="rate_percent" value="25"' in page
    enrol(campaign, provider, "acct-1")
    page = operator_client.get(url).text
    assert re.search(r'name="cap" value="5000"[^>]*disabled', page)  # fixed once residents applied

    local, ends = timezone.localtime, campaign.earning_ends_at
    assert ends.microsecond  # else the test below proves nothing
    data = {
        "name": campaign.name, "kind": "premium", "rate_percent": "30", "cap": "6000", "modes": ["charge"],
        "budget": "4999", "providers": ["sandbox-qr"],
        # As the page shows them, to the second (the stored times have fractions: the fixture's "now").
        **{name: local(getattr(campaign, name)).strftime("%Y-%m-%dT%H:%M:%S") for name in catalog.WINDOW_FIELDS},
    }  # fmt: skip
    response = operator_client.post(url, data)
    html = response.text
    assert response.status_code == 200 and field_is_invalid(html, "budget")
    assert 'aria-describedby="id_budget_helptext id_budget_error"' in html and 'value="4999"' in html
    campaign.refresh_from_db()
    assert campaign.budget == 500_000
    # Disabled fields keep their values whatever is posted: the rate, cap and modes did not move.
    response = operator_client.post(url, data | {"budget": "600,000"})
    assert response.status_code == 302, response.context["form"].errors
    campaign.refresh_from_db()
    assert (campaign.budget, campaign.rate_bp, campaign.cap, campaign.modes) == (600_000, 2500, 5000,
                                                                                   ["charge", "purchase"])  # fmt: skip
    assert campaign.reserved_budget == 5000 and campaign.earning_ends_at.microsecond == ends.microsecond

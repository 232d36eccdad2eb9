"""Fixtures for マイナポイント: a campaign open now, the sandbox provider, residents with MyKey IDs, and the
provider callback routed through Django's test client (the same HTTP protocol, no network)."""

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from madoguchi.identity.models import Resident, User
from madoguchi.points import providers
from madoguchi.points.models import Campaign, PaymentProvider
from madoguchi.sandboxpay.models import SandboxAccount


@pytest.fixture(autouse=True)
def _callback_through_test_client(monkeypatch):
    client = Client()

    def transport(url, body, headers):
        path = url.split("://", 1)[-1].split("/", 1)[-1]
        response = client.post("/" + path, data=body, content_type="application/json",
                               headers={k: v for k, v in headers.items() if k != "Content-Type"})  # fmt: skip
        return response.status_code, response.content

    monkeypatch.setattr(providers, "transport", transport)


@pytest.fixture
def provider(db) -> PaymentProvider:
    return PaymentProvider.objects.create(
        code="sandbox-qr", name="サンドボックスQR", type=PaymentProvider.Type.QR, modes=["charge", "purchase"],
        callback_url="http://testserver/sandbox-pay/sandbox-qr/confirm", callback_secret=secrets.token_hex(16),
    )  # fmt: skip


@pytest.fixture
def campaign(provider) -> Campaign:
    now = timezone.now()
    c = Campaign.objects.create(
        code="test-2020", name="マイナポイント（テスト）", kind=Campaign.Kind.PREMIUM, rate_bp=2500, cap=5000,
        modes=["charge", "purchase"], budget=5000 * 100,
        reservation_starts_at=now - timedelta(days=30), reservation_ends_at=now + timedelta(days=30),
        application_starts_at=now - timedelta(days=30), application_ends_at=now + timedelta(days=30),
        earning_starts_at=now - timedelta(days=30), earning_ends_at=now + timedelta(days=30),
    )  # fmt: skip
    c.providers.add(provider)
    return c


_counter = iter(range(10_000_000))


def make_resident(mykey: bool = True) -> Resident:
    n = next(_counter)
    user = User.objects.create(username=f"resident-test-{n}-{secrets.token_hex(3)}")
    return Resident.objects.create(user=user, mykey_id=f"T{n:07d}" if mykey else None)


def sandbox_account(provider, account: str, code: str = "123") -> SandboxAccount:
    return SandboxAccount.objects.create(provider_code=provider.code, account=account, security_code=code)


def enrol_accounts(campaign, provider, n: int) -> list[str]:
    """n residents reserved and applied (charge) with accounts acct-0 … acct-{n-1}, confirmed by the sandbox."""
    from madoguchi.points import services
    from madoguchi.points.services import ApplicationRequest

    names = []
    for k in range(n):
        sandbox_account(provider, f"acct-{k}")
        resident = make_resident()
        services.reservation_create(resident=resident, campaign=campaign, actor=None)
        services.application_submit(resident=resident, campaign=campaign, actor=None,
                                    request=ApplicationRequest(provider, "charge", f"acct-{k}", f"acct-{k}", "123"))  # fmt: skip
        names.append(f"acct-{k}")
    return names


# --- The 2020 campaign at its own dates (settlement tests): a clock stopped on 2020-09-01 JST ---------------------
JST = ZoneInfo("Asia/Tokyo")


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=JST)


@pytest.fixture
def clock():
    with time_machine.travel(at(2020, 9, 1), tick=False) as traveller:
        yield traveller


@pytest.fixture
def campaign2020(clock, provider) -> Campaign:
    c = Campaign.objects.create(
        code="mp-2020", name="マイナポイント（2020）", kind=Campaign.Kind.PREMIUM, rate_bp=2500, cap=5000,
        modes=["charge", "purchase"], budget=5000 * 100,
        reservation_starts_at=at(2020, 7, 1, 0), reservation_ends_at=at(2021, 3, 31, 23),
        application_starts_at=at(2020, 7, 1, 0), application_ends_at=at(2021, 3, 31, 23),
        earning_starts_at=at(2020, 9, 1, 0), earning_ends_at=at(2021, 3, 31, 23),
    )  # fmt: skip
    c.providers.add(provider)
    return c


@pytest.fixture
def key(campaign, provider):
    """An Authorization header with a new API key of the provider, whose accounts acct-1 and acct-2 belong to
    residents who applied."""
    from madoguchi.points import services
    from madoguchi.points.tests.test_flow import apply  # test_flow imports this module

    for account in ("acct-1", "acct-2"):
        sandbox_account(provider, account)
        apply(make_resident(), campaign, provider, account=account)
    return f"Bearer {services.api_key_issue(provider=provider, actor=None)}"

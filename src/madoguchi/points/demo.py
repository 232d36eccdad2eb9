"""Demo data of マイナポイント: the real 2020 campaign, the 2022 fixed-grant variants, a campaign open now,
three sandbox payment services with their customers, and one provider API key."""

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from madoguchi.core.demo import DemoSignIn
from madoguchi.points import services
from madoguchi.points.models import Campaign, PaymentProvider, ProviderApiKey

JST = ZoneInfo("Asia/Tokyo")


def _jst(y: int, m: int, d: int, end: bool = False) -> datetime:
    return datetime(y, m, d, 23, 59, 59, tzinfo=JST) if end else datetime(y, m, d, tzinfo=JST)


PROVIDERS = [
    ("sandbox-qr", "サンドボックスQR払い", PaymentProvider.Type.QR, ["charge", "purchase"]),
    ("sandbox-emoney", "サンドボックス電子マネー", PaymentProvider.Type.EMONEY, ["charge"]),
    ("sandbox-card", "サンドボックスカード", PaymentProvider.Type.CREDIT, ["purchase"]),
]
SANDBOX_ACCOUNTS = [("sandbox-qr", f"QR-{n:04d}", "123") for n in range(1, 6)] + [
    ("sandbox-emoney", f"EM-{n:04d}", "456") for n in range(1, 6)
] + [("sandbox-card", f"CARD-{n:04d}", "789") for n in range(1, 6)]  # fmt: skip


def _campaigns(now: datetime) -> list[dict]:
    return [
        # The deck's phase 1 (2020): 25 %, 5,000 points, budget 2,478億円 (FY2020) + 21億円 (FY2019 supplementary).
        dict(code="mynapoint-2020", name="マイナポイント事業（2020年度）", kind=Campaign.Kind.PREMIUM, rate_bp=2500,
             cap=5000, modes=["charge", "purchase"], budget=247_800_000_000 + 2_100_000_000,
             reservation_starts_at=_jst(2020, 1, 1), reservation_ends_at=_jst(2020, 8, 31, end=True),
             application_starts_at=_jst(2020, 7, 1), application_ends_at=_jst(2021, 3, 31, end=True),
             earning_starts_at=_jst(2020, 9, 1), earning_ends_at=_jst(2021, 3, 31, end=True)),
        # Phase 2 (2022–23): fixed grants for qualifying actions.
        dict(code="mynapoint-2022-card", name="マイナポイント第2弾：マイナンバーカードの新規取得", kind=Campaign.Kind.FIXED,
             cap=5000, fixed_points=5000, modes=["charge", "purchase"], budget=5000 * 40_000_000,
             application_starts_at=_jst(2022, 6, 30), application_ends_at=_jst(2023, 9, 30, end=True),
             earning_starts_at=_jst(2022, 6, 30), earning_ends_at=_jst(2023, 10, 31, end=True)),
        dict(code="mynapoint-2022-insurance", name="マイナポイント第2弾：健康保険証としての利用申込み",
             kind=Campaign.Kind.FIXED, cap=7500, fixed_points=7500, modes=["charge", "purchase"],
             budget=7500 * 40_000_000, application_starts_at=_jst(2022, 6, 30),
             application_ends_at=_jst(2023, 9, 30, end=True), earning_starts_at=_jst(2022, 6, 30),
             earning_ends_at=_jst(2023, 10, 31, end=True)),
        dict(code="mynapoint-2022-koukin", name="マイナポイント第2弾：公金受取口座の登録", kind=Campaign.Kind.FIXED,
             cap=7500, fixed_points=7500, modes=["charge", "purchase"], budget=7500 * 40_000_000,
             application_starts_at=_jst(2022, 6, 30), application_ends_at=_jst(2023, 9, 30, end=True),
             earning_starts_at=_jst(2022, 6, 30), earning_ends_at=_jst(2023, 10, 31, end=True)),
        # Open now, so that every step can be tried in the demo (same rules as 2020, a small budget).
        dict(code="demo-open", name="デモ用キャンペーン（受付中）", kind=Campaign.Kind.PREMIUM, rate_bp=2500, cap=5000,
             modes=["charge", "purchase"], budget=5000 * 1000,
             reservation_starts_at=now - timedelta(days=1), reservation_ends_at=now + timedelta(days=365),
             application_starts_at=now - timedelta(days=1), application_ends_at=now + timedelta(days=365),
             earning_starts_at=now - timedelta(days=1), earning_ends_at=now + timedelta(days=400)),
    ]  # fmt: skip


@transaction.atomic
def load_demo(*, stdout) -> list[DemoSignIn]:
    from madoguchi.sandboxpay.models import SandboxAccount

    providers = []
    for code, name, type_, modes in PROVIDERS:
        provider, _ = PaymentProvider.objects.get_or_create(
            code=code,
            defaults={"name": name, "type": type_, "modes": modes, "callback_secret": secrets.token_hex(16),
                      "callback_url": f"http://localhost:8000/sandbox-pay/{code}/confirm"},
        )  # fmt: skip
        providers.append(provider)
    for provider_code, account, security_code in SANDBOX_ACCOUNTS:
        SandboxAccount.objects.get_or_create(provider_code=provider_code, account=account,
                                             defaults={"security_code": security_code})  # fmt: skip
    now = timezone.now()
    for fields in _campaigns(now):
        campaign, created = Campaign.objects.get_or_create(code=fields["code"], defaults=fields)
        if created:
            campaign.providers.set(providers)
    sign_ins = []
    qr = providers[0]
    if not ProviderApiKey.objects.filter(provider=qr, revoked_at__isnull=True).exists():
        key = services.api_key_issue(provider=qr, actor=None)
        sign_ins.append(DemoSignIn("http://localhost:8000/api/v1/points/", "sandbox-qr API key", key,
                                   "shown once: Authorization: Bearer <key>"))  # fmt: skip
    stdout.write(f"マイナポイント: {len(PROVIDERS)} sandbox payment services, {Campaign.objects.count()} campaigns; "
                 f"sandbox accounts QR-0001…/123, EM-0001…/456, CARD-0001…/789.")  # fmt: skip
    return sign_ins

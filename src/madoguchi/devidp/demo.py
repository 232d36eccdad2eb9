"""Demo data of the development provider: the platform's own client and four GビズID accounts.

Idempotent. Everything is invented: the corporate numbers are built on the base 9999xxxxxxxx with a valid
check digit (not checked against the national register, so treat them as synthetic), the phone numbers have
a local part starting with 0 (never assigned) and the mail addresses use the reserved .example domain.
"""

import uuid

from django.conf import settings
from django.db import transaction

from madoguchi.core.codes import corporate_number_check_digit
from madoguchi.core.demo import DemoSignIn
from madoguchi.devidp import services
from madoguchi.devidp.models import DemoAccount

SIGN_IN_URL = "http://localhost:8000/business/sign-in/"
REDIRECT_URIS = ["http://localhost:8000/business/callback/", "http://127.0.0.1:8000/business/callback/"]
AccountType, CorpType = DemoAccount.AccountType, DemoAccount.CorpType


def synthetic_corporate_number(serial: int) -> str:
    base = f"9999{serial:08d}"
    return corporate_number_check_digit(base) + base


TECH = {
    "corp_type": CorpType.CORPORATION,
    "corporate_number": synthetic_corporate_number(1),
    "corporate_name": "株式会社窓口テック",
    "prefecture": "東京都",
    "address": "千代田区窓口町一丁目2番3号",
    "representative_name": "窓口 太郎",
}
MINATO = {
    "corp_type": CorpType.CORPORATION,
    "corporate_number": synthetic_corporate_number(2),
    "corporate_name": "合同会社みなと製作所",
    "prefecture": "大阪府",
    "address": "大阪市北区みなと町4番5号",
    "representative_name": "港 次郎",
}
YAMADA = {
    "corp_type": CorpType.SOLE_PROPRIETOR,
    "corporate_number": "",
    "corporate_name": "やまだ珈琲",
    "prefecture": "北海道",
    "address": "札幌市中央区珈琲通6番",
    "representative_name": "山田 一郎",
}

DEMO_ACCOUNTS = [
    ("tech-prime", AccountType.PRIME, TECH,
     {"user_name": "窓口 太郎", "user_department": "代表取締役", "user_phone": "03-0000-0001",
      "email": "taro@madoguchi-tech.example"}),
    ("tech-member", AccountType.MEMBER, TECH,
     {"user_name": "窓口 花子", "user_department": "経理部", "user_phone": "03-0000-0002",
      "email": "hanako@madoguchi-tech.example"}),
    ("minato-entry", AccountType.ENTRY, MINATO,
     {"user_name": "港 次郎", "user_department": "総務部", "user_phone": "06-0000-0003",
      "email": "jiro@minato-works.example"}),
    ("yamada-prime", AccountType.PRIME, YAMADA,
     {"user_name": "山田 一郎", "user_department": "", "user_phone": "011-000-0004",
      "email": "ichiro@yamada-coffee.example"}),
]  # fmt: skip


def demo_subject(key: str) -> str:
    # Stable across reloads, opaque like a real `sub`.
    return uuid.uuid5(uuid.NAMESPACE_URL, f"https://madoguchi.example/dev-idp/{key}").hex


@transaction.atomic
def load_demo(*, stdout) -> list[DemoSignIn]:
    if not settings.GBIZID_CLIENT_SECRET:
        stdout.write("Development GビズID: GBIZID_CLIENT_SECRET is empty, no client registered.")
        return []
    services.client_register(
        client_id=settings.GBIZID_CLIENT_ID,
        secret=settings.GBIZID_CLIENT_SECRET,
        name=settings.MADOGUCHI_SITE_NAME,
        redirect_uris=REDIRECT_URIS,
    )
    sign_ins = []
    for order, (key, account_type, business, person) in enumerate(DEMO_ACCOUNTS):
        account, _created = DemoAccount.objects.update_or_create(
            key=key,
            defaults={"subject": demo_subject(key), "sort_order": order, "account_type": account_type,
                      **business, **person},
        )  # fmt: skip
        sign_ins.append(
            DemoSignIn(
                SIGN_IN_URL,
                key,
                "(no password)",
                f"GビズID {account.get_account_type_display()} — {account.corporate_name}",
            )
        )
    services.signing_key()
    stdout.write(f"Development GビズID: client {settings.GBIZID_CLIENT_ID!r}, {len(DEMO_ACCOUNTS)} accounts.")
    return sign_ins

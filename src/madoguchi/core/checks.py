"""`madoguchi check`: warnings about a zone set-up that breaks the 三層の対策 rules."""

import os

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from madoguchi.core.zones import Zone


@register(Tags.security, deploy=False)
def zone_rules(app_configs, **kwargs):
    zone = settings.MADOGUCHI_ZONE
    problems = []
    if not zone.may_read_vault and os.environ.get("VAULT_DATABASE_URL"):
        problems.append(Error(
            f"The {zone} zone has been given VAULT_DATABASE_URL. / 個人番号利用事務系以外の系に個人番号の保管庫の接続先が設定されています。",
            hint=f"Unset VAULT_DATABASE_URL for the {zone}-zone process; only the mynumber zone may reach it.",
            id="madoguchi.E001",
        ))  # fmt: skip
    if not zone.may_read_vault and settings.DATABASES["vault"].get("ENGINE") != "django.db.backends.dummy":
        problems.append(Error(f"The {zone} zone can reach the vault database.", id="madoguchi.E002"))
    if (
        zone in (Zone.LGWAN, Zone.MYNUMBER)
        and getattr(settings, "JPKI_CARD_SIMULATOR", False)
        and settings.PRODUCTION
    ):
        problems.append(Warning("The card simulator is on in a back-office zone.", id="madoguchi.W003"))
    if (
        zone is Zone.MYNUMBER
        and settings.PRODUCTION
        and settings.DATABASES["vault"]["ENGINE"].endswith("sqlite3")
    ):
        problems.append(Warning(
            "The My Number zone keeps the vault in SQLite.",
            hint="Use a separate PostgreSQL database for VAULT_DATABASE_URL.", id="madoguchi.W004",
        ))  # fmt: skip
    if (
        settings.PRODUCTION
        and zone is not Zone.ALL
        and settings.DATABASES["vault"] == settings.DATABASES["default"]
    ):
        problems.append(
            Warning("The vault and the main database are the same database.", id="madoguchi.W005")
        )
    return problems

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


def _sealing_key_problem(value: str, kind: str) -> str | None:
    """Why a sealing key setting is unusable (None if it is fine). Imported late: core imports no app."""
    from madoguchi.vault import sealing

    try:
        sealing.public_key_of(value) if kind == "private" else sealing.seal("0" * 12, value, "check")
    except ValueError as exc:
        return str(exc)
    return None


@register(Tags.security, deploy=False)
def sealing_rules(app_configs, **kwargs):
    """The sealed hand-over of My Numbers (vault/sealing.py): the private key only where the vault is."""
    zone = settings.MADOGUCHI_ZONE
    public = getattr(settings, "MYNUMBER_SEALING_PUBLIC_KEY", "")
    private = getattr(settings, "MYNUMBER_SEALING_PRIVATE_KEY", "")
    problems = []
    if not zone.may_read_vault and os.environ.get("MYNUMBER_SEALING_PRIVATE_KEY"):
        problems.append(Error(
            f"The {zone} zone has been given MYNUMBER_SEALING_PRIVATE_KEY. / 個人番号利用事務系以外の系に封緘の秘密鍵が設定されています。",
            hint=f"Unset it for the {zone}-zone process; only the mynumber zone may open sealed My Numbers.",
            id="madoguchi.E006",
        ))  # fmt: skip
    for kind, value in (("public", public), ("private", private)):
        reason = _sealing_key_problem(value, kind) if value else None
        if reason:
            problems.append(Error(f"MYNUMBER_SEALING_{kind.upper()}_KEY: {reason}", id="madoguchi.E007"))
    if public and private and not problems:
        from madoguchi.vault.sealing import public_key_of

        if public_key_of(private) != public.strip():
            problems.append(Error(
                "MYNUMBER_SEALING_PUBLIC_KEY does not belong to MYNUMBER_SEALING_PRIVATE_KEY.",
                hint="Set both from one `madoguchi vault sealing-keygen`.", id="madoguchi.E008",
            ))  # fmt: skip
    if zone is Zone.INTERNET and settings.PRODUCTION and not public:
        problems.append(Warning(
            "The Internet zone has no MYNUMBER_SEALING_PUBLIC_KEY: forms with a My Number field are refused.",
            hint="Set the My Number zone's public key (`madoguchi vault sealing-keygen`), or accept My Number"
            " procedures at the counter only.", id="madoguchi.W009",
        ))  # fmt: skip
    return problems

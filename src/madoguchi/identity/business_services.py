"""Writes about businesses that sign in with GビズID."""

import hashlib

from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from madoguchi.core import audit
from madoguchi.core.codes import validate_corporate_number
from madoguchi.identity.models import Business, BusinessAccount, User

BUSINESS_FIELDS = {  # Business field ← claim of scope `profile`
    "name": "name",
    "prefecture": "prefecture",
    "address": "address",
    "representative_name": "representative_name",
}


def _claim(claims: dict, name: str) -> str:
    value = claims.get(name)
    return "" if value is None else str(value).strip()


def _choice(claims: dict, name: str, choices) -> int:
    try:
        value = int(_claim(claims, name))
    except ValueError:
        value = None
    if value not in choices.values:
        raise ValidationError(
            _("GビズID sent no valid %(claim)s."), code="invalid_claims", params={"claim": name}
        )
    return value


def _account_for_update(issuer: str, subject: str) -> BusinessAccount | None:
    return (
        BusinessAccount.objects.select_for_update().select_related("business", "user")
        .filter(issuer=issuer, subject=subject).first()
    )  # fmt: skip


def business_username(issuer: str, subject: str) -> str:
    """A user name derived from (issuer, sub): stable, unique, and free of personal data."""
    digest = hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()[:32]
    return f"gbizid-{digest}"


@transaction.atomic
def business_sign_in(*, issuer: str, claims: dict, actor=None) -> BusinessAccount:
    """Record a GビズID sign-in: upsert the Business and the BusinessAccount, and the account's Django user.

    `claims` are the validated ID token's `sub` merged with the userinfo claims. A 法人 (corp_type 1) is keyed
    by its corporate number, so every account of one 法人 (プライム, メンバー…) joins the same Business; a
    個人事業主 (corp_type 2) has no corporate number, so each account keeps a Business of its own. The latest
    sign-in refreshes the business and person details.

    Raises ValidationError (code "invalid_claims", "corporate_number_format", "corporate_number_check_digit")
    when the claims cannot identify the business, PermissionDenied when the local user is deactivated.
    One transaction; audited as "identity.business_sign_in" with no personal data but the corporate number.
    """
    subject = _claim(claims, "sub")
    if not subject or not issuer:
        raise ValidationError(_("GビズID sent no account identifier."), code="invalid_claims")
    account_type = _choice(claims, "account_type", BusinessAccount.AccountType)
    corp_type = _choice(claims, "corp_type", Business.CorpType)
    corporate_number = _claim(claims, "corporate_number") or None
    if corp_type == Business.CorpType.CORPORATION:
        if corporate_number is None:
            raise ValidationError(
                _("GビズID sent no corporate number for a corporation."), code="invalid_claims"
            )
        validate_corporate_number(corporate_number)
    else:
        corporate_number = None  # a 個人事業主 has none; ignore anything sent
    if not _claim(claims, "name"):
        raise ValidationError(_("GビズID sent no business name."), code="invalid_claims")
    details = {key: _claim(claims, claim) for key, claim in BUSINESS_FIELDS.items()}
    # Field lengths and the check digit, before anything is written (PostgreSQL would refuse an overlong
    # value only at INSERT time, SQLite never).
    Business(corporate_number=corporate_number, corp_type=corp_type, **details).full_clean(
        validate_unique=False
    )

    account = _account_for_update(issuer, subject)
    if account is not None and not account.user.is_active:
        raise PermissionDenied(_("This business account has been suspended on this platform."))

    if corporate_number is not None:
        business, business_created = Business.objects.get_or_create(
            corporate_number=corporate_number, defaults={"corp_type": corp_type, **details}
        )
    elif account is not None and account.business.corp_type == Business.CorpType.SOLE_PROPRIETOR:
        business, business_created = account.business, False
    else:
        business, business_created = Business.objects.create(corp_type=corp_type, **details), True
    if not business_created:
        changed = [field for field, value in details.items() if value and getattr(business, field) != value]
        for field in changed:
            setattr(business, field, details[field])
        if changed:
            business.save(update_fields=[*changed, "updated_at"])

    person = {
        "name": _claim(claims, "user_name"),
        "department": _claim(claims, "user_department"),
        "email": _claim(claims, "email"),
    }
    if person["email"]:
        try:
            validate_email(person["email"])
        except ValidationError:
            person["email"] = ""  # an odd address must not lock a business out; it is only for notices
    display_name = person["name"] or business.name
    account_created = False
    if account is None:
        # The user name is derived from (issuer, sub): two first sign-ins racing each other meet on the
        # unique user name, and the loser finds the winner's account below.
        user, user_created = User.objects.get_or_create(
            username=business_username(issuer, subject),
            defaults={
                "display_name": display_name,
                "email": person["email"],
                "password": make_password(None),
            },
        )
        account = None if user_created else _account_for_update(issuer, subject)
        if account is None:
            account = BusinessAccount(user=user, issuer=issuer, subject=subject)
            account_created = True
    user = account.user
    if not account_created and (user.display_name, user.email) != (display_name, person["email"]):
        user.display_name, user.email = display_name, person["email"]
        user.save(update_fields=["display_name", "email"])
    account.business = business
    account.account_type = account_type
    account.name, account.department, account.email = person["name"], person["department"], person["email"]
    account.last_sign_in_at = timezone.now()
    account.full_clean(exclude=["user", "business"], validate_unique=False, validate_constraints=False)
    account.save()

    audit.record(
        actor=actor if actor is not None else account.user,
        action="identity.business_sign_in",
        target=account,
        details={
            "issuer": issuer,
            "corporate_number": corporate_number,
            "corp_type": corp_type,
            "account_type": account_type,
            "business_id": business.pk,
            "business_created": business_created,
            "account_created": account_created,
        },
    )
    return account

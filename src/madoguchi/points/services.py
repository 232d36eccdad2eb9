"""マイナポイント state changes: reservation, application, transactions and refunds from providers, fixed grants.

Each function is one transaction with its audit record. Invariants are the database's (see models.py); the
Python checks before them only turn a refusal into a clear message.
"""

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from madoguchi.core import audit, fastsql
from madoguchi.identity import resident_services
from madoguchi.identity.models import Resident, ResidentCertificate
from madoguchi.points import calc, ingest, providers
from madoguchi.points.models import (
    AccountHolder,
    Application,
    Campaign,
    FixedGrant,
    Mode,
    PaymentProvider,
    PointAccount,
    ProviderApiKey,
    ProviderTransaction,
    Reservation,
)

MAX_ITEMS = 10_000
_MODES = frozenset(Mode.values)
MAX_AMOUNT = 100_000_000  # yen in one charge or purchase: anything above is a data error, not spending
Status = ProviderTransaction.Status


class PointsError(Exception):
    """A refusal with a stable code and a Japanese-first message (shown on pages and in API errors)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _audit(*, actor, action: str, target, desk=None, details: dict | None = None, stream: str | None = None):
    """At the desk the record goes to the municipality's chain (naming clerk and resident); otherwise to
    `stream` (a sharded chain for high-volume steps) or the platform chain."""
    details = dict(details or {})
    municipality = None
    if desk is not None:
        details |= {"desk_session": desk.pk, "resident": desk.resident_id}
        municipality, stream = desk.municipality, None
    return audit.record(actor=actor, action=action, target=target, municipality=municipality, details=details,
                        stream=stream)  # fmt: skip


def _within(start: datetime | None, end: datetime | None, at: datetime) -> bool:
    return (start is None or start <= at) and (end is None or at <= end)


# --- Reservation -------------------------------------------------------------------------------------------
def reservation_create(
    *, resident: Resident, campaign: Campaign, actor, desk=None, representative: Resident | None = None
) -> Reservation:
    """予約. Needs a MyKey ID. Closes automatically once reservations × cap reach the budget (the campaign row
    is locked, and a CHECK keeps reservations × cap ≤ budget even if this check were skipped).
    `representative`: the legal representative reserving for a child under 15 (see child_reserve)."""
    if campaign.kind != Campaign.Kind.PREMIUM:
        raise PointsError("no_reservations", _("This campaign takes no reservations."))
    if not resident.mykey_id:
        raise PointsError("no_mykey_id", _("Set up your MyKey ID first."))
    now = timezone.now()
    if not _within(campaign.reservation_starts_at, campaign.reservation_ends_at, now):
        raise PointsError("reservation_closed", _("Reservations for this campaign are not open now."))
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        existing = Reservation.objects.filter(campaign=locked, resident=resident).first()
        if existing is not None:
            return existing
        if locked.reservations >= locked.reservation_capacity:
            raise PointsError(
                "reservations_full", _("Reservations have closed: the campaign's budget is fully reserved.")
            )
        reservation = Reservation.objects.create(campaign=locked, resident=resident, desk_session=desk)
        Campaign.objects.filter(pk=locked.pk).update(reservations=F("reservations") + 1)
        _audit(actor=actor, action="points.reservation_create", target=reservation, desk=desk,
               details={"campaign": locked.code}
                       | ({"representative": representative.pk} if representative else {}))  # fmt: skip
    return reservation


# --- Application -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApplicationRequest:
    provider: PaymentProvider
    mode: str
    service_account: str
    service_account_confirm: str
    security_code: str


def _application_facts(
    campaign: Campaign, resident: Resident, provider: PaymentProvider
) -> tuple[bool, bool, bool]:
    """(provider takes part and is active, resident reserved, resident already applied) in one SELECT."""
    with connection.cursor() as cursor:
        cursor.execute(_FACTS_SQL, [campaign.pk, provider.pk, True, campaign.pk, resident.pk, campaign.pk,
                                    resident.pk])  # fmt: skip
        eligible, reserved, applied = cursor.fetchone()
    return bool(eligible), bool(reserved), bool(applied)


def _check_application(resident: Resident, campaign: Campaign, req: ApplicationRequest) -> tuple[str, bool]:
    """The account as entered (stripped) and whether the resident has applied already, or a PointsError."""
    account = req.service_account.strip()
    if not account or len(account) > 64:
        raise PointsError("account_required", _("Enter the payment service ID (決済サービスID)."))
    if account != req.service_account_confirm.strip():
        raise PointsError("account_mismatch", _("The two payment service IDs you entered do not match."))
    if not req.security_code.strip():
        raise PointsError("security_code_required", _("Enter the security code of the payment service."))
    eligible, reserved, applied = _application_facts(campaign, resident, req.provider)
    if not eligible:
        raise PointsError(
            "provider_not_eligible", _("This payment service does not take part in the campaign.")
        )
    if req.mode not in campaign.modes or req.mode not in req.provider.modes:
        raise PointsError(
            "mode_not_eligible", _("This payment service does not offer that mode in the campaign.")
        )
    now = timezone.now()
    if not _within(campaign.application_starts_at, campaign.application_ends_at, now):
        raise PointsError("application_closed", _("Applications for this campaign are not open now."))
    if not resident.mykey_id:
        raise PointsError("no_mykey_id", _("Set up your MyKey ID first."))
    if campaign.kind == Campaign.Kind.PREMIUM and not reserved:
        raise PointsError("not_reserved", _("Reserve first (予約), then apply."))
    return account, applied


def application_submit(
    *, resident: Resident, campaign: Campaign, request: ApplicationRequest, actor, desk=None,
    representative: Resident | None = None,
) -> Application:  # fmt: skip
    """申込み: final and irrevocable. The provider confirms the account over HTTP first (outside the database
    transaction); then the application and its point account are written, and the cap is reserved from the
    budget with one conditional UPDATE of the campaign row; the UNIQUE constraints refuse a second
    application or an account already registered by someone else (in this campaign by UNIQUE, in any campaign
    by the account's holder row, `AccountHolder`), the CHECK a budget overrun. The application counts for the
    resident's own municipality (its dashboard); the desk that served them is recorded beside it."""
    account, applied = _check_application(resident, campaign, request)
    if applied:
        raise PointsError(
            "already_applied", _("You have already applied for this campaign; it cannot be changed.")
        )
    confirmation = providers.confirm_account(
        provider=request.provider,
        campaign=campaign,
        account=account,
        security_code=request.security_code.strip(),
    )
    taken = _("This payment service account is already registered by another person.")
    if not confirmation.confirmed:
        raise PointsError("account_not_confirmed",
                          _("The payment service did not confirm this account and security code. Check them and try again."))  # fmt: skip
    try:
        with transaction.atomic():
            # fastsql: the launch rush's INSERTs, built once (see core/fastsql.py), the same rows as create().
            application = Application(
                campaign=campaign, resident=resident, provider=request.provider, mode=request.mode,
                service_account=account, representative=representative, desk_session=desk,
                clerk_id=desk.clerk_id if desk is not None else None,
                municipality_id=resident.municipality_id or (desk.municipality_id if desk is not None else None),
            )  # fmt: skip
            point_account = PointAccount(
                application=application, campaign=campaign, provider=request.provider, service_account=account,
                mode=request.mode, cap=campaign.cap, enrolled_at=timezone.now(),
            )  # fmt: skip
            # One provider account, one holder, across campaigns: claim it, or find who holds it (one statement;
            # a concurrent claim of the same account waits for the other transaction, then sees its holder).
            with connection.cursor() as cursor:
                cursor.execute(
                    _HOLDER_SQL, [request.provider.pk, account, resident.pk, _db_value(timezone.now())]
                )
                holder = cursor.fetchone()[0]
            if holder != resident.pk:
                raise PointsError("account_taken", taken)
            # Both rows in one statement on PostgreSQL: one round trip fewer on the launch rush's path.
            fastsql.insert_with_child(application, point_account, link="application")
            _audit(actor=actor, action="points.application_submit", target=application, desk=desk,
                   stream=audit.sharded_stream(f"c{campaign.pk}", str(resident.pk)),
                   details={"campaign": campaign.code, "provider": request.provider.code, "mode": request.mode,
                            "representative": representative.pk if representative else None})  # fmt: skip
            # Reserve the cap from the budget last, with one conditional UPDATE: the campaign row (the launch
            # rush's one hot row) is locked only from here to the commit, and the CHECK constraint backs it up.
            # Only if the cap is still the one copied into the point account above: an operator may have changed
            # it (before applications opened) while this application waited for the provider's answer.
            with connection.cursor() as cursor:
                cursor.execute(_RESERVE_SQL, [campaign.pk, point_account.cap])
                reserved = cursor.rowcount
            if not reserved:
                if (
                    Campaign.objects.filter(pk=campaign.pk).values_list("cap", flat=True).first()
                    != point_account.cap
                ):
                    raise PointsError("campaign_changed", _("The campaign's terms changed while you applied. Please "
                                                            "check them and apply again."))  # fmt: skip
                raise PointsError(
                    "budget_exhausted",
                    _("The campaign's budget is fully reserved; no more applications are accepted."),
                )
    except IntegrityError:
        if Application.objects.filter(campaign=campaign, resident=resident).exists():
            raise PointsError(
                "already_applied", _("You have already applied for this campaign; it cannot be changed.")
            ) from None
        raise PointsError("account_taken", taken) from None
    return application


# --- A child under 15, through the legal representative ----------------------------------------------------
CHILD_AGE_LIMIT = 15
CHILD_STATEMENT = (
    "法定代理人として15歳未満の子のマイナポイントを申し込みます。 / "
    "As legal representative I apply for My Number Points for a child under 15."
)


def child_statement(*, representative: Resident, child: Resident) -> bytes:
    """What the child's card signs (signing certificate) when the representative presents it: it names both
    residents, so the signature cannot serve another representative or another child."""
    return f"{CHILD_STATEMENT}\nrepresentative:{representative.pk}\nchild:{child.pk}\n".encode()


def age_on(date_of_birth: date, on: date) -> int:
    """Whole years of age on `on`. Under 年齢計算ニ関スル法律 a year is completed at the end of the day before
    the birthday, i.e. the age goes up on the birthday itself; born on 29 February, on 1 March in common years."""
    return on.year - date_of_birth.year - ((on.month, on.day) < (date_of_birth.month, date_of_birth.day))


@dataclass(frozen=True)
class ChildIdentity:
    """A child identified by the representative with the child's card, and where the age came from.

    Kept in the representative's (server-side) session between the card step and the application for a short
    while; never written to the database, except the facts in the `points.child_identify` audit record."""

    representative_id: int
    child_id: int
    date_of_birth: date
    certificate: str  # serial of the child's signing certificate the date of birth was read from
    child_name: str  # from the same certificate, only to show the representative whose card this is

    def as_session(self) -> dict:
        return {"representative": self.representative_id, "child": self.child_id,
                "date_of_birth": self.date_of_birth.isoformat(), "certificate": self.certificate,
                "name": self.child_name}  # fmt: skip

    @classmethod
    def from_session(cls, data: dict) -> "ChildIdentity":
        return cls(data["representative"], data["child"], date.fromisoformat(data["date_of_birth"]),
                   data["certificate"], data.get("name", ""))  # fmt: skip

    def age(self, on: date | None = None) -> int:
        return age_on(self.date_of_birth, on or timezone.localdate())


def _refuse_if_not_a_child(date_of_birth: date) -> int:
    age = age_on(date_of_birth, timezone.localdate())
    if age >= CHILD_AGE_LIMIT:
        raise PointsError(
            "child_not_under_15",
            _("The holder of this card is 15 or older. Residents aged 15 or more apply for themselves, "
              "with their own card and PIN; a representative can apply only for a child under 15."),
        )  # fmt: skip
    return age


def child_check_card(*, representative: Resident, child: Resident) -> None:
    """Refuse the representative's own card as the child's (before the card is asked to sign anything)."""
    if child.pk == representative.pk:
        raise PointsError("child_is_representative",
                          _("This is your own card. Present your child's My Number Card."))  # fmt: skip


def child_identify(
    *, representative: Resident, child: Resident, signature: bytes, actor, mykey_signature: bytes | None = None,
    desk=None,
) -> ChildIdentity:  # fmt: skip
    """The representative (signed in with their own card) presents their child's card.

    `child` is the resident whose user-authentication certificate answered a challenge (the child's card and
    its PIN: `card_simulator.sign_in` in development, the JPKI sign-in API with a card reader in production).
    The caller passes only a resident verified that way; this service never signs anybody in.

    How the age is established. The user-authentication certificate carries no personal data, and a date of
    birth typed by the representative is not evidence. The one source the platform trusts is the 基本4情報 of a
    JPKI signing certificate verified against the trust anchors (chain, validity, CRL). So the child's card
    signs `child_statement(representative, child)` with its signing key (the password the legal representative
    set for the child): the signature proves the certificate is on the card presented, the statement binds it
    to this representative and this child, and the certificate gives the date of birth. The signing
    certificate must not already belong to another resident, and must match the child's holder key if the
    child has one (a card from one child and a signature from another are refused). The age is counted on the
    application date in Japan; 15 or more is refused (they apply themselves), and checked again on submission.

    Limitation: a real under-15 card usually has no signing certificate (J-LIS issues it only on request). The
    age of such a child cannot be established online from data the platform holds; the demo cards all carry
    one. A J-LIS lookup of the 基本4情報 by the user-authentication certificate, or the desk (where the clerk
    sees the card's face), would be the source for those children; neither is built.

    MyKey ID: if the child has none, `mykey_signature` (the child's card over
    `resident_services.mykey_statement(child)`) sets it up through `mykey_id_issue`, recorded with the
    representative as actor.
    """
    child_check_card(representative=representative, child=child)
    statement = child_statement(representative=representative, child=child)
    try:
        verified = resident_services.document_signature_verify(signature=signature, content=statement)
    except resident_services.SignInRefused as exc:
        raise PointsError("child_signature_refused", exc.message) from None
    info = verified.basic_info
    if info is None:
        raise PointsError("child_no_date_of_birth",
                          _("The child's signing certificate carries no date of birth, so the age cannot be checked."))  # fmt: skip
    known = ResidentCertificate.objects.filter(issuer=verified.issuer, serial=verified.serial).first()
    owner = known.resident if known is not None else None
    while owner is not None and owner.merged_into_id is not None:
        owner = owner.merged_into
    if (owner is not None and owner.pk != child.pk) or (
        child.holder_key and child.holder_key != resident_services.holder_key(info)
    ):
        raise PointsError("child_card_mismatch",
                          _("The signature was not made with the same card as the PIN. Use one card, the child's, for both."))  # fmt: skip
    age = _refuse_if_not_a_child(info.date_of_birth)
    if not child.mykey_id:
        if mykey_signature is None:
            raise PointsError(
                "child_no_mykey_id", _("Set up the child's MyKey ID with the child's card first.")
            )
        try:
            resident_services.mykey_id_issue(resident=child, signature=mykey_signature, actor=actor)
        except resident_services.SignInRefused as exc:
            raise PointsError("child_signature_refused", exc.message) from None
        except resident_services.MyKeyIdPending as exc:
            raise PointsError("child_mykey_pending", str(exc)) from None
    # Binds the signing certificate to the child (if it was not yet) and records the signature.
    resident_services.document_signature_verify(signature=signature, content=statement, resident=child)
    with transaction.atomic():
        _audit(actor=actor, action="points.child_identify", target=child, desk=desk,
               details={"representative": representative.pk, "child": child.pk, "age": age,
                        "age_source": "jpki_signing_certificate", "certificate": verified.serial})  # fmt: skip
    return ChildIdentity(representative.pk, child.pk, info.date_of_birth, verified.serial, info.name)


def _identified_child(representative: Resident, identity: ChildIdentity) -> Resident:
    if identity.representative_id != representative.pk:
        raise PointsError("child_not_identified", _("Present your child's card first."))
    _refuse_if_not_a_child(identity.date_of_birth)  # again: a birthday may have passed since the card step
    return Resident.objects.get(pk=identity.child_id)


def child_reserve(
    *, representative: Resident, identity: ChildIdentity, campaign: Campaign, actor, desk=None
) -> Reservation:
    """予約 for an identified child, recorded with the representative."""
    child = _identified_child(representative, identity)
    try:
        return reservation_create(resident=child, campaign=campaign, actor=actor, desk=desk,
                                  representative=representative)  # fmt: skip
    except PointsError as exc:
        if exc.code == "no_mykey_id":
            raise PointsError(
                exc.code, _("Set up the child's MyKey ID with the child's card first.")
            ) from None
        raise


def child_application_submit(
    *, representative: Resident, identity: ChildIdentity, campaign: Campaign, request: ApplicationRequest, actor,
    desk=None,
) -> Application:  # fmt: skip
    """申込み for an identified child under 15, recorded with `representative=` (application and audit).

    One application per child per campaign (the UNIQUE of application_submit). The child's payment service
    account must not be one the representative registered, in any campaign: a parent may use the same
    service for a child only with a different account. A representative may apply for several children.
    """
    child = _identified_child(representative, identity)
    own_account = _(
        "Your own account cannot be used for your child; use a different account of this service."
    )
    already = _(
        "An application for this child has already been made for this campaign; it cannot be changed."
    )
    if Application.objects.filter(campaign=campaign, resident=child).exists():
        raise PointsError("already_applied", already)
    account = request.service_account.strip()
    if Application.objects.filter(
        resident=representative, provider=request.provider, service_account=account
    ).exists():
        raise PointsError("representative_account", own_account)
    try:
        return application_submit(resident=child, campaign=campaign, request=request, actor=actor, desk=desk,
                                  representative=representative)  # fmt: skip
    except PointsError as exc:
        if exc.code == "already_applied":
            raise PointsError(exc.code, already) from None
        if (
            exc.code == "account_taken"
            and Application.objects.filter(
                campaign=campaign, provider=request.provider, service_account=account, resident=representative
            ).exists()
        ):
            raise PointsError("representative_account", own_account) from None
        if exc.code == "no_mykey_id":
            raise PointsError(
                exc.code, _("Set up the child's MyKey ID with the child's card first.")
            ) from None
        if exc.code == "not_reserved":
            raise PointsError(exc.code, _("Reserve for the child first (予約), then apply.")) from None
        raise


# --- Plain SQL on the provider API's hot path ----------------------------------------------------------------
# Every provider request authenticates its key and most carry one or a few transactions; building those few
# statements through the ORM cost more CPU than the database spends on them (bench/points_online.py
# --profile-only). The statements below are written once; column and table names come from the models.
class _Reader:
    """Turns a row of `fields` (as a plain cursor returns it) into Python values with the same converters the
    ORM applies (JSON, SQLite's text datetimes, booleans …), built once per database vendor."""

    def __init__(self, model, names: list[str]):
        self.model = model
        self.fields = [model._meta.get_field(n) for n in names]
        self._converters: dict[str, list] = {}

    def columns(self, alias: str) -> str:
        return ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in self.fields)

    def values(self, row) -> list:
        converters = self._converters.get(connection.vendor)
        if converters is None:
            converters = self._converters[connection.vendor] = [
                (f.get_col(self.model._meta.db_table),
                 connection.ops.get_db_converters(f.get_col(self.model._meta.db_table)) + f.get_db_converters(connection))
                for f in self.fields
            ]  # fmt: skip
        out = []
        for value, (col, funcs) in zip(row, converters, strict=True):
            for func in funcs:
                value = func(value, col, connection)
            out.append(value)
        return out

    def instance(self, row):
        """A model instance loaded from the database (`Model.from_db`), as a queryset would give it."""
        return self.model.from_db(connection.alias, [f.attname for f in self.fields], self.values(row))


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


_PROVIDER = _Reader(PaymentProvider, [f.name for f in PaymentProvider._meta.concrete_fields])
_KEY_USE = _Reader(ProviderApiKey, ["id", "last_used_at"])
_KEY_SQL = (
    f"SELECT k.key_hash, {_KEY_USE.columns('k')}, {_PROVIDER.columns('p')} "  # noqa: S608 (model names)
    f"FROM {_table(ProviderApiKey)} k "
    f"JOIN {_table(PaymentProvider)} p ON p.id = k.provider_id "
    "WHERE k.prefix = %s AND k.revoked_at IS NULL AND p.active = %s"
)
_FACTS_SQL = (
    f"SELECT EXISTS (SELECT 1 FROM {_table(Campaign.providers.through)} cp "  # noqa: S608 (model names)
    f"JOIN {_table(PaymentProvider)} p ON p.id = cp.paymentprovider_id "
    "WHERE cp.campaign_id = %s AND p.id = %s AND p.active = %s), "
    f"EXISTS (SELECT 1 FROM {_table(Reservation)} WHERE campaign_id = %s AND resident_id = %s), "
    f"EXISTS (SELECT 1 FROM {_table(Application)} WHERE campaign_id = %s AND resident_id = %s)"
)
_HOLDER_SQL = (  # the last parameter through _db_value: SQLite keeps datetimes as text
    f"INSERT INTO {_table(AccountHolder)} (provider_id, service_account, resident_id, created_at) "  # noqa: S608
    "VALUES (%s, %s, %s, %s) ON CONFLICT (provider_id, service_account) "
    "DO UPDATE SET provider_id = EXCLUDED.provider_id RETURNING resident_id"
)
_RESERVE_SQL = (
    f"UPDATE {_table(Campaign)} SET reserved_budget = reserved_budget + cap "  # noqa: S608
    "WHERE id = %s AND cap = %s AND reserved_budget <= budget - cap"
)


# --- Provider API keys -------------------------------------------------------------------------------------
KEY_USE_RESOLUTION = timedelta(hours=1)  # how stale a key's `last_used_at` may be


def api_key_issue(*, provider: PaymentProvider, actor) -> str:
    """A new key `mpk_<prefix>_<secret>`, returned once; only its SHA-256 is kept."""
    prefix = secrets.token_hex(4)
    key = f"mpk_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        record = ProviderApiKey.objects.create(
            provider=provider, prefix=prefix, key_hash=hashlib.sha256(key.encode()).hexdigest()
        )
        audit.record(
            actor=actor, action="points.api_key_issue", target=record, details={"provider": provider.code}
        )
    return key


def api_key_revoke(*, key: ProviderApiKey, actor) -> None:
    with transaction.atomic():
        ProviderApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        audit.record(
            actor=actor, action="points.api_key_revoke", target=key, details={"provider": key.provider.code}
        )


def provider_for_key(key: str) -> PaymentProvider | None:
    """The active provider of an unrevoked key, else None. Runs on every provider API request: one plain
    SELECT (key and provider joined), the provider built from its row as the ORM would (see `_Reader`)."""
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != "mpk":
        return None
    with connection.cursor() as cursor:
        cursor.execute(_KEY_SQL, [parts[1], True])
        found = cursor.fetchone()
    if found is None:
        return None
    if not hmac.compare_digest(found[0], hashlib.sha256(key.encode()).hexdigest()):
        return None
    key_pk, last_used = _KEY_USE.values(found[1:3])
    now = timezone.now()
    if last_used is None or now - last_used > KEY_USE_RESOLUTION:
        # When a key was last used, for operators deciding what to rotate or revoke: written at most once per
        # KEY_USE_RESOLUTION per key, not on every request (the guard keeps concurrent requests to one write).
        ProviderApiKey.objects.filter(pk=key_pk).filter(
            Q(last_used_at=None) | Q(last_used_at__lt=now - KEY_USE_RESOLUTION)
        ).update(last_used_at=now)
    return _PROVIDER.instance(found[3:])


# --- Transactions ------------------------------------------------------------------------------------------
@dataclass
class ItemResult:
    id: str
    status: str
    granted: int = 0
    remaining: int = 0
    message: str = ""

    def as_dict(self) -> dict:
        out = {"id": self.id, "status": self.status, "granted": self.granted, "remaining": self.remaining}
        if self.message:
            out["message"] = self.message
        return out


@dataclass
class _Item:
    id: str
    account: str
    kind: str
    amount: int
    occurred_at: datetime
    fingerprint: str


def _fingerprint(raw: dict) -> str:
    return hashlib.sha256(
        json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


CONTROL_CHARACTERS = ingest.CONTROL_CHARACTERS  # refused in ids and accounts (see there)


def _parse_when(value) -> datetime | None:
    """An aware datetime from ISO 8601 text, or None: also for well-formed text that names no real instant
    (30 February, hour 25, offset +25:00), for which parse_datetime raises instead of answering None, and for
    an instant outside `ingest.WHEN_RANGE` (0001-01-01+09:00 is before year 1 in UTC: no database stores it)."""
    if not isinstance(value, str):
        parsed = value if isinstance(value, datetime) else None
    else:
        try:
            parsed = parse_datetime(value)
        except ValueError:
            return None
    if parsed is None or timezone.is_naive(parsed) or not ingest.within_range(parsed):
        return None
    return parsed


def _parse_transaction(raw: dict) -> _Item | ItemResult:
    """Validate one item; an ItemResult(status=invalid) explains what is wrong."""
    item_id = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(item_id, str) or not 1 <= len(item_id) <= 64:
        return ItemResult(str(item_id)[:64] if item_id is not None else "", Status.INVALID,
                          message=_("id must be a string of 1 to 64 characters"))  # fmt: skip
    if CONTROL_CHARACTERS.search(item_id):
        return ItemResult(CONTROL_CHARACTERS.sub("?", item_id), Status.INVALID,
                          message=_("id must not contain control characters"))  # fmt: skip
    problems = []
    account = raw.get("account")
    if not isinstance(account, str) or not 1 <= len(account.strip()) <= 64:
        problems.append(_("account must be the payment service ID"))
    elif CONTROL_CHARACTERS.search(account):
        problems.append(_("account must not contain control characters"))
    kind = raw.get("kind")
    if kind not in _MODES:
        problems.append(_("kind must be charge or purchase"))
    amount = raw.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int):
        problems.append(_("amount must be a whole number of yen"))
    elif not 1 <= amount <= MAX_AMOUNT:
        problems.append(_("amount must be between 1 and 100,000,000 yen"))
    occurred_at = _parse_when(raw.get("occurred_at"))
    if occurred_at is None:
        problems.append(_("occurred_at must be a date-time with a time zone (ISO 8601), from 2000 to 2099"))
    if problems:
        return ItemResult(item_id, Status.INVALID, message="; ".join(str(p) for p in problems))
    return _Item(item_id, account.strip(), kind, amount, occurred_at, _fingerprint(raw))


@dataclass
class _Account:
    pk: int
    mode: str
    cap: int
    granted: int
    rate_bp: int
    earns_from: datetime  # the later of the campaign's earning start and the account's enrolment
    earning_ends_at: datetime


_ROW_COLUMNS = ("provider_id", "kind", "external_id", "fingerprint", "account_id", "amount", "occurred_at",
                "status", "points", "remaining", "recorded_at", "month")  # fmt: skip
_INSERT_ROWS = 500  # rows per multi-row INSERT (12 parameters each; SQLite allows 32,766 per statement)
_TX_TABLE = _table(ProviderTransaction)
_ACCOUNT_TABLE = _table(PointAccount)
_KNOWN_SQL = (
    f"SELECT external_id, fingerprint, status, points, remaining FROM {_TX_TABLE} "  # noqa: S608 (model names)
    "WHERE provider_id = %s AND kind = %s AND external_id {}"
)
_CAMPAIGN_PROVIDERS = Campaign.providers.through
_LOCK_ACCOUNTS = _Reader(PointAccount, ["id", "service_account", "mode", "cap", "granted", "enrolled_at"])
_LOCK_WINDOW = _Reader(Campaign, ["rate_bp", "earning_starts_at", "earning_ends_at"])
# The provider's accounts in its premium campaigns, locked in primary-key order (FOR UPDATE OF the account rows
# only: the campaign row is read, never locked, so grants of different residents do not queue on it).
_LOCK_SQL = (
    f"SELECT {_LOCK_ACCOUNTS.columns('a')}, {_LOCK_WINDOW.columns('c')} FROM {_ACCOUNT_TABLE} a "  # noqa: S608
    f"JOIN {_table(Campaign)} c ON c.id = a.campaign_id "
    f"WHERE a.provider_id = %s AND c.kind = %s AND a.service_account {{}} AND EXISTS (SELECT 1 FROM "
    f"{_table(_CAMPAIGN_PROVIDERS)} cp WHERE cp.campaign_id = c.id AND cp.paymentprovider_id = a.provider_id) "
    "ORDER BY a.id"
)
_GRANT_SQL = f"UPDATE {_ACCOUNT_TABLE} SET granted = granted + %s WHERE id = %s"  # noqa: S608


def _placeholders(n: int) -> str:
    return ", ".join(["%s"] * n)


def _any_of(values) -> tuple[str, list]:
    """A condition "is one of `values`" and its parameters. On PostgreSQL one array parameter, so the statement
    has one text whatever the number of values: psycopg prepares it and PostgreSQL plans it once (an IN list of
    n placeholders was a new statement for every n, planned every time: about 0.8 ms for the account lock's join,
    paid by every batch of the online grant's group commit). Elsewhere an IN list."""
    values = list(values)
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [values]
    return f"IN ({_placeholders(len(values))})", values


def _lock_accounts(cursor, provider_pk: int, keys: set[str]) -> dict[str, list[_Account]]:
    """The provider's premium-campaign accounts with these 決済サービスID, locked (inside the caller's
    transaction) in primary-key order, with their campaign's rate and earning window (which for an account
    starts no earlier than its enrolment: spending before the application earns nothing)."""
    features = connection.features
    condition, values = _any_of(sorted(keys))
    sql = _LOCK_SQL.format(condition)
    if features.has_select_for_update:
        if not features.has_select_for_update_of:  # pragma: no cover — PostgreSQL and SQLite only
            raise NotImplementedError("grants need SELECT … FOR UPDATE OF on this database")
        sql += " FOR UPDATE OF a"
    cursor.execute(sql, [provider_pk, Campaign.Kind.PREMIUM, *values])
    found: dict[str, list[_Account]] = {}
    width = len(_LOCK_ACCOUNTS.fields)
    for row in cursor.fetchall():
        pk, key, mode, cap, granted, enrolled = _LOCK_ACCOUNTS.values(row[:width])
        rate_bp, starts, ends = _LOCK_WINDOW.values(row[width:])
        found.setdefault(key, []).append(
            _Account(pk, mode, cap, granted, rate_bp, max(starts, enrolled), ends)
        )
    return found


_GRANTS_SQL = (
    f"UPDATE {_ACCOUNT_TABLE} AS a SET granted = a.granted + d.delta "  # noqa: S608 (model names)
    "FROM unnest(%s::bigint[], %s::integer[]) AS d(id, delta) WHERE a.id = d.id"
)
_UNNEST_INSERT: list[str] = []


def _unnest_insert_sql() -> str:
    """INSERT of ledger rows given as one array per column (PostgreSQL), the arrays cast to the columns' types."""
    if not _UNNEST_INSERT:
        fields = {f.column: f for f in ProviderTransaction._meta.concrete_fields}
        # Character columns as text[]: an explicit cast to varchar(n) would cut a longer value, where the
        # INSERT's own assignment refuses it ("value too long"), as a plain INSERT does.
        types = [fields[c].db_type(connection) for c in _ROW_COLUMNS]
        arrays = ", ".join(f"%s::{'text' if t.startswith('varchar') else t}[]" for t in types)
        _UNNEST_INSERT.append(
            f"INSERT INTO {_TX_TABLE} ({', '.join(_ROW_COLUMNS)}, clawed_back) "  # noqa: S608 (model names)
            f"SELECT *, 0 FROM unnest({arrays})"
        )
    return _UNNEST_INSERT[0]


def _persist(rows: list[tuple], deltas: dict[int, int]) -> None:
    """Write ledger rows and add each account's new points, inside the caller's transaction.

    Multi-row INSERTs (one statement for a small batch) and one UPDATE per changed account; on PostgreSQL a
    small batch (the online grant's group commit, points/coalesce.py) is one statement of fixed text — the rows
    as one array per column, unnested, and the accounts' UPDATE in the same statement — and a larger batch takes
    COPY and one UPDATE … FROM unnest(). The accounts are already locked by the caller. The UNIQUE (provider,
    kind, external_id) constraint still refuses a second answer for one id, whichever path.
    """
    if not rows and not deltas:
        return
    columns = ", ".join((*_ROW_COLUMNS, "clawed_back"))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and 0 < len(rows) <= 20:
            # A multi-row VALUES list has a text per batch size (psycopg parsed its 12 × n placeholders anew
            # every time: about a sixth of a grouped grant's CPU) and is never a prepared statement.
            params = [list(column) for column in zip(*rows, strict=True)]
            sql = _unnest_insert_sql()
            if deltas:
                sql = f"WITH ledger AS ({sql}) {_GRANTS_SQL}"
                params += [list(deltas), list(deltas.values())]
            cursor.execute(sql, params)
        elif connection.vendor == "postgresql" and len(rows) > 20:
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {_TX_TABLE} ({columns}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row((*row, 0))
        else:
            for start in range(0, len(rows), _INSERT_ROWS):
                chunk = rows[start : start + _INSERT_ROWS]
                values = ", ".join([f"({_placeholders(len(_ROW_COLUMNS))}, 0)"] * len(chunk))
                cursor.execute(
                    f"INSERT INTO {_TX_TABLE} ({columns}) VALUES {values}",  # noqa: S608 (model names)
                    [_db_value(v) for row in chunk for v in row],
                )
        if connection.vendor == "postgresql" and 0 < len(rows) <= 20:
            pass  # the accounts were updated with the rows
        elif connection.vendor == "postgresql" and len(deltas) > 1:
            cursor.execute(_GRANTS_SQL, [list(deltas), list(deltas.values())])
        else:
            for pk, delta in deltas.items():
                cursor.execute(_GRANT_SQL, [delta, pk])


def _db_value(value):
    """Datetimes as the database backend stores them (SQLite keeps text in UTC); everything else as is."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def _stored_answer(tx: ProviderTransaction) -> ItemResult:
    return ItemResult(tx.external_id, tx.status, max(tx.points, 0), tx.remaining)


def _month(at: datetime) -> int:
    local = timezone.localtime(at)
    return local.year * 100 + local.month


def transactions_record(
    *, provider: PaymentProvider, items: list, actor=None, lock_timeout: str | None = None
) -> list[ItemResult]:
    """Record up to MAX_ITEMS charges/purchases from one provider and answer each, in order.

    Idempotent: an id seen before returns its first answer (grants nothing); the same id with other content
    is a `conflict`. Accounts are locked in primary-key order (no deadlock between concurrent batches), and
    grants are computed in recording order against each account's headroom. A race on a new id (two requests
    at once) retries once, after which the id exists and its stored answer is returned. On PostgreSQL a batch
    of `ingest.MIN_ITEMS` items or more takes the set-based path of points/ingest.py (same answers).
    `lock_timeout` (PostgreSQL, the row path): how long the transaction may wait for a row lock, set for that
    transaction only (group commit gives up on a locked account rather than hold up the others, coalesce.py);
    waiting longer raises OperationalError (lock_not_available) and nothing is written.
    """
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise PointsError("invalid_batch", _("Send between 1 and 10,000 items."))
    for attempt in range(2):
        try:
            return _transactions_record(provider, items, actor, lock_timeout)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _answer(item: _Item, candidates: list[_Account] | None) -> tuple[str, _Account | None, int, int]:
    """(status, account, points, remaining) of one new item against the locked accounts of its 決済サービスID,
    in recording order: the account's running total is advanced by the points granted."""
    status, account, points, remaining = "", None, 0, 0
    if not candidates:
        return str(Status.NOT_ENROLLED), None, 0, 0
    account = next((a for a in candidates if a.earns_from <= item.occurred_at <= a.earning_ends_at), None)
    if account is None:
        status, account = Status.OUTSIDE_PERIOD, candidates[0]
    elif account.mode != item.kind:
        status = Status.WRONG_MODE
    if not status:
        raw = calc.premium(item.amount, account.rate_bp)
        points = calc.grant(item.amount, account.rate_bp, account.cap - account.granted)
        status = Status.GRANTED if points == raw else Status.CAPPED
        account.granted += points
    remaining = account.cap - account.granted
    return str(status), account, points, remaining


# The one-item request on PostgreSQL (the online grant): see `_record_one`.
ONE_ITEM_FAST_PATH = True
_ONE_ROW_SQL = (
    f"INSERT INTO {_TX_TABLE} ({', '.join(_ROW_COLUMNS)}, clawed_back) "  # noqa: S608 (model names)
    f"VALUES ({_placeholders(len(_ROW_COLUMNS))}, 0) ON CONFLICT (provider_id, kind, external_id) DO NOTHING "
    "RETURNING id"
)
_ONE_GRANT_SQL = (
    f"WITH ledger AS ({_ONE_ROW_SQL}) UPDATE {_ACCOUNT_TABLE} SET granted = granted + %s "  # noqa: S608
    "WHERE id = %s AND EXISTS (SELECT FROM ledger) RETURNING id"
)


def _set_lock_timeout(cursor, lock_timeout: str | None) -> None:
    """Inside the caller's transaction: the lock timeout of that transaction only (a session setting would
    outlive it, and behind a transaction pooler reach other clients)."""
    if lock_timeout is not None and connection.vendor == "postgresql":
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [lock_timeout])


def _record_one(provider: PaymentProvider, item: _Item, actor, lock_timeout: str | None = None) -> ItemResult:
    """One valid item on PostgreSQL: the account locked, then the ledger row and the account's new total in
    one statement, then the audit record (2 statements + 3 of the audit instead of 4 + 3).

    Idempotency without a look-up first: the INSERT does nothing when the id is recorded already (ON CONFLICT
    on UNIQUE (provider, kind, external_id); a concurrent request's uncommitted row is waited for), the
    account UPDATE runs only if the row was inserted, and only then is the stored answer read — the same
    answer or `conflict`, nothing written, no audit record, as on the general path."""
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        _set_lock_timeout(cursor, lock_timeout)
        accounts = _lock_accounts(cursor, provider.pk, {item.account})
        status, account, points, remaining = _answer(item, accounts.get(item.account))
        row = [provider.pk, ProviderTransaction.Kind.TRANSACTION, item.id, item.fingerprint,
               account.pk if account else None, item.amount, item.occurred_at, status, points, remaining, now,
               _month(now)]  # fmt: skip
        if points:
            cursor.execute(_ONE_GRANT_SQL, [*row, points, account.pk])
        else:
            cursor.execute(_ONE_ROW_SQL, row)
        if cursor.fetchone() is None:  # recorded before: its first answer, or a conflict
            cursor.execute(
                _KNOWN_SQL.format("= %s"), [provider.pk, ProviderTransaction.Kind.TRANSACTION, item.id]
            )
            earlier = cursor.fetchone()
            if earlier is None:  # pragma: no cover — the conflicting row has gone: retried by the caller
                raise IntegrityError("provider transaction id conflict without a stored row")
            if earlier[1] != item.fingerprint:
                return ItemResult(
                    item.id, "conflict", message=_("this id was sent before with other content")
                )
            return ItemResult(item.id, earlier[2], max(earlier[3], 0), earlier[4])
        audit.record(actor=actor or audit.Actor("provider", str(provider.pk), provider.code),
                     action="points.transactions_record", target=provider,
                     stream=audit.sharded_stream(f"p{provider.pk}", item.id),
                     details={"items": 1, "recorded": 1, "points": points})  # fmt: skip
    return ItemResult(item.id, status, points, remaining)


def _transactions_record(
    provider: PaymentProvider, items: list, actor, lock_timeout: str | None = None
) -> list[ItemResult]:
    # PostgreSQL and a large batch: the set-based path of points/ingest.py (same answers).
    if ingest.applies(items):
        return ingest.record(provider, items, actor)
    parsed = [_parse_transaction(raw) for raw in items]
    if (
        len(parsed) == 1
        and isinstance(parsed[0], _Item)
        and connection.vendor == "postgresql"
        and ONE_ITEM_FAST_PATH
    ):
        return [_record_one(provider, parsed[0], actor, lock_timeout)]
    results: list[ItemResult | None] = [p if isinstance(p, ItemResult) else None for p in parsed]
    valid = [(i, p) for i, p in enumerate(parsed) if isinstance(p, _Item)]
    now = timezone.now()
    with transaction.atomic():
        if valid:
            with connection.cursor() as cursor:
                _set_lock_timeout(cursor, lock_timeout)
        existing = {}
        if valid:
            ids = {p.id for _, p in valid}
            with connection.cursor() as cursor:
                condition, values = _any_of(ids)
                cursor.execute(_KNOWN_SQL.format(condition),
                               [provider.pk, ProviderTransaction.Kind.TRANSACTION, *values])  # fmt: skip
                existing = {row[0]: row for row in cursor.fetchall()}
        seen: dict[str, _Item] = {}
        fresh: list[tuple[int, _Item]] = []
        for i, item in valid:
            earlier = existing.get(item.id)
            if earlier is not None:
                results[i] = (
                    ItemResult(item.id, earlier[2], max(earlier[3], 0), earlier[4]) if earlier[1] == item.fingerprint
                    else ItemResult(item.id, "conflict", message=_("this id was sent before with other content"))
                )  # fmt: skip
                continue
            if item.id in seen:
                results[i] = (
                    ItemResult(item.id, "duplicate", message=_("this id appears twice in the batch"))
                    if seen[item.id].fingerprint == item.fingerprint
                    else ItemResult(item.id, "conflict", message=_("this id was sent before with other content"))
                )  # fmt: skip
                continue
            seen[item.id] = item
            fresh.append((i, item))

        accounts_by_key: dict[str, list[_Account]] = {}
        if fresh:
            with connection.cursor() as cursor:
                # Lock in primary-key order: concurrent batches that touch the same accounts must not deadlock.
                accounts_by_key = _lock_accounts(cursor, provider.pk, {item.account for _, item in fresh})
        month = _month(now)
        rows: list[tuple] = []
        changed: dict[int, int] = {}
        for i, item in fresh:
            status, account, points, remaining = _answer(item, accounts_by_key.get(item.account))
            if points:
                changed[account.pk] = changed.get(account.pk, 0) + points
            rows.append((provider.pk, ProviderTransaction.Kind.TRANSACTION, item.id, item.fingerprint,
                         account.pk if account else None, item.amount, item.occurred_at, status, points,
                         remaining, now, month))  # fmt: skip
            results[i] = ItemResult(item.id, status, points, remaining)
        _persist(rows, {pk: delta for pk, delta in changed.items() if delta})
        if rows:
            audit.record(actor=actor or audit.Actor("provider", str(provider.pk), provider.code),
                         action="points.transactions_record", target=provider,
                         stream=audit.sharded_stream(f"p{provider.pk}", rows[0][2]),
                         details={"items": len(items), "recorded": len(rows),
                                  "points": sum(changed.values())})  # fmt: skip
    return [r for r in results if r is not None]


# --- Refunds -----------------------------------------------------------------------------------------------
def refunds_record(*, provider: PaymentProvider, items: list, actor=None) -> list[ItemResult]:
    """Claw back min(points granted on the original − already clawed back, floor(amount × rate)) per refund.
    The freed headroom serves later transactions. Idempotent like transactions_record, and like it, a race on a
    new refund id (the same batch sent twice at once) retries once, after which the stored answer is returned.

    Locks: the accounts of every original the batch names are locked first, in primary-key order (as every
    transaction batch locks its accounts), and only then the originals, one by one while their account is
    held; so concurrent refund and transaction batches touching the same accounts never deadlock."""
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise PointsError("invalid_batch", _("Send between 1 and 10,000 items."))
    for attempt in range(2):
        try:
            return _refunds_record(provider, items, actor)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _valid_refund(raw) -> bool:
    if not isinstance(raw, dict):
        return False
    item_id, original_id, amount = raw.get("id"), raw.get("original_id"), raw.get("amount")
    return (
        isinstance(item_id, str)
        and 1 <= len(item_id) <= 64
        and not CONTROL_CHARACTERS.search(item_id)
        and isinstance(original_id, str)
        and 1 <= len(original_id) <= 64
        and not CONTROL_CHARACTERS.search(original_id)
        and not isinstance(amount, bool)
        and isinstance(amount, int)
        and 1 <= amount <= MAX_AMOUNT
    )


def _lock_refund_accounts(provider: PaymentProvider, items: list) -> None:
    """Lock, in primary-key order, the accounts of the originals the valid refunds name."""
    originals = {raw["original_id"] for raw in items if _valid_refund(raw)}
    if not originals:
        return
    accounts = (
        ProviderTransaction.objects.filter(
            provider=provider, kind=ProviderTransaction.Kind.TRANSACTION, external_id__in=originals
        )
        .exclude(account=None)
        .values("account_id")
    )
    list(PointAccount.objects.select_for_update().filter(pk__in=accounts).order_by("pk").values_list("pk"))


def _refunds_record(provider: PaymentProvider, items: list, actor) -> list[ItemResult]:
    results: list[ItemResult] = []
    now = timezone.now()
    with transaction.atomic():
        _lock_refund_accounts(provider, items)
        for raw in items:
            item_id = raw.get("id") if isinstance(raw, dict) else None
            original_id = raw.get("original_id") if isinstance(raw, dict) else None
            amount = raw.get("amount") if isinstance(raw, dict) else None
            if not _valid_refund(raw):
                shown = CONTROL_CHARACTERS.sub("?", item_id[:64]) if isinstance(item_id, str) else ""
                results.append(ItemResult(shown, Status.INVALID,
                                          message=_("id, original_id and a positive whole amount are required")))  # fmt: skip
                continue
            fingerprint = _fingerprint(raw)
            earlier = ProviderTransaction.objects.filter(
                provider=provider, kind=ProviderTransaction.Kind.REFUND, external_id=item_id).first()  # fmt: skip
            if earlier is not None:
                results.append(_stored_answer(earlier) if earlier.fingerprint == fingerprint else
                               ItemResult(item_id, "conflict", message=_("this id was sent before with other content")))  # fmt: skip
                if earlier.fingerprint == fingerprint:
                    results[-1].granted = earlier.points  # negative: what was clawed back
                continue
            original = (
                ProviderTransaction.objects.select_for_update()
                .filter(provider=provider, kind=ProviderTransaction.Kind.TRANSACTION, external_id=original_id)
                .first()
            )
            row = ProviderTransaction(provider=provider, kind=ProviderTransaction.Kind.REFUND, external_id=item_id,
                                      fingerprint=fingerprint, amount=amount, month=_month(now), original=original)  # fmt: skip
            if original is None or original.account_id is None:
                row.status = Status.UNKNOWN_ORIGINAL
                row.save()
                results.append(ItemResult(item_id, row.status))
                continue
            # FOR UPDATE OF the account only: joined without `of`, the campaign row would be locked too, and
            # two refund batches crossing campaigns deadlocked on it (and it held up applications meanwhile).
            account = (
                PointAccount.objects.select_for_update(of=("self",))
                .select_related("campaign")
                .get(pk=original.account_id)
            )
            points = calc.clawback(
                amount, account.campaign.rate_bp, max(original.points, 0), original.clawed_back
            )
            row.account, row.status, row.points = account, Status.CLAWED_BACK, -points
            row.remaining = account.cap - (account.granted - points)
            row.save()
            if points:
                ProviderTransaction.objects.filter(pk=original.pk).update(
                    clawed_back=F("clawed_back") + points
                )
                PointAccount.objects.filter(pk=account.pk).update(granted=F("granted") - points)
            results.append(ItemResult(item_id, row.status, -points, row.remaining))
        audit.record(actor=actor or audit.Actor("provider", str(provider.pk), provider.code),
                     action="points.refunds_record", target=provider, details={"items": len(items)})  # fmt: skip
    return results


# --- Fixed grants (phase 2) --------------------------------------------------------------------------------
def fixed_grant_record(
    *, campaign: Campaign, resident: Resident, reference: str, actor
) -> ProviderTransaction:
    """A fixed grant for a qualifying action (new card, health-insurance registration, public-money account),
    paid through the resident's application in that campaign, while the campaign's earning period is open.

    Once per resident per campaign, and once per `reference` (the record of the qualifying action, 1–50
    characters) per campaign, whatever the cap and whichever payment service: both are UNIQUE constraints of
    `FixedGrant`, so concurrent calls cannot both pass. The ledger row's id is "<campaign id>:<reference>" of
    kind "fixed": it never meets a provider's transaction ids."""
    if campaign.kind != Campaign.Kind.FIXED:
        raise PointsError("not_fixed", _("This campaign does not grant a fixed amount."))
    reference = (reference or "").strip()
    if not 1 <= len(reference) <= FixedGrant.REFERENCE_MAX or CONTROL_CHARACTERS.search(reference):
        raise PointsError("invalid_reference", _("The reference must be 1 to 50 characters."))
    now = timezone.now()
    if not _within(campaign.earning_starts_at, campaign.earning_ends_at, now):
        raise PointsError("outside_period", _("This campaign is not granting now (outside its period)."))
    already = _("The fixed grant has already been given.")
    used = _("This reference has already been used for a fixed grant.")
    with transaction.atomic():
        account = (  # the account row only: not the provider's (every ledger INSERT of it would wait)
            PointAccount.objects.select_for_update(of=("self",))
            .filter(campaign=campaign, application__resident=resident)
            .select_related("provider")
            .first()
        )
        if account is None:
            raise PointsError("not_enrolled", _("The resident has not applied for this campaign."))
        if FixedGrant.objects.filter(campaign=campaign, resident=resident).exists():
            raise PointsError("already_granted", already)
        if FixedGrant.objects.filter(campaign=campaign, reference=reference).exists():
            raise PointsError("reference_used", used)
        points = calc.grant(campaign.fixed_points, calc.BP, account.cap - account.granted)
        if points == 0:
            raise PointsError("already_granted", already)
        try:
            with (
                transaction.atomic()
            ):  # a savepoint: a concurrent grant of the same reference is refused cleanly
                row = ProviderTransaction.objects.create(
                    provider=account.provider, kind=ProviderTransaction.Kind.FIXED,
                    external_id=f"{campaign.pk}:{reference}",
                    fingerprint=_fingerprint({"campaign": campaign.code, "resident": resident.pk}), account=account,
                    amount=campaign.fixed_points, occurred_at=now, status=Status.GRANTED, points=points,
                    remaining=account.cap - account.granted - points, month=_month(now),
                )  # fmt: skip
                FixedGrant.objects.create(
                    campaign=campaign, resident=resident, reference=reference, transaction=row
                )
        except IntegrityError:
            raise PointsError("reference_used", used) from None
        PointAccount.objects.filter(pk=account.pk).update(granted=F("granted") + points)
        audit.record(
            actor=actor,
            action="points.fixed_grant",
            target=row,
            details={"campaign": campaign.code, "points": points},
        )
    return row

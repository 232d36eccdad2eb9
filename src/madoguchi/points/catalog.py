"""マイナポイント configuration by platform operators: payment providers (with their API keys and callback
secret) and campaigns. The operator back office (points.ops_catalog_views) calls these; so may a command.

Each function is one transaction with its audit record, and checks that the actor is a platform operator.
A refusal is a CatalogError listing every problem found, each with the form field it is about, so that a page
can show them all at once. Edits never break money already committed: a campaign's budget cannot go below
what applications have reserved, and its kind, rate, cap, fixed grant and modes are fixed once anyone has
applied (each point account copied the cap, and grants are computed with the campaign's rate).
"""

import ipaddress
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.core import audit
from madoguchi.identity.models import User
from madoguchi.identity.selectors import is_platform_operator
from madoguchi.points import services
from madoguchi.points.models import (
    Application,
    Campaign,
    Mode,
    PaymentProvider,
    ProviderApiKey,
    Statement,
)
from madoguchi.points.services import PointsError
from madoguchi.points.settlement import FROZEN

CODE_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CODE_MAX = 40
MAX_CAP = 1_000_000  # points per person: far above any real campaign, far below the column's limit
MAX_BUDGET = 10**15  # yen: a thousand trillion, above any national budget, within the column
MAX_RATE_BP = 10_000  # 100 % (the database's CHECK)
CALLBACK_SECRET_BYTES = 32  # 64 hex characters, the column's length
RESERVED_PROVIDER_CODES = frozenset({"new"})  # the back office's URL for registering one
_LOOPBACK_NAMES = frozenset({"localhost"})


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    field: str | None = None  # the form field it is about, None for the whole form


class CatalogError(PointsError):
    """A refusal: `problems` lists every one found; `code` and `message` are the first one's."""

    def __init__(self, problems: Sequence[Problem]):
        first = problems[0]
        super().__init__(first.code, first.message)
        self.problems = tuple(problems)

    @property
    def codes(self) -> set[str]:
        return {p.code for p in self.problems}


def _refuse(code: str, message: str, field: str | None = None) -> CatalogError:
    return CatalogError([Problem(code, message, field)])


def _require_operator(actor) -> None:
    """A platform operator (a User), or the system actor explicitly (a management command)."""
    if actor == audit.SYSTEM or (isinstance(actor, User) and is_platform_operator(actor)):
        return
    raise _refuse("not_operator", _("Only a platform operator (the ministry) may do this."))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _yen(value: int) -> str:
    """Money in audit details, grouped ("249,900,000,000"): a bare 12-digit number could pass for a My Number,
    which the audit log refuses."""
    return f"{value:,}"


def code_problem(code: str) -> Problem | None:
    """What is wrong with a code as typed (before looking at the ones taken), or None."""
    if not code:
        return Problem("code_required", _("Enter a code."), "code")
    if len(code) > CODE_MAX or not CODE_RE.match(code):
        return Problem("code_invalid", _("Use up to %(max)s lower-case letters, digits and hyphens (for example "
                                         "mynapoint-2020).") % {"max": CODE_MAX}, "code")  # fmt: skip
    return None


def _check_code(code: str, problems: list[Problem]) -> None:
    problem = code_problem(code)
    if problem is not None:
        problems.append(problem)


def _check_modes(modes: Sequence[str], problems: list[Problem]) -> None:
    if not modes:
        problems.append(Problem("modes_required", _("Choose at least one mode."), "modes"))
    elif not set(modes) <= set(Mode.values) or len(set(modes)) != len(modes):
        problems.append(Problem("modes_invalid", _("Choose modes from the list."), "modes"))


def _ordered_modes(modes: Iterable[str]) -> list[str]:
    """The modes in the order of Mode (charge, purchase): stored the same way whatever order they came in."""
    chosen = set(modes)
    return [m for m in Mode.values if m in chosen]


# --- Payment providers -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProviderSpec:
    name: str
    type: str
    modes: Sequence[str]
    callback_url: str
    active: bool = True


def _is_loopback(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def callback_url_problem(url: str) -> Problem | None:
    """What is wrong with an account confirmation URL, or None."""

    def refuse(code: str, message: str) -> Problem:
        return Problem(code, message, "callback_url")

    if not url:
        return refuse("callback_url_required", _("Enter the account confirmation URL."))
    if len(url) > 300:
        return refuse("callback_url_invalid", _("The URL is too long (300 characters at most)."))
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        return refuse("callback_url_invalid", _("Enter a full URL starting with https://."))
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        return refuse("callback_url_credentials", _("Put no user name or password in the URL: the platform "
                                                    "signs each request with the callback secret instead."))  # fmt: skip
    if parts.fragment:
        return refuse("callback_url_invalid", _("The URL must not contain a fragment (#…)."))
    if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        return refuse("callback_url_not_https", _("The URL must use https: the request carries the resident's "
                                                  "security code. Plain http is allowed only for this computer "
                                                  "(localhost)."))  # fmt: skip
    return None


def _provider_problems(spec: ProviderSpec, *, exclude_pk: int | None) -> list[Problem]:
    problems: list[Problem] = []
    name = spec.name.strip()
    if not name:
        problems.append(Problem("name_required", _("Enter the name of the payment service."), "name"))
    elif len(name) > 100:
        problems.append(Problem("name_too_long", _("The name is too long (100 characters at most)."), "name"))
    elif PaymentProvider.objects.filter(name__iexact=name).exclude(pk=exclude_pk).exists():
        problems.append(Problem("name_taken", _("Another payment service already has this name."), "name"))
    if spec.type not in PaymentProvider.Type.values:
        problems.append(Problem("type_invalid", _("Choose the type of payment service."), "type"))
    _check_modes(spec.modes, problems)
    url_problem = callback_url_problem(spec.callback_url.strip())
    if url_problem is not None:
        problems.append(url_problem)
    return problems


def _new_callback_secret() -> str:
    return secrets.token_hex(CALLBACK_SECRET_BYTES)


def provider_register(*, code: str, spec: ProviderSpec, actor) -> tuple[PaymentProvider, str]:
    """A new payment provider, with a new callback secret (returned once, to be handed to the provider: the
    platform signs its account-confirmation requests with it). It has no API key yet: issue one next."""
    _require_operator(actor)
    code = code.strip()
    problems: list[Problem] = []
    _check_code(code, problems)
    if not problems and (
        code in RESERVED_PROVIDER_CODES or PaymentProvider.objects.filter(code__iexact=code).exists()
    ):
        problems.append(Problem("code_taken", _("Another payment service already has this code."), "code"))
    problems += _provider_problems(spec, exclude_pk=None)
    if problems:
        raise CatalogError(problems)
    secret = _new_callback_secret()
    try:
        with transaction.atomic():
            provider = PaymentProvider.objects.create(
                code=code, name=spec.name.strip(), type=spec.type, modes=_ordered_modes(spec.modes),
                callback_url=spec.callback_url.strip(), callback_secret=secret, active=spec.active,
            )  # fmt: skip
            audit.record(actor=actor, action="points.provider_register", target=provider,
                         details={"provider": code, **_provider_facts(provider)})  # fmt: skip
    except IntegrityError:  # the same code registered a moment ago by someone else
        raise _refuse("code_taken", _("Another payment service already has this code."), "code") from None
    return provider, secret


def _provider_facts(provider: PaymentProvider) -> dict:
    """What the audit log keeps of a provider: never its secret."""
    return {"name": provider.name, "type": provider.type, "modes": list(provider.modes),
            "callback_url": provider.callback_url, "active": provider.active}  # fmt: skip


def _changes(before: dict, after: dict) -> dict:
    return {k: [before[k], after[k]] for k in after if before.get(k) != after[k]}


def provider_update(*, provider: PaymentProvider, spec: ProviderSpec, actor) -> PaymentProvider:
    """Edit a provider. Its code is its identity (API, files, statements) and does not change. A mode that
    residents chose in their applications with this provider cannot be withdrawn."""
    _require_operator(actor)
    problems = _provider_problems(spec, exclude_pk=provider.pk)
    if problems:
        raise CatalogError(problems)
    with transaction.atomic():
        locked = PaymentProvider.objects.select_for_update().get(pk=provider.pk)
        withdrawn = sorted(set(locked.modes) - set(spec.modes))
        in_use = [m for m in withdrawn if Application.objects.filter(provider=locked, mode=m).exists()]
        if in_use:
            labels = "、".join(str(Mode(m).label) for m in in_use)
            raise _refuse("mode_in_use", _("Residents have applied with this payment service in this mode, so it "
                                           "cannot be withdrawn: %(modes)s.") % {"modes": labels}, "modes")  # fmt: skip
        before = _provider_facts(locked)
        locked.name, locked.type, locked.modes = spec.name.strip(), spec.type, _ordered_modes(spec.modes)
        locked.callback_url, locked.active = spec.callback_url.strip(), spec.active
        locked.save(update_fields=["name", "type", "modes", "callback_url", "active"])
        changes = _changes(before, _provider_facts(locked))
        if changes:
            audit.record(actor=actor, action="points.provider_update", target=locked,
                         details={"provider": locked.code, "changes": changes})  # fmt: skip
    return locked


def provider_callback_secret_rotate(*, provider: PaymentProvider, actor) -> str:
    """A new callback secret, in force at once and returned once; the old one stops working (the provider
    must check signatures with the new one from now on)."""
    _require_operator(actor)
    secret = _new_callback_secret()
    with transaction.atomic():
        locked = PaymentProvider.objects.select_for_update().get(pk=provider.pk)
        locked.callback_secret = secret
        locked.save(update_fields=["callback_secret"])
        audit.record(actor=actor, action="points.provider_callback_secret_rotate", target=locked,
                     details={"provider": locked.code})  # fmt: skip
    return secret


# --- API keys ------------------------------------------------------------------------------------------------
def api_key_issue(*, provider: PaymentProvider, actor) -> str:
    """A new API key for the provider (returned once; only its hash is kept). Other keys stay valid."""
    _require_operator(actor)
    return services.api_key_issue(provider=provider, actor=actor)


def _live_key(key: ProviderApiKey) -> ProviderApiKey:
    locked = ProviderApiKey.objects.select_for_update().select_related("provider").filter(pk=key.pk).first()
    if locked is None or locked.revoked_at is not None:
        raise _refuse("key_revoked", _("This API key has already been revoked."))
    return locked


def api_key_revoke(*, key: ProviderApiKey, actor) -> None:
    """Revoke a key: from now on it is refused. Refused if it was revoked already."""
    _require_operator(actor)
    with transaction.atomic():
        services.api_key_revoke(key=_live_key(key), actor=actor)


def api_key_rotate(*, key: ProviderApiKey, actor) -> str:
    """Issue a new key for the key's provider and revoke the old one, in one transaction: the new key
    (returned once) works and the old one does not, or neither change happened."""
    _require_operator(actor)
    with transaction.atomic():
        old = _live_key(key)
        new_key = services.api_key_issue(provider=old.provider, actor=actor)
        services.api_key_revoke(key=old, actor=actor)
        audit.record(actor=actor, action="points.api_key_rotate", target=old,
                     details={"provider": old.provider.code, "revoked": old.prefix,
                              "issued": new_key.split("_")[1]})  # fmt: skip
    return new_key


# --- Campaigns -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CampaignSpec:
    """A campaign's configuration. Money and points are integer yen; the premium rate is in basis points
    (2500 = 25 %). A premium campaign has a rate and no fixed grant; a fixed campaign the reverse. The
    reservation window is needed by premium campaigns (residents reserve before applying); a fixed campaign
    has none or both of its bounds."""

    name: str
    kind: str
    rate_bp: int
    cap: int
    fixed_points: int
    modes: Sequence[str]
    budget: int
    application_starts_at: datetime
    application_ends_at: datetime
    earning_starts_at: datetime
    earning_ends_at: datetime
    reservation_starts_at: datetime | None = None
    reservation_ends_at: datetime | None = None
    providers: Sequence[PaymentProvider] = field(default_factory=tuple)


WINDOW_FIELDS = ("reservation_starts_at", "reservation_ends_at", "application_starts_at", "application_ends_at",
                 "earning_starts_at", "earning_ends_at")  # fmt: skip
OPTIONAL_WINDOW_FIELDS = ("reservation_starts_at", "reservation_ends_at")
# The fields that cannot change once anyone has applied.
LOCKED_AFTER_APPLICATIONS = ("kind", "rate_bp", "cap", "fixed_points", "modes")


@dataclass(frozen=True)
class CampaignUsage:
    """What is already committed in a campaign, from the campaign row's counters and one indexed EXISTS: what
    the edit form and the checks go by, cheap enough to read with the campaign row locked."""

    applied: bool  # someone has applied
    applications_open: bool  # applications are open now: one may be under way, not yet visible
    reservations: int
    reserved_budget: int

    @property
    def locked(self) -> bool:
        """The fields in LOCKED_AFTER_APPLICATIONS are fixed. Also while applications are open: an application
        being written copies the cap into its point account and reserves the cap from the budget only at its
        commit, so a change made in between would leave the two disagreeing."""
        return self.applied or self.applications_open

    @property
    def reserved(self) -> bool:
        return self.reservations > 0

    def minimum_budget(self, cap: int) -> int:
        return max(self.reserved_budget, self.reservations * cap)


def campaign_usage(campaign: Campaign) -> CampaignUsage:
    now = timezone.now()
    return CampaignUsage(
        applied=Application.objects.filter(campaign=campaign).exists(),
        applications_open=campaign.application_starts_at <= now <= campaign.application_ends_at,
        reservations=campaign.reservations,
        reserved_budget=campaign.reserved_budget,
    )


def locked_message(usage: CampaignUsage) -> str:
    if usage.applied:
        return _("Residents have applied already: this can no longer change.")
    return _("Applications are open: this can no longer change. To correct it before anyone applies, first "
             "move the opening of applications later, save, then change it.")  # fmt: skip


def _check_numbers(spec: CampaignSpec, problems: list[Problem]) -> None:
    def add(code: str, message: str, name: str) -> None:
        problems.append(Problem(code, message, name))

    ints = {
        "rate_bp": spec.rate_bp,
        "cap": spec.cap,
        "fixed_points": spec.fixed_points,
        "budget": spec.budget,
    }
    for name, value in ints.items():
        if not _is_int(value):
            add("not_integer", _("Enter a whole number."), name)
    if not _is_int(spec.cap) or not _is_int(spec.budget):
        return
    if not 1 <= spec.cap <= MAX_CAP:
        add("cap_invalid", _("The cap per person must be between 1 and %(max)s points.") % {"max": f"{MAX_CAP:,}"},
            "cap")  # fmt: skip
    if spec.budget < 0:
        add("budget_negative", _("The budget cannot be negative."), "budget")
    elif spec.budget > MAX_BUDGET:
        add("budget_too_large", _("The budget is too large."), "budget")
    if spec.kind == Campaign.Kind.PREMIUM and _is_int(spec.rate_bp) and _is_int(spec.fixed_points):
        if not 1 <= spec.rate_bp <= MAX_RATE_BP:
            add("rate_invalid", _("A premium campaign needs a rate above 0 % and at most 100 %."), "rate_bp")
        if spec.fixed_points != 0:
            add("fixed_not_for_premium", _("A premium campaign grants no fixed amount: leave it empty."),
                "fixed_points")  # fmt: skip
    elif spec.kind == Campaign.Kind.FIXED and _is_int(spec.rate_bp) and _is_int(spec.fixed_points):
        if spec.rate_bp != 0:
            add(
                "rate_not_for_fixed",
                _("A fixed-grant campaign has no premium rate: leave it empty."),
                "rate_bp",
            )
        if not 1 <= spec.fixed_points <= spec.cap:
            add("fixed_invalid", _("The fixed grant must be at least 1 point and at most the cap per person."),
                "fixed_points")  # fmt: skip


def _check_windows(spec: CampaignSpec, problems: list[Problem]) -> None:
    def add(code: str, message: str, name: str) -> None:
        problems.append(Problem(code, message, name))

    found = len(problems)
    for name in WINDOW_FIELDS:
        value = getattr(spec, name)
        if value is None:
            if name not in OPTIONAL_WINDOW_FIELDS:
                add("window_required", _("Enter the date and time."), name)
        elif not isinstance(value, datetime) or value.tzinfo is None:
            add("window_invalid", _("Enter the date and time."), name)
    if len(problems) > found:
        return
    r_start, r_end = spec.reservation_starts_at, spec.reservation_ends_at
    if (r_start is None) != (r_end is None):
        missing = "reservation_starts_at" if r_start is None else "reservation_ends_at"
        add("reservation_window_partial", _("Enter both the opening and the closing of reservations, or "
                                            "neither."), missing)  # fmt: skip
    elif r_start is None and spec.kind == Campaign.Kind.PREMIUM:
        add("reservation_window_required", _("A premium campaign needs a reservation window: residents reserve "
                                             "before they apply."), "reservation_starts_at")  # fmt: skip
    pairs = [("reservation_starts_at", "reservation_ends_at"), ("application_starts_at", "application_ends_at"),
             ("earning_starts_at", "earning_ends_at")]  # fmt: skip
    for start, end in pairs:
        s, e = getattr(spec, start), getattr(spec, end)
        if s is not None and e is not None and not s < e:
            add("window_reversed", _("The closing must come after the opening."), end)
    a_start, a_end = spec.application_starts_at, spec.application_ends_at
    if r_start is not None and r_end is not None:
        if r_start > a_start:
            add(
                "window_order",
                _("Reservations must open no later than applications."),
                "reservation_starts_at",
            )
        if r_end > a_end:
            add(
                "window_order",
                _("Reservations must close no later than applications."),
                "reservation_ends_at",
            )
    if spec.earning_starts_at < a_start:
        add("window_order", _("Earning cannot start before applications open."), "earning_starts_at")
    if spec.earning_ends_at < a_end:
        add("window_order", _("Earning cannot end before applications close."), "earning_ends_at")


def _campaign_problems(spec: CampaignSpec, *, exclude_pk: int | None) -> list[Problem]:
    problems: list[Problem] = []
    name = spec.name.strip()
    if not name:
        problems.append(Problem("name_required", _("Enter the name of the campaign."), "name"))
    elif len(name) > 200:
        problems.append(Problem("name_too_long", _("The name is too long (200 characters at most)."), "name"))
    elif Campaign.objects.filter(name__iexact=name).exclude(pk=exclude_pk).exists():
        problems.append(Problem("name_taken", _("Another campaign already has this name."), "name"))
    if spec.kind not in Campaign.Kind.values:
        problems.append(Problem("kind_invalid", _("Choose the kind of campaign."), "kind"))
    _check_numbers(spec, problems)
    _check_modes(spec.modes, problems)
    _check_windows(spec, problems)
    modes = set(spec.modes)
    for provider in spec.providers:
        if not modes & set(provider.modes):
            problems.append(Problem("provider_modes", _("%(name)s offers none of the campaign's modes.")
                                    % {"name": provider.name}, "providers"))  # fmt: skip
    return problems


def _campaign_fields(spec: CampaignSpec) -> dict:
    return {
        "name": spec.name.strip(), "kind": spec.kind, "rate_bp": spec.rate_bp, "cap": spec.cap,
        "fixed_points": spec.fixed_points, "modes": _ordered_modes(spec.modes), "budget": spec.budget,
        "reservation_starts_at": spec.reservation_starts_at, "reservation_ends_at": spec.reservation_ends_at,
        "application_starts_at": spec.application_starts_at, "application_ends_at": spec.application_ends_at,
        "earning_starts_at": spec.earning_starts_at, "earning_ends_at": spec.earning_ends_at,
    }  # fmt: skip


def _campaign_facts(fields: dict, providers: Iterable[PaymentProvider]) -> dict:
    """A campaign's configuration as the audit log keeps it: JSON, money grouped (see _yen)."""
    facts = {k: (v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v) for k, v in fields.items()}
    facts["budget"] = _yen(fields["budget"])
    facts["providers"] = sorted(p.code for p in providers)
    return facts


def campaign_create(*, code: str, spec: CampaignSpec, actor) -> Campaign:
    _require_operator(actor)
    code = code.strip()
    problems: list[Problem] = []
    _check_code(code, problems)
    if not problems and Campaign.objects.filter(code__iexact=code).exists():
        problems.append(Problem("code_taken", _("Another campaign already has this code."), "code"))
    problems += _campaign_problems(spec, exclude_pk=None)
    if problems:
        raise CatalogError(problems)
    fields = _campaign_fields(spec)
    try:
        with transaction.atomic():
            campaign = Campaign.objects.create(code=code, **fields)
            campaign.providers.set(spec.providers)
            audit.record(actor=actor, action="points.campaign_create", target=campaign,
                         details={"campaign": code, **_campaign_facts(fields, spec.providers)})  # fmt: skip
    except IntegrityError:
        raise _refuse("code_taken", _("Another campaign already has this code."), "code") from None
    return campaign


def _windows_valid(spec: CampaignSpec) -> bool:
    return all(isinstance(getattr(spec, n), datetime) and getattr(spec, n).tzinfo is not None
               for n in WINDOW_FIELDS if n not in OPTIONAL_WINDOW_FIELDS or getattr(spec, n) is not None)  # fmt: skip


def _committed_problems(locked: Campaign, spec: CampaignSpec, usage: CampaignUsage) -> list[Problem]:
    """What the edit would break of what is already committed in the campaign (`locked`: its row, locked)."""
    problems: list[Problem] = []

    def add(code: str, message: str, name: str) -> None:
        problems.append(Problem(code, message, name))

    fields = _campaign_fields(spec)
    if usage.locked:
        for name in LOCKED_AFTER_APPLICATIONS:
            old, new = getattr(locked, name), fields[name]
            if set(old) != set(new) if name == "modes" else old != new:
                add("locked_after_applications", locked_message(usage), name)
    if _is_int(spec.budget) and _is_int(spec.cap):
        if spec.budget < usage.reserved_budget:
            add("budget_below_reserved", _("Applications have reserved %(yen)s yen of the budget already: the "
                                           "budget cannot be lower.") % {"yen": _yen(usage.reserved_budget)},
                "budget")  # fmt: skip
        elif spec.budget < usage.reservations * spec.cap:
            add("budget_below_reservations", _("%(n)s reservations at %(cap)s points each need a budget of at least "
                                               "%(yen)s yen.") % {"n": f"{usage.reservations:,}", "cap": f"{spec.cap:,}",
                                                                  "yen": _yen(usage.reservations * spec.cap)},
                "budget")  # fmt: skip
    if _windows_valid(spec):
        # Once in use, a window may be closed earlier (a start may move earlier, an end either way), but it
        # cannot open later than it did; and residents who applied keep the whole earning period.
        r_start = locked.reservation_starts_at
        if (
            usage.reserved
            and r_start is not None
            and (spec.reservation_starts_at is None or spec.reservation_starts_at > r_start)
        ):
            add("window_in_use", _("Residents have reserved already: reservations cannot open later than they "
                                   "did."), "reservation_starts_at")  # fmt: skip
        if usage.applied:
            if spec.application_starts_at > locked.application_starts_at:
                add("window_in_use", _("Residents have applied already: applications cannot open later than they "
                                       "did."), "application_starts_at")  # fmt: skip
            if spec.earning_starts_at > locked.earning_starts_at:
                add("window_in_use", _("Residents have applied already: earning cannot start later than it did."),
                    "earning_starts_at")  # fmt: skip
            if spec.earning_ends_at < locked.earning_ends_at:
                add("window_in_use", _("Residents have applied already: earning cannot end earlier than it did."),
                    "earning_ends_at")  # fmt: skip
        # After the final settlement (精算) was claimed, the earning period is closed for good: points earned in
        # a reopened period would reach the State only as 返還 lines of later statements.
        if (spec.earning_starts_at, spec.earning_ends_at) != (
            locked.earning_starts_at,
            locked.earning_ends_at,
        ) and (
            Statement.objects.filter(campaign=locked, kind=Statement.Kind.FINAL, status__in=FROZEN).exists()
        ):
            add("finally_settled", _("The campaign's final settlement (精算) has been claimed: its earning period "
                                     "can no longer change."), "earning_ends_at")  # fmt: skip
    if usage.applied:
        # A provider's transactions count only in the campaigns that list it: one that residents chose stays.
        kept = {p.pk for p in spec.providers}
        removed = [p for p in locked.providers.order_by("name") if p.pk not in kept]
        in_use = [p.name for p in removed if Application.objects.filter(campaign=locked, provider=p).exists()]
        if in_use:
            add("provider_in_use", _("Residents have applied with these payment services, so they stay in the "
                                     "campaign: %(names)s.") % {"names": "、".join(in_use)}, "providers")  # fmt: skip
    return problems


def campaign_update(*, campaign: Campaign, spec: CampaignSpec, actor) -> Campaign:
    """Edit a campaign. Its code does not change. The campaign row is locked for the checks and the write, so
    an application reserving budget at the same moment waits, and is then checked against the new figures;
    the counters that applications and reservations keep (reserved budget, reservations) are never written."""
    _require_operator(actor)
    problems = _campaign_problems(spec, exclude_pk=campaign.pk)
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        problems += _committed_problems(locked, spec, campaign_usage(locked))
        if problems:
            raise CatalogError(problems)
        fields = _campaign_fields(spec)
        old_providers = list(locked.providers.all())
        before = _campaign_facts({k: getattr(locked, k) for k in fields}, old_providers)
        Campaign.objects.filter(pk=locked.pk).update(**fields)
        locked.providers.set(spec.providers)
        changes = _changes(before, _campaign_facts(fields, spec.providers))
        if changes:
            audit.record(actor=actor, action="points.campaign_update", target=locked,
                         details={"campaign": locked.code, "changes": changes})  # fmt: skip
    locked.refresh_from_db()
    return locked

"""マイナポイント reads for the pages: which campaigns are open, where a resident stands in each, the point
accounts and their history. No writes here; those are in points.services."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from madoguchi.identity.models import Resident
from madoguchi.points.models import (
    Application,
    Campaign,
    Mode,
    PaymentProvider,
    ProviderTransaction,
    Reservation,
)


def _within(start: datetime | None, end: datetime | None, at: datetime) -> bool:
    # The same reading of a window as points.services: a missing bound leaves that side open.
    return (start is None or start <= at) and (end is None or at <= end)


def rate_percent(rate_bp: int) -> str:
    """2500 → "25", 1250 → "12.5": basis points shown as a percentage without floats."""
    whole, rest = divmod(rate_bp, 100)
    return f"{whole}.{rest:02d}".rstrip("0").rstrip(".") if rest else str(whole)


@dataclass(frozen=True)
class CampaignStatus:
    """One campaign as one resident sees it now."""

    campaign: Campaign
    reservation: Reservation | None
    application: Application | None
    now: datetime = field(default_factory=timezone.now)

    @property
    def needs_reservation(self) -> bool:
        # Only the premium campaign has the 予約 step (points.services asks for it before applying).
        return self.campaign.kind == Campaign.Kind.PREMIUM

    @property
    def reservation_open(self) -> bool:
        c = self.campaign
        return _within(c.reservation_starts_at, c.reservation_ends_at, self.now)

    @property
    def application_open(self) -> bool:
        c = self.campaign
        return _within(c.application_starts_at, c.application_ends_at, self.now)

    @property
    def reservations_full(self) -> bool:
        return self.campaign.reservations >= self.campaign.reservation_capacity

    @property
    def can_reserve(self) -> bool:
        return (
            self.needs_reservation
            and self.reservation is None
            and self.reservation_open
            and not self.reservations_full
        )

    @property
    def can_apply(self) -> bool:
        return (
            self.application is None
            and self.application_open
            and (self.reservation is not None or not self.needs_reservation)
        )

    @property
    def rate_percent(self) -> str:
        return rate_percent(self.campaign.rate_bp)


def open_campaigns(now: datetime | None = None) -> QuerySet[Campaign]:
    """Campaigns with a window open now: reservation, application or earning."""
    now = now or timezone.now()
    reservation = (
        Q(reservation_starts_at__lte=now)
        & (
            Q(reservation_ends_at__gte=now)
            | Q(reservation_ends_at__isnull=True, application_ends_at__gte=now)
        )
    ) | Q(reservation_starts_at__isnull=True, reservation_ends_at__gte=now)
    application = Q(application_starts_at__lte=now, application_ends_at__gte=now)
    earning = Q(earning_starts_at__lte=now, earning_ends_at__gte=now)
    return Campaign.objects.filter(reservation | application | earning).order_by(
        "application_starts_at", "code"
    )


def campaign_by_code(code: str) -> Campaign | None:
    return Campaign.objects.filter(code=code).first()


def campaign_statuses(resident: Resident, now: datetime | None = None) -> list[CampaignStatus]:
    """Every open campaign with the resident's reservation and application in it (three queries in all)."""
    now = now or timezone.now()
    campaigns = list(open_campaigns(now))
    ids = [c.pk for c in campaigns]
    reservations = {
        r.campaign_id: r for r in Reservation.objects.filter(resident=resident, campaign_id__in=ids)
    }
    applications = {
        a.campaign_id: a
        for a in Application.objects.filter(resident=resident, campaign_id__in=ids).select_related(
            "provider", "account"
        )
    }
    return [CampaignStatus(c, reservations.get(c.pk), applications.get(c.pk), now) for c in campaigns]


def campaign_status(resident: Resident, campaign: Campaign) -> CampaignStatus:
    return CampaignStatus(
        campaign,
        Reservation.objects.filter(resident=resident, campaign=campaign).first(),
        Application.objects.filter(resident=resident, campaign=campaign)
        .select_related("provider", "account", "clerk")
        .first(),
    )


def eligible_providers(campaign: Campaign) -> QuerySet[PaymentProvider]:
    """The campaign's payment services that take applications now (active ones), by name."""
    return campaign.providers.filter(active=True).order_by("name", "pk")


def eligible_modes(campaign: Campaign, providers) -> list[tuple[str, str]]:
    """(value, label) of the modes the campaign allows AND at least one of `providers` offers."""
    offered = {m for p in providers for m in (p.modes or [])}
    return [(value, label) for value, label in Mode.choices if value in campaign.modes and value in offered]


def resident_applications(resident: Resident) -> QuerySet[Application]:
    """The resident's applications with their point accounts, newest first."""
    return (
        Application.objects.filter(resident=resident)
        .select_related("campaign", "provider", "account")
        .order_by("-created_at", "-pk")
    )


def resident_application(resident: Resident, application_id: int) -> Application | None:
    return resident_applications(resident).filter(pk=application_id).first()


def account_history(application: Application) -> QuerySet[ProviderTransaction]:
    """Grants and clawbacks on the application's point account (rows that moved points), newest first."""
    return (
        ProviderTransaction.objects.filter(account_id=application.account.pk)
        .exclude(points=0)
        .order_by("-recorded_at", "-pk")
    )


@dataclass(frozen=True)
class AccountSummary:
    """An application with its point account: points so far and the headroom left under the cap."""

    application: Application

    @property
    def granted(self) -> int:
        return self.application.account.granted

    @property
    def cap(self) -> int:
        return self.application.account.cap

    @property
    def remaining(self) -> int:
        return max(self.cap - self.granted, 0)


def resident_point_summaries(resident: Resident) -> list[AccountSummary]:
    return [AccountSummary(a) for a in resident_applications(resident)]


# --- Children under 15 and their legal representative ------------------------------------------------------
def represented_applications(representative: Resident) -> QuerySet[Application]:
    """The applications this resident made as legal representative for a child, newest first. Only those:
    a representative sees nothing else of the child (no other applications, nothing of other residents)."""
    return (
        Application.objects.filter(representative=representative)
        .exclude(resident=representative)
        .select_related("campaign", "provider", "account", "resident")
        .order_by("-created_at", "-pk")
    )


def represented_point_summaries(representative: Resident) -> list[AccountSummary]:
    return [AccountSummary(a) for a in represented_applications(representative)]


def visible_application(resident: Resident, application_id: int) -> Application | None:
    """One of the resident's own applications, or one they made for a child; None for any other."""
    return (
        resident_application(resident, application_id)
        or represented_applications(resident).filter(pk=application_id).first()
    )


def child_resident(child_id: int) -> Resident:
    """The child a representative identified with the child's card (points.services.ChildIdentity)."""
    return Resident.objects.get(pk=child_id)

"""マイナポイント: campaigns, payment providers, reservations, applications, the points ledger.

Money and points are integer yen (1 point = 1 yen). The database keeps the invariants that matter:
- a point account's granted total stays within [0, cap] (CHECK), updated under row locks in pk order;
- a campaign's reserved budget never exceeds its budget (CHECK), updated with F() under a row lock;
- one application per resident per campaign, one provider account per campaign (UNIQUE), and one holder
  per provider account across campaigns (UNIQUE, AccountHolder);
- one answer per provider transaction id (UNIQUE), which is what makes ingestion idempotent.
"""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from madoguchi.core.models import Municipality
from madoguchi.identity.models import DeskSession, Resident, User


class Mode(models.TextChoices):
    CHARGE = "charge", _("charge (前払い)")
    PURCHASE = "purchase", _("purchase (物品等の購入)")


class Campaign(models.Model):
    """A programme variant, by configuration: a premium on spending (2020) or a fixed grant (2022)."""

    class Kind(models.TextChoices):
        PREMIUM = "premium", _("premium on charges/purchases")
        FIXED = "fixed", _("fixed grant for a qualifying action")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    # Premium in basis points (2500 = 25%) so that the rate is an integer too.
    rate_bp = models.PositiveIntegerField(_("premium rate (basis points)"), default=0)
    cap = models.PositiveIntegerField(_("cap per person (points)"))
    fixed_points = models.PositiveIntegerField(_("fixed grant (points)"), default=0)
    modes = models.JSONField(_("eligible modes"), default=list, blank=True)
    budget = models.PositiveBigIntegerField(_("budget (yen)"))
    reserved_budget = models.PositiveBigIntegerField(_("budget reserved by applications (yen)"), default=0)
    reservations = models.PositiveBigIntegerField(_("reservations"), default=0)
    reservation_starts_at = models.DateTimeField(_("reservation opens"), null=True, blank=True)
    reservation_ends_at = models.DateTimeField(_("reservation closes"), null=True, blank=True)
    application_starts_at = models.DateTimeField(_("application opens"))
    application_ends_at = models.DateTimeField(_("application closes"))
    earning_starts_at = models.DateTimeField(_("earning starts"))
    earning_ends_at = models.DateTimeField(_("earning ends"))
    providers = models.ManyToManyField("PaymentProvider", related_name="campaigns", blank=True)

    class Meta:
        ordering = ["application_starts_at", "code"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.CheckConstraint(
                condition=Q(reserved_budget__lte=F("budget")), name="campaign_budget_not_exceeded"
            ),
            models.CheckConstraint(condition=Q(rate_bp__lte=10000), name="campaign_rate_at_most_100pct"),
            # Reservations close once reservations × cap reach the budget.
            models.CheckConstraint(
                condition=Q(budget__gte=F("reservations") * F("cap")),
                name="campaign_reservations_within_budget",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def reservation_capacity(self) -> int:
        """How many reservations the budget covers: reservations close once reservations × cap reach it."""
        return self.budget // self.cap if self.cap else 0


class PaymentProvider(models.Model):
    class Type(models.TextChoices):
        QR = "qr", _("QR code payment")
        EMONEY = "emoney", _("e-money")
        CREDIT = "credit", _("credit card")
        DEBIT = "debit", _("debit card")
        PREPAID = "prepaid", _("prepaid card")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    type = models.CharField(_("type"), max_length=8, choices=Type.choices)
    modes = models.JSONField(_("modes offered"), default=list)
    callback_url = models.URLField(_("account confirmation URL"), max_length=300)
    callback_secret = models.CharField(max_length=64, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("payment provider")
        verbose_name_plural = _("payment providers")

    def __str__(self) -> str:
        return self.name


class ProviderApiKey(models.Model):
    """A provider's API key: shown once, stored as SHA-256, revocable; `prefix` identifies it in lists."""

    provider = models.ForeignKey(PaymentProvider, on_delete=models.CASCADE, related_name="api_keys")
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.provider.code}:{self.prefix}"


class Reservation(models.Model):
    """予約: sets up the resident's MyKey ID for the campaign. Closes when reservations × cap reach the budget."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="point_reservations")
    created_at = models.DateTimeField(auto_now_add=True)
    desk_session = models.ForeignKey(
        DeskSession, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "resident"], name="reservation_once")]

    def __str__(self) -> str:
        return f"reservation {self.pk}"


class Application(models.Model):
    """申込み: one payment service and one mode, final and irrevocable."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="applications")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="point_applications")
    provider = models.ForeignKey(PaymentProvider, on_delete=models.PROTECT, related_name="applications")
    mode = models.CharField(_("mode"), max_length=8, choices=Mode.choices)
    service_account = models.CharField(_("payment service ID"), max_length=64)
    # For a child under 15: the legal representative who applied (their own resident record).
    representative = models.ForeignKey(
        Resident, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    desk_session = models.ForeignKey(
        DeskSession, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    clerk = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "resident"], name="application_once_per_campaign"),
            models.UniqueConstraint(
                fields=["campaign", "provider", "service_account"], name="application_account_once"
            ),
        ]

    def __str__(self) -> str:
        return f"application {self.pk}"


class PointAccount(models.Model):
    """The running total of one application; the database keeps 0 ≤ granted ≤ cap.

    `granted` is updated by every batch of grants: on PostgreSQL the table keeps free room in each page
    (fillfactor 60, migration 0004) so that those updates are HOT (no index touched, `granted` being in none)."""

    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="account")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="+")
    # No index of its own: UNIQUE (provider, service_account, campaign) below leads with it.
    provider = models.ForeignKey(PaymentProvider, on_delete=models.PROTECT, related_name="+", db_index=False)
    service_account = models.CharField(max_length=64)
    mode = models.CharField(max_length=8, choices=Mode.choices)
    cap = models.PositiveIntegerField()
    granted = models.PositiveIntegerField(default=0)
    # When the application was accepted: a charge or purchase made before it earns nothing (DOMAIN §2: the
    # resident applies, *then* spends). Kept here, beside the headroom, so a grant reads it with the lock.
    enrolled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(granted__lte=F("cap")), name="point_account_within_cap"),
            models.UniqueConstraint(
                fields=["provider", "service_account", "campaign"], name="point_account_lookup"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id}:{self.service_account}"


class AccountHolder(models.Model):
    """Who holds a payment-service account, across every campaign: one provider account is registered by one
    person only (DOMAIN §2), whichever campaign (2020 or a 2022 variant) it is registered in. The first
    accepted application claims it; the same resident may register it again in another campaign."""

    provider = models.ForeignKey(PaymentProvider, on_delete=models.PROTECT, related_name="+", db_index=False)
    service_account = models.CharField(_("payment service ID"), max_length=64)
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "service_account"], name="account_holder_once"),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id}:{self.service_account}"


class ProviderTransaction(models.Model):
    """Every item a provider sent, with the answer it got. UNIQUE (provider, kind, external_id): the same id
    again returns the stored answer and grants nothing twice."""

    class Kind(models.TextChoices):
        TRANSACTION = "tx", _("charge or purchase")
        REFUND = "refund", _("refund")
        # A phase-2 fixed grant: its own id space, so a provider's transaction id can never collide with it.
        FIXED = "fixed", _("fixed grant")

    class Status(models.TextChoices):
        GRANTED = "granted", _("granted")
        CAPPED = "capped", _("granted up to the cap")
        NOT_ENROLLED = "not_enrolled", _("account not enrolled")
        WRONG_MODE = "wrong_mode", _("mode does not match the application")
        OUTSIDE_PERIOD = "outside_period", _("outside the earning period")
        INVALID = "invalid", _("invalid")
        CLAWED_BACK = "clawed_back", _("clawed back")
        UNKNOWN_ORIGINAL = "unknown_original", _("original transaction unknown")

    # The indexes are what every ledger row costs to write, so there are only those that queries need:
    # UNIQUE (provider, kind, external_id) (idempotency; its leading column also serves settlement by provider),
    # (account, recorded_at) (a resident's history; its leading column serves the account foreign key) and
    # original WHERE original IS NOT NULL (refunds of a transaction; most rows are not refunds). The foreign
    # keys themselves stay: the database checks every reference.
    provider = models.ForeignKey(PaymentProvider, on_delete=models.PROTECT, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    external_id = models.CharField(max_length=64)
    fingerprint = models.CharField(
        max_length=64
    )  # SHA-256 of the item's content: same id, other content = conflict
    account = models.ForeignKey(
        PointAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    original = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds", db_index=False
    )
    amount = models.BigIntegerField()
    occurred_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    points = models.IntegerField(default=0)  # granted (> 0) or clawed back (< 0)
    remaining = models.IntegerField(default=0)  # headroom after this item
    clawed_back = models.PositiveIntegerField(default=0)  # points refunded so far against this transaction
    recorded_at = models.DateTimeField(auto_now_add=True)
    # YYYYMM of recording, for monthly settlement. Not indexed: a statement reads every unsettled row of its
    # provider up to the month (most of them), through the provider prefix of UNIQUE (provider, kind, external_id).
    month = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "kind", "external_id"], name="provider_tx_once"),
            models.CheckConstraint(
                condition=Q(clawed_back__lte=F("points")) | Q(points__lt=0), name="clawback_within_grant"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "recorded_at"], name="provider_tx_account_idx"),
            models.Index(
                fields=["original"], condition=Q(original__isnull=False), name="provider_tx_refunds_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id}:{self.kind}:{self.external_id}"


class FixedGrant(models.Model):
    """A phase-2 fixed grant: one per resident per campaign, and one per qualifying action (its `reference`,
    e.g. the record of the health-insurance registration) per campaign, whichever payment service the points
    go to. The points themselves are the ledger row `transaction` (kind "fixed", id "<campaign id>:<reference>"
    in the fixed grants' own id space)."""

    REFERENCE_MAX = 50  # the ledger id adds "<campaign id>:" within its 64 characters

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=64)
    transaction = models.OneToOneField("ProviderTransaction", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "resident"], name="fixed_grant_once_per_resident"),
            models.UniqueConstraint(fields=["campaign", "reference"], name="fixed_grant_once_per_reference"),
        ]

    def __str__(self) -> str:
        return f"fixed grant {self.campaign_id}:{self.reference}"


# --- Settlement (精算) --------------------------------------------------------------------------------------
class Statement(models.Model):
    """What the State owes a payment provider (or the provider owes back) for one campaign and one period.

    - estimate (概算払い): one per month; covers the ledger rows recorded up to that month not yet settled.
    - final (精算払い): one per campaign after earning ends; the whole campaign against the estimates paid.
    - repayment (返還): late rows after the final settlement (a refund after settlement is repaid).

    Which ledger rows a statement settled is recorded in StatementEntry, one row per ledger row, ever: that is
    what keeps a row from being counted twice or missed, whatever order rows commit in. The figures are
    provisional while draft and frozen (with their entries) when the statement is claimed.
    `amount_due` > 0: the State pays the provider; < 0: the provider repays the State. All integer yen.
    """

    class Kind(models.TextChoices):
        ESTIMATE = "estimate", _("estimate payment (概算払い)")
        FINAL = "final", _("final settlement (精算払い)")
        REPAYMENT = "repayment", _("repayment (返還)")

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        CLAIMED = "claimed", _("claimed")
        APPROVED = "approved", _("approved")
        PAID = "paid", _("paid")

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="statements")
    provider = models.ForeignKey(PaymentProvider, on_delete=models.PROTECT, related_name="statements")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    # YYYYMM: for an estimate the month it settles; for a final or repayment the month it was drawn up in.
    month = models.PositiveIntegerField(_("month"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    granted_points = models.BigIntegerField(_("points granted"), default=0)
    granted_rows = models.PositiveIntegerField(default=0)
    clawed_back_points = models.BigIntegerField(_("points clawed back"), default=0)
    clawed_back_rows = models.PositiveIntegerField(default=0)
    # Clawbacks of grants that an earlier statement already claimed: money to be repaid.
    repayment_points = models.BigIntegerField(_("repayments of settled points"), default=0)
    repayment_rows = models.PositiveIntegerField(default=0)
    net_points = models.BigIntegerField(_("net"), default=0)
    # Final settlement only: every month's net, and what the estimates already paid.
    total_net_points = models.BigIntegerField(_("net of the whole campaign"), default=0)
    estimates_paid_points = models.BigIntegerField(_("estimates paid"), default=0)
    amount_due = models.BigIntegerField(_("amount due (yen)"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    computed_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    claimed_by_label = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-month", "provider_id", "kind"]
        verbose_name = _("settlement statement")
        verbose_name_plural = _("settlement statements")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "provider", "kind", "month"], name="statement_once"),
            models.UniqueConstraint(
                fields=["campaign", "provider"], condition=Q(kind="final"), name="statement_one_final"
            ),
            models.CheckConstraint(
                condition=Q(net_points=F("granted_points") - F("clawed_back_points") - F("repayment_points")),
                name="statement_net_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(granted_points__gte=0, clawed_back_points__gte=0, repayment_points__gte=0),
                name="statement_lines_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(month__gte=190001, month__lte=999912), name="statement_month_yyyymm"
            ),
        ]
        indexes = [models.Index(fields=["status", "month"], name="statement_status_idx")]

    def __str__(self) -> str:
        return f"{self.provider_id}:{self.campaign_id}:{self.kind}:{self.month}"

    @property
    def frozen(self) -> bool:
        return self.status != self.Status.DRAFT

    @property
    def period(self) -> str:
        """The month as YYYY-MM."""
        return f"{self.month // 100:04d}-{self.month % 100:02d}"


class StatementEntry(models.Model):
    """One ledger row settled by one statement. The ledger row is the primary key: settled once, ever."""

    class Line(models.TextChoices):
        GRANT = "grant", _("grant")
        CLAWBACK = "clawback", _("clawback")
        REPAYMENT = "repayment", _("repayment")

    ledger = models.OneToOneField(
        ProviderTransaction, on_delete=models.PROTECT, primary_key=True, related_name="settlement"
    )
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="entries")
    line = models.CharField(max_length=10, choices=Line.choices)

    class Meta:
        verbose_name = _("settled ledger row")
        verbose_name_plural = _("settled ledger rows")

    def __str__(self) -> str:
        return f"{self.ledger_id}→{self.statement_id}"

"""汎用的電子申請: the procedure catalogue, form versions, submissions and their processing.

The database keeps the invariants that matter:
- a published form version never changes, and a submission's signed revision never changes (triggers refuse
  the UPDATE; migration 0002), so a signature stays verifiable for the whole retention period;
- one procedure code per municipality, one reference number per submission, one open draft per resident and
  procedure (UNIQUE);
- a submission has at most one payment that is open or paid (partial UNIQUE): no double charge;
- fees and counts are integers (CHECK ≥ 0).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from madoguchi.core.models import Municipality


class Category(models.TextChoices):
    KOSODATE = "kosodate", _("child-raising (子育て)")
    KAIGO = "kaigo", _("nursing care (介護)")
    HISAI = "hisai", _("disaster support (被災者支援)")
    ZEIMU = "zeimu", _("taxes (税)")
    KURASHI = "kurashi", _("daily life (くらし)")
    SHISETSU = "shisetsu", _("facilities and events (施設・イベント)")
    TOSHI = "toshi", _("building, roads and ports (まちづくり)")
    SANGYO = "sangyo", _("business and bidding (産業・入札)")
    HOKEN = "hoken", _("health (保健)")
    JINJI = "jinji", _("recruitment and surveys (職員採用・調査)")


class LifeEvent(models.TextChoices):
    BIRTH = "birth", _("birth (出生)")
    CHILDCARE = "childcare", _("childcare (子育て)")
    MARRIAGE = "marriage", _("marriage (結婚)")
    MOVING = "moving", _("moving (引越し)")
    DEATH = "death", _("death (おくやみ)")
    NURSING_CARE = "nursing_care", _("nursing care (介護)")
    DISASTER = "disaster", _("disaster (被災)")
    BUSINESS = "business", _("business (事業)")
    DAILY_LIFE = "daily_life", _("daily life (くらし)")
    EMPLOYMENT = "employment", _("employment (就職)")
    HEALTH = "health", _("health (健康)")


class ProcedureInfo(models.Model):
    """What the catalogue shows of a procedure; shared by national templates and municipal procedures.

    Texts that have an English version keep it beside the Japanese (`name_en`, `summary_en`); the longer
    descriptive texts are `{"ja": …, "en": …}` dicts in `texts` (who may apply, requirements, reception period,
    legal basis).
    """

    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    summary = models.TextField(_("summary"), blank=True)
    summary_en = models.TextField(_("summary (English)"), blank=True)
    texts = models.JSONField(_("descriptions"), default=dict, blank=True)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    life_events = models.JSONField(_("life events"), default=list, blank=True)
    signature_required = models.BooleanField(_("electronic signature required"), default=False)
    fee_yen = models.PositiveIntegerField(_("fee (yen)"), default=0)
    retention_years = models.PositiveSmallIntegerField(_("retention period (years)"), default=5)
    online = models.BooleanField(_("can be completed online"), default=True)
    # normalize_search_text(name + kana + summary + category label …): the catalogue's keyword index.
    search_text = models.TextField(editable=False, blank=True)

    class Meta:
        abstract = True

    def text(self, key: str, language: str = "ja") -> str:
        value = (self.texts or {}).get(key) or {}
        return value.get(language) or value.get("ja") or ""


class ProcedureTemplate(ProcedureInfo):
    """A national template (国が示す標準様式): what a municipality adopts as is."""

    class Group(models.TextChoices):
        HIGH_VOLUME = "high_volume22", _("the 22 high-volume procedures")
        KOSODATE = "kosodate15", _("child-raising one-stop (15)")
        KAIGO = "kaigo11", _("nursing-care one-stop (11)")
        HISAI = "hisai7", _("disaster-support one-stop (7)")
        DEMO = "demo", _("other common procedures")

    code = models.SlugField(_("code"), max_length=64, unique=True)
    group = models.CharField(_("deck list"), max_length=16, choices=Group.choices)
    deck_number = models.PositiveSmallIntegerField(_("number in the deck's list"), null=True, blank=True)
    form_definition = models.JSONField(_("standard form"))

    class Meta:
        ordering = ["group", "deck_number", "code"]
        verbose_name = _("national procedure template")
        verbose_name_plural = _("national procedure templates")

    def __str__(self) -> str:
        return self.name


class Procedure(ProcedureInfo):
    """A municipality's procedure: an adopted national template or its own."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft (not yet published)")
        PUBLISHED = "published", _("accepting applications")
        SUSPENDED = "suspended", _("suspended")

    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, related_name="procedures", verbose_name=_("municipality")
    )
    code = models.SlugField(_("code"), max_length=64)
    template = models.ForeignKey(
        ProcedureTemplate, on_delete=models.PROTECT, null=True, blank=True, related_name="adoptions",
        verbose_name=_("national template"),
    )  # fmt: skip
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    department = models.CharField(_("department in charge"), max_length=100, blank=True)
    contact = models.TextField(_("contact"), blank=True)
    reception_starts_on = models.DateField(_("reception opens"), null=True, blank=True)
    reception_ends_on = models.DateField(_("reception closes"), null=True, blank=True)
    processing_days = models.PositiveSmallIntegerField(
        _("standard processing time (business days)"), default=10
    )
    current_version = models.ForeignKey(
        "FormVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("published form"),
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["municipality", "category", "name"]
        verbose_name = _("procedure")
        verbose_name_plural = _("procedures")
        constraints = [
            models.UniqueConstraint(fields=["municipality", "code"], name="procedure_code_per_municipality"),
            models.CheckConstraint(
                condition=Q(reception_ends_on__isnull=True)
                | Q(reception_starts_on__isnull=True)
                | Q(reception_ends_on__gte=models.F("reception_starts_on")),
                name="procedure_reception_period_ordered",
            ),
        ]
        indexes = [models.Index(fields=["municipality", "status"], name="procedure_muni_status")]

    def __str__(self) -> str:
        return self.name

    @property
    def adopted(self) -> bool:
        """Adopted as is from a national template: only contact, fee and period may differ."""
        return self.template_id is not None


class FormVersion(models.Model):
    """One version of a procedure's form definition (JSON, docs/procedures-form-schema.md).

    draft → published (frozen for ever; submissions point at it) → retired (a newer one was published).
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        PUBLISHED = "published", _("published")
        RETIRED = "retired", _("retired")

    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    definition = models.JSONField(_("definition"))
    sha256 = models.CharField(max_length=64)
    field_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["procedure", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["procedure", "number"], name="formversion_number_unique"),
            models.UniqueConstraint(
                fields=["procedure"], condition=Q(status="draft"), name="formversion_one_draft"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.procedure_id} v{self.number} ({self.status})"


class Submission(models.Model):
    """One application (申請), online or recorded by staff from paper or the counter."""

    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", _("awaiting payment")
        SUBMITTED = "submitted", _("submitted")
        IN_REVIEW = "in_review", _("in review")
        CORRECTION_REQUESTED = "correction_requested", _("correction requested")
        RESUBMITTED = "resubmitted", _("resubmitted")
        ACCEPTED = "accepted", _("accepted")
        REFUSED = "refused", _("refused")
        COMPLETED = "completed", _("completed")
        WITHDRAWN = "withdrawn", _("withdrawn")

    class Channel(models.TextChoices):
        ONLINE = "online", _("online")
        COUNTER = "counter", _("at the counter")
        PAPER = "paper", _("on paper (by post)")

    class PaymentState(models.TextChoices):
        NOT_REQUIRED = "not_required", _("no fee")
        PENDING = "pending", _("awaiting payment")
        PAID = "paid", _("paid")

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="submissions")
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="submissions")
    form_version = models.ForeignKey(FormVersion, on_delete=models.PROTECT, related_name="submissions")
    reference = models.CharField(_("reference number"), max_length=20, unique=True)
    secret_hash = models.CharField(max_length=64, blank=True)  # sha256 of the lookup secret shown once
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.ONLINE)
    status = models.CharField(_("status"), max_length=24, choices=Status.choices)
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="submissions"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("recorded by (staff)"),
    )  # fmt: skip
    applicant_name = models.CharField(_("applicant"), max_length=200, blank=True)
    contact_email = models.EmailField(_("e-mail for notices"), blank=True)
    fee_yen = models.PositiveIntegerField(_("fee (yen)"), default=0)
    payment_state = models.CharField(max_length=12, choices=PaymentState.choices, default="not_required")
    filing = models.ForeignKey(
        "BundleFiling", on_delete=models.PROTECT, null=True, blank=True, related_name="submissions"
    )
    # Filed at the municipal desk (窓口モード) by a clerk for the resident identified in that desk session.
    desk_session = models.ForeignKey(
        "identity.DeskSession", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("desk session"),
    )  # fmt: skip
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("filed at the desk by (clerk)"),
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    fiscal_year = models.PositiveSmallIntegerField(_("fiscal year"), null=True, blank=True)
    due_on = models.DateField(_("due"), null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("assigned to"),
    )  # fmt: skip
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    retain_until = models.DateField(_("kept until"), null=True, blank=True)
    purged_at = models.DateTimeField(_("deleted at end of retention"), null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")
        indexes = [
            models.Index(fields=["municipality", "status", "due_on"], name="submission_inbox"),
            models.Index(fields=["municipality", "procedure", "fiscal_year"], name="submission_stats"),
            models.Index(fields=["applicant", "-created_at"], name="submission_applicant"),
            models.Index(fields=["retain_until"], name="submission_retention"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def current_revision(self):
        return self.revisions.order_by("-number").first()


class SubmissionRevision(models.Model):
    """The answers of a submission as filed: the first filing and each resubmission after a correction.

    Append-only (UPDATE refused by trigger). `canonical` is exactly what the applicant signed, `signature` the
    CMS signature over it; the signer's certificate serial/issuer are kept for the record.
    """

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveSmallIntegerField()
    answers = models.JSONField()
    canonical = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    signature = models.BinaryField(null=True, blank=True)
    signer_serial = models.CharField(max_length=64, blank=True)
    signer_issuer = models.CharField(max_length=255, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["submission", "number"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "number"], name="revision_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.submission_id} r{self.number}"

    @property
    def signed(self) -> bool:
        return self.signature is not None


class SubmissionEvent(models.Model):
    """What happened to a submission: status changes, messages to the applicant, internal notes."""

    class Kind(models.TextChoices):
        STATUS = "status", _("status change")
        MESSAGE = "message", _("message to the applicant")
        REPLY = "reply", _("message from the applicant")
        NOTE = "note", _("internal note")
        ASSIGNMENT = "assignment", _("assignment")
        PAYMENT = "payment", _("payment")

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    body = models.TextField(blank=True)
    visible_to_applicant = models.BooleanField(default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["submission", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.submission_id} {self.kind}"


class Draft(models.Model):
    """Save and resume: a signed-in resident's unfinished answers (one per resident and procedure)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="+")
    form_version = models.ForeignKey(FormVersion, on_delete=models.CASCADE, related_name="+")
    answers = models.JSONField(default=dict)
    page = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "procedure"], name="draft_one_per_procedure")]

    def __str__(self) -> str:
        return f"draft {self.procedure_id} of {self.user_id}"


class Attachment(models.Model):
    """A file an applicant attached, after 無害化 (security.services.sanitize_upload). Only clean bytes."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="+")
    submission = models.ForeignKey(
        Submission, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    owner_key = models.CharField(max_length=64)  # the uploader: "user:<pk>" or "session:<hash>"
    field_key = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField()
    report = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Payment(models.Model):
    """A fee payment through the gateway (procedures.payments), or cash taken by a clerk at the desk (method
    "cash", `received_by`). One open-or-paid payment per submission."""

    class Status(models.TextChoices):
        CREATED = "created", _("created")
        SUCCEEDED = "succeeded", _("paid")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    class Method(models.TextChoices):
        GATEWAY = "gateway", _("online payment")
        CASH = "cash", _("cash at the counter")

    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="payments")
    reference = models.CharField(max_length=40, unique=True)  # our order id = the gateway's idempotency key
    method = models.CharField(max_length=8, choices=Method.choices, default=Method.GATEWAY)
    # For cash at the counter: the clerk who took it (the gateway's payments have none).
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    amount = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATED)
    gateway_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    next_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["submission"],
                condition=Q(status__in=["created", "succeeded"]),
                name="payment_one_open_or_paid",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.reference


class LifeEventBundle(models.Model):
    """ワンストップ: one entry that asks shared questions once and files several procedures' submissions.

    National bundles have no municipality and name template codes; a municipality's own bundle names its
    procedure codes. `mapping` = {procedure or template code: {field key in its form: shared field key}}.
    """

    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, null=True, blank=True, related_name="life_event_bundles"
    )
    code = models.SlugField(max_length=64)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    life_event = models.CharField(_("life event"), max_length=16, choices=LifeEvent.choices)
    procedure_codes = models.JSONField(_("procedures"), default=list)
    shared_definition = models.JSONField(_("shared questions"))
    mapping = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["code"], condition=Q(municipality__isnull=True), name="bundle_national_code"
            ),
            models.UniqueConstraint(fields=["municipality", "code"], name="bundle_code_per_municipality"),
        ]

    def __str__(self) -> str:
        return self.name


class BundleFiling(models.Model):
    """One use of a bundle: the shared answers and the submissions it filed."""

    bundle = models.ForeignKey(LifeEventBundle, on_delete=models.PROTECT, related_name="filings")
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    applicant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.bundle_id} filing {self.pk}"


class UsageTally(models.Model):
    """Cases received outside the platform, counted in bulk by staff (for the online-usage statistics)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="tallies")
    fiscal_year = models.PositiveSmallIntegerField(_("fiscal year"))
    channel = models.CharField(_("channel"), max_length=8, choices=Submission.Channel.choices)
    count = models.PositiveIntegerField(_("cases"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["procedure", "fiscal_year", "channel"], name="tally_one_per_channel_year"
            ),
            models.CheckConstraint(condition=~Q(channel="online"), name="tally_offline_only"),
        ]

    def __str__(self) -> str:
        return f"{self.procedure_id} FY{self.fiscal_year} {self.channel}: {self.count}"

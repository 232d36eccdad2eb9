"""The public-body workflow of 行政機関等匿名加工情報 (個人情報保護法 第109–121条), leak reports (法第68条) and
data-subject requests (開示 第76条–, 訂正 第90条–, 利用停止 第98条–).

Deadlines are computed in `deadlines.py` (pure); these models only store the dates they start from.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from madoguchi.core.models import Municipality
from madoguchi.identity.models import Business

ITEM_ROLES = [
    ("identifier", _("direct identifier (特定の個人を識別できる記述)")),
    ("identification_code", _("identification code (個人識別符号)")),
    ("linking_code", _("linking code (連結符号)")),
    ("quasi_identifier", _("quasi-identifier (準識別子)")),
    ("sensitive", _("sensitive (機微な項目)")),
    ("insensitive", _("insensitive (その他の項目)")),
]


class PersonalInfoFile(models.Model):
    """個人情報ファイル (法第60条第2項) as entered in the 個人情報ファイル簿 (法第75条).

    `items` is a list of {"name": column, "role": engine role (ITEM_ROLES), "label": Japanese label}.
    The data are either uploaded on the staff page (`services.file_upload_data`: stored as UTF-8 under
    PRIVACY_DIR/uploads/<municipality code>/, outside the web root, with its SHA-256) or, for the demo and the
    command line, a file already in a data root; in both cases `source_path` is relative to one of the data
    roots (see `services.data_roots`) and is what every later creation job reads. `hierarchies` maps a column
    to its generalization hierarchy: {"kind": "file", "path": …, "name": …} (uploaded, validated by the
    engine) or a rule {"kind": "interval"|"date"|"prefix", "params": [...]}; a column without an entry falls
    back to `hierarchies_path`, a folder of `<column>.csv` / `*_hierarchy_<column>.csv` files.
    """

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="privacy_files")
    name = models.CharField(_("file name"), max_length=200)
    purpose = models.TextField(_("purpose of use"))
    items = models.JSONField(_("items"), default=list)
    record_count = models.PositiveIntegerField(_("number of records"), default=0)
    source_path = models.CharField(_("source data"), max_length=500, blank=True)
    separator = models.CharField(max_length=1, default=",")
    data_encoding = models.CharField(_("encoding of the uploaded data"), max_length=16, blank=True)
    data_sha256 = models.CharField(max_length=64, blank=True)
    data_uploaded_at = models.DateTimeField(_("data uploaded at"), null=True, blank=True)
    hierarchies_path = models.CharField(_("hierarchies folder"), max_length=500, blank=True)
    hierarchies = models.JSONField(_("hierarchies"), default=dict, blank=True)
    open_to_proposals = models.BooleanField(_("open to proposals"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("personal information file")
        ordering = ["municipality", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def item_names(self) -> list[str]:
        return [i["name"] for i in self.items]

    def names_with_role(self, *roles: str) -> list[str]:
        return [i["name"] for i in self.items if i.get("role") in roles]

    @property
    def has_data(self) -> bool:
        return bool(self.source_path)


class ProposalCall(models.Model):
    """提案募集 (法第111条). `fee_table`: {"base": yen, "per_hour": yen, "outsourcing": bool, "basis": text}."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="privacy_calls")
    title = models.CharField(_("title"), max_length=200)
    starts_on = models.DateField(_("start of the period"))
    ends_on = models.DateField(_("end of the period"))
    files = models.ManyToManyField(PersonalInfoFile, related_name="calls", verbose_name=_("files offered"))
    fee_table = models.JSONField(_("fee table"), default=dict)
    guidance = models.TextField(_("guidance"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("proposal call")
        ordering = ["-starts_on", "-pk"]

    def __str__(self) -> str:
        return self.title


class Proposal(models.Model):
    """提案書 from a business signed in with GビズID, and its review (欠格事由 法第113条, 審査 第114条).

    Two kinds: a proposal for new anonymized information made from a personal information file (法第112条;
    then a creation job, 第116条), and a proposal to use anonymized information already created and entered
    in the register (法第118条; `source_entry`): the same review, contract and fee (第118条第2項 applies
    第113条–第115条; fee 第119条第2項・第4項) but no creation job: the existing dataset is provided.
    """

    class Kind(models.TextChoices):
        CREATION = "creation", _("new anonymized information (Article 112)")
        EXISTING = "existing", _("use of anonymized information already created (Article 118)")

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("submitted")
        IN_REVIEW = "in_review", _("in review")
        REJECTED = "rejected", _("rejected")
        ACCEPTED = "accepted", _("accepted")
        NOTIFIED = "notified", _("notified")
        CONTRACTED = "contracted", _("contracted")
        FEE_PAID = "fee_paid", _("fee paid")
        CREATED = "created", pgettext_lazy("anonymized data proposal", "created")
        PROVIDED = "provided", _("provided")
        WITHDRAWN = "withdrawn", _("withdrawn")
        CANCELLED = "cancelled", _("contract cancelled")

    reference = models.CharField(max_length=16, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CREATION)
    # For 第118条: the register line of the created information; `call` is then that information's call (it
    # names the municipality and the fee table).
    source_entry = models.ForeignKey(
        "RegisterEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="use_proposals"
    )
    call = models.ForeignKey(ProposalCall, on_delete=models.PROTECT, related_name="proposals")
    file = models.ForeignKey(PersonalInfoFile, on_delete=models.PROTECT, related_name="proposals")
    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="privacy_proposals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    purpose = models.TextField(_("purpose and use"))
    items_wanted = models.JSONField(_("items wanted"), default=list)
    processing_method = models.TextField(_("processing method"))
    safeguards = models.TextField(_("safeguards (安全管理措置)"))
    period_months = models.PositiveSmallIntegerField(_("period of use (months)"), default=12)
    declarations = models.JSONField(_("self-declaration"), default=dict)
    checklist = models.JSONField(_("review checklist"), default=dict)
    review_note = models.TextField(_("review note"), blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTED)
    submitted_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    notified_on = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = _("proposal")
        ordering = ["-submitted_at"]

    def __str__(self) -> str:
        return self.reference

    @property
    def municipality(self) -> Municipality:
        return self.call.municipality


class Contract(models.Model):
    """利用契約 (法第115条) and the fee (法第119条), integer yen; its cancellation (契約の解除, 法第120条)."""

    class Ground(models.TextChoices):
        DECEIT = "deceit", _("concluded by deceit or other wrongful means (Article 120 (1))")
        DISQUALIFIED = "disqualified", _("became subject to a ground for disqualification (Article 120 (2))")
        BREACH = "breach", _("serious breach of the contract (Article 120 (3))")

    proposal = models.OneToOneField(Proposal, on_delete=models.PROTECT, related_name="contract")
    hours = models.PositiveIntegerField(_("hours of work"))
    outsourcing_cost = models.PositiveIntegerField(_("outsourcing cost (yen)"), default=0)
    fee = models.PositiveIntegerField(_("fee (yen)"))
    fee_breakdown = models.JSONField(default=dict)
    contract_date = models.DateField(_("contract date"))
    paid_on = models.DateField(_("fee paid on"), null=True, blank=True)
    cancelled_on = models.DateField(_("cancelled on"), null=True, blank=True)
    cancellation_ground = models.CharField(_("ground of the cancellation"), max_length=12,
                                           choices=Ground.choices, blank=True)  # fmt: skip
    cancellation_reason = models.TextField(_("reason for the cancellation"), blank=True)

    def __str__(self) -> str:
        return f"contract {self.proposal_id}: {self.fee} yen"


class CreationJob(models.Model):
    """作成 (法第116条): the engine run, its processing record (作成記録) and metrics."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="jobs")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    params = models.JSONField(default=dict)
    report = models.JSONField(default=dict, blank=True)
    output_name = models.CharField(max_length=200, blank=True)
    output_sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when the job starts running and refreshed while the engine reports progress: a RUNNING job whose
    # heartbeat is older than PRIVACY_JOB_STALE_MINUTES is taken for dead (the worker crashed) and may be
    # queued again (`services.creation_job_queue` marks it failed first).
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.status})"


class Provision(models.Model):
    """提供: a download link that expires. Only the SHA-256 of the token is stored."""

    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="provisions")
    job = models.ForeignKey(CreationJob, on_delete=models.PROTECT, related_name="provisions")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    max_downloads = models.PositiveSmallIntegerField(default=1)
    downloads = models.PositiveSmallIntegerField(default=0)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(downloads__lte=models.F("max_downloads")), name="privacy_provision_max"
            )
        ]

    def __str__(self) -> str:
        return f"provision {self.pk} of {self.proposal_id}"


class ProvisionDownload(models.Model):
    provision = models.ForeignKey(Provision, on_delete=models.PROTECT, related_name="download_log")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"download {self.pk} of {self.provision_id}"


class RegisterEntry(models.Model):
    """A line of the 行政機関等匿名加工情報ファイル簿 (法第117条 / 第110条): public, no personal data."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="privacy_register")
    proposal = models.OneToOneField(Proposal, on_delete=models.PROTECT, related_name="register_entry")
    file_name = models.CharField(max_length=200)
    items = models.JSONField(default=list)
    processing_method = models.TextField()
    created_on = models.DateField()
    recipient = models.CharField(max_length=200)
    provided_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_on", "-pk"]

    def __str__(self) -> str:
        return self.file_name


class LeakReport(models.Model):
    """漏えい等報告 (法第68条; 規則第43条 the cases, 第44条 速報・確報)."""

    class Kind(models.TextChoices):
        SENSITIVE = "sensitive", _("special care-required personal information (要配慮個人情報)")
        FINANCIAL = "financial", _("may cause financial harm (財産的被害)")
        UNLAWFUL = "unlawful", _("may have been done for an unlawful purpose (不正の目的)")
        OVER_100 = "over_100", _("more than 100 people")
        ORDINANCE = "ordinance", _("ordinance-designated sensitive information (条例要配慮個人情報)")

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="privacy_leaks")
    reference = models.CharField(max_length=16, unique=True)
    title = models.CharField(_("title"), max_length=200)
    occurred_on = models.DateField(_("occurred on"), null=True, blank=True)
    discovered_on = models.DateField(_("known on (知った日)"))
    affected_count = models.PositiveIntegerField(_("people affected"), default=0)
    kinds = models.JSONField(_("kinds"), default=list)
    description = models.TextField(_("what happened"), blank=True)
    preliminary_reported_on = models.DateField(_("preliminary report sent on"), null=True, blank=True)
    final_reported_on = models.DateField(_("final report sent on"), null=True, blank=True)
    persons_notified_on = models.DateField(_("persons notified on"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-discovered_on", "-pk"]

    def __str__(self) -> str:
        return self.reference


class DataSubjectRequest(models.Model):
    """開示 (法第76条), 訂正 (第90条), 利用停止・消去 (第98条) requests and their answers."""

    class Kind(models.TextChoices):
        DISCLOSURE = "disclosure", _("disclosure (開示)")
        CORRECTION = "correction", _("correction (訂正)")
        STOP_USE = "stop_use", _("stop of use (利用停止)")
        ERASURE = "erasure", _("erasure (消去)")

    class Status(models.TextChoices):
        RECEIVED = "received", _("received")
        EXTENDED = "extended", _("period extended")
        ANSWERED = "answered", _("answered")
        WITHDRAWN = "withdrawn", _("withdrawn")

    class Decision(models.TextChoices):
        GRANTED = "granted", pgettext_lazy("data-subject request", "granted")
        PARTLY = "partly", _("partly granted")
        REFUSED = "refused", pgettext_lazy("data-subject request", "refused")

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="privacy_requests")
    reference = models.CharField(max_length=16, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    received_on = models.DateField(_("received on"))
    requester = models.CharField(_("requester"), max_length=200)
    file = models.ForeignKey(
        PersonalInfoFile, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    details = models.TextField(_("what is requested"), blank=True)
    correction_days = models.PositiveSmallIntegerField(_("days spent on 補正 (not counted)"), default=0)
    extension_reason = models.TextField(_("reason for the extension"), blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    decision = models.CharField(_("decision"), max_length=8, choices=Decision.choices, blank=True)
    answer = models.TextField(_("answer"), blank=True)
    answered_on = models.DateField(_("answered on"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_on", "-pk"]

    def __str__(self) -> str:
        return self.reference


class WorkflowParticipation(models.Model):
    """A municipality's choice to take part in the proposal workflow (提案募集, 法第110条・第111条) or not: one row
    per municipality, the latest choice, when and by whom (the audit log keeps every change). A designated city
    (`participation.DESIGNATED_CITIES`) takes part by law whether or not it has a row; see `participation`."""

    municipality = models.OneToOneField(
        Municipality, on_delete=models.PROTECT, related_name="privacy_participation"
    )
    opted_in = models.BooleanField(_("takes proposals"), default=False)
    changed_at = models.DateTimeField(_("changed at"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("changed by"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("participation in the proposal workflow")

    def __str__(self) -> str:
        return f"{self.municipality_id}: {'in' if self.opted_in else 'out'}"

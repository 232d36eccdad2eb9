"""Quarantine: files that 無害化 refused, kept with their reasons for staff to see.

The bytes are stored once per content (content-addressed by SHA-256) under VAR_DIR/quarantine/, outside
every served directory; a row per refusal says who uploaded what, for which municipality, and why.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from madoguchi.core.models import Municipality, Prefecture


class QuarantinedFile(models.Model):
    """A refused file and the staff decision on it: quarantined → release_requested → released | deleted.

    Releasing hands the original bytes to LGWAN staff; it needs a documented reason from the requester and
    the approval of a second staff member (four-eyes: the approver is never the requester). Deleting removes
    the bytes from disk and keeps the row with `deleted_at`.
    """

    class Status(models.TextChoices):
        QUARANTINED = "quarantined", _("quarantined (隔離中)")
        RELEASE_REQUESTED = "release_requested", _("release requested (解除申請中)")
        RELEASED = "released", _("released (解除済)")
        DELETED = "deleted", _("deleted (削除済)")

    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("municipality"),
    )
    original_name = models.CharField(_("original file name"), max_length=255)
    detected_type = models.CharField(_("detected type"), max_length=32)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    # [{"code", "ja", "en", "where"}, …]: why the file was refused, Japanese first.
    reasons = models.JSONField(_("reasons"), default=list)
    report = models.JSONField(_("sanitization report"), default=dict)
    uploaded_by = models.CharField(_("uploaded by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("quarantined at"), default=timezone.now, db_index=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUARANTINED, db_index=True
    )
    release_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("release requested by"),
    )
    release_requested_at = models.DateTimeField(_("release requested at"), null=True, blank=True)
    release_reason = models.TextField(_("reason for the release"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("released or deleted by"),
    )
    decided_at = models.DateTimeField(_("released or deleted at"), null=True, blank=True)
    decision_reason = models.TextField(_("reason for the decision"), blank=True)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Four-eyes, held by the database too: whoever approved a release did not request it.
            models.CheckConstraint(
                condition=~Q(status="released")
                | (
                    Q(release_requested_by__isnull=False, decided_by__isnull=False)
                    & ~Q(decided_by=F("release_requested_by"))
                ),
                name="sec_quarantine_four_eyes",
            ),
            models.CheckConstraint(
                condition=~Q(status="deleted") | Q(deleted_at__isnull=False),
                name="sec_quarantine_deleted_at",
            ),
        ]
        verbose_name = _("quarantined file")
        verbose_name_plural = _("quarantined files")

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"

    @property
    def reasons_ja(self) -> str:
        return " / ".join(r.get("ja", "") for r in self.reasons)


# --- Security monitoring (自治体情報セキュリティクラウド) ----------------------------------------------------------
class ProxyLogBatch(models.Model):
    """One proxy log file received from a municipality's Internet gateway."""

    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, related_name="+", verbose_name=_("municipality")
    )
    file_name = models.CharField(_("file name"), max_length=255)
    lines = models.PositiveIntegerField(_("lines"))
    malformed = models.PositiveIntegerField(_("malformed lines"), default=0)
    # [{"line", "reason"}, …] for the first malformed lines; `malformed` is the exact count.
    malformed_sample = models.JSONField(_("malformed lines (sample)"), default=list, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    received_by = models.CharField(_("received by"), max_length=150, blank=True)
    # The file as received (whole file, not only the new part): a re-run on the same file is recognised by
    # these, and a file that grew is ingested from `skipped_lines` + 1 on. Blank for lines given directly.
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64, blank=True)
    size = models.PositiveBigIntegerField(_("file size (bytes)"), null=True, blank=True)
    skipped_lines = models.PositiveIntegerField(_("lines already ingested before"), default=0)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "sha256", "size"],
                condition=~Q(sha256=""),
                name="sec_batch_file_once",
            )
        ]
        verbose_name = _("proxy log batch")
        verbose_name_plural = _("proxy log batches")

    def __str__(self) -> str:
        return f"{self.file_name} ({self.lines})"


class MunicipalityOrPrefectureOwned(models.Model):
    """Owned by exactly one of the two: a municipality's own, or shared with a whole prefecture (imported
    STIX). Each concrete model states the exactly-one rule as its own CHECK constraint."""

    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("municipality"),
    )
    prefecture = models.ForeignKey(
        Prefecture,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("prefecture (prefecture-wide)"),
    )

    class Meta:
        abstract = True


class SecurityAlert(MunicipalityOrPrefectureOwned):
    """What a detection rule found. `evidence` is aggregate and never holds personal data; the client (a
    device address or a user name) is kept in `subject_client` only, which is never shared outside."""

    class Rule(models.TextChoices):
        BEACONING = "beaconing", _("periodic beaconing (ビーコン通信)")
        EXECUTABLE_DOWNLOAD = "executable_download", _("executable download (実行ファイルのダウンロード)")
        BLOCKLISTED_DOMAIN = "blocklisted_domain", _("known-bad domain (既知の悪性ドメイン)")
        SIGN_IN_BURST = "sign_in_burst", _("burst of failed sign-ins (サインイン失敗の集中)")
        QUARANTINED_FILE = "quarantined_file", _("file refused by sanitization (無害化で拒否されたファイル)")
        SHARED_INDICATOR = "shared_indicator", _("indicator shared by another prefecture (他県共有の指標)")

    class Severity(models.TextChoices):
        LOW = "low", _("low (低)")
        MEDIUM = "medium", _("medium (中)")
        HIGH = "high", _("high (高)")
        CRITICAL = "critical", _("critical (緊急)")

    batch = models.ForeignKey(
        ProxyLogBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="alerts"
    )
    rule = models.CharField(_("rule"), max_length=32, choices=Rule.choices, db_index=True)
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices)
    subject_host = models.CharField(_("host"), max_length=255, blank=True, db_index=True)
    subject_client = models.CharField(_("client"), max_length=255, blank=True)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    count = models.PositiveIntegerField(_("count"))
    explanation_ja = models.TextField(_("explanation (Japanese)"))
    explanation_en = models.TextField(_("explanation (English)"), blank=True)
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    shared = models.BooleanField(_("shared from outside"), default=False)
    stix_id = models.CharField(_("STIX id"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    # Proxy-log alerts only: the day (local time) of `first_seen`. With the municipality, the rule, the host
    # and the client it is the alert's natural key, so ingesting the same lines again alerts nothing twice.
    window_start = models.DateTimeField(_("window start"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["municipality", "-created_at"], name="sec_alert_muni_time_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(municipality__isnull=True) ^ Q(prefecture__isnull=True),
                name="sec_alert_one_owner",
            ),
            models.UniqueConstraint(
                fields=["municipality", "rule", "subject_host", "subject_client", "window_start"],
                condition=Q(window_start__isnull=False),
                name="sec_alert_natural_key",
            ),
        ]
        verbose_name = _("security alert")
        verbose_name_plural = _("security alerts")

    def __str__(self) -> str:
        return f"{self.rule} {self.subject_host or self.subject_client}"


class Incident(MunicipalityOrPrefectureOwned):
    """Alerts grouped for handling, with an owner and a status; `shared` incidents came from a STIX bundle."""

    class Status(models.TextChoices):
        OPEN = "open", _("open (未対応)")
        INVESTIGATING = "investigating", _("investigating (調査中)")
        RESOLVED = "resolved", _("resolved (解決済)")
        CLOSED = "closed", _("closed (完了)")

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
    )
    alerts = models.ManyToManyField(
        SecurityAlert, related_name="incidents", blank=True, verbose_name=_("alerts")
    )
    shared = models.BooleanField(_("shared"), default=False)
    stix_id = models.CharField(_("STIX id"), max_length=100, blank=True, db_index=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(municipality__isnull=True) ^ Q(prefecture__isnull=True),
                name="sec_incident_one_owner",
            )
        ]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")

    def __str__(self) -> str:
        return self.title

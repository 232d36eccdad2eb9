"""Public bodies (the tenants) and the audit log."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.core.codes import validate_local_government_code


class Prefecture(models.Model):
    """都道府県. `number` is the JIS X 0401 prefecture number (1 北海道 … 47 沖縄県)."""

    code = models.CharField(
        _("local government code"), max_length=6, unique=True, validators=[validate_local_government_code]
    )
    number = models.PositiveSmallIntegerField(_("prefecture number"), unique=True)
    name = models.CharField(_("name"), max_length=10)
    kana = models.CharField(_("kana"), max_length=40)
    name_en = models.CharField(_("English name"), max_length=40, blank=True)

    class Meta:
        ordering = ["number"]
        verbose_name = _("prefecture")
        verbose_name_plural = _("prefectures")

    def __str__(self) -> str:
        return self.name


class Municipality(models.Model):
    """市区町村: the tenant. Every tenant-owned row elsewhere has a foreign key to this."""

    class Kind(models.TextChoices):
        CITY = "city", _("city (市)")
        WARD = "ward", _("special ward (特別区)")
        TOWN = "town", _("town (町)")
        VILLAGE = "village", _("village (村)")

    code = models.CharField(
        _("local government code"), max_length=6, unique=True, validators=[validate_local_government_code]
    )
    prefecture = models.ForeignKey(
        Prefecture, on_delete=models.PROTECT, related_name="municipalities", verbose_name=_("prefecture")
    )
    name = models.CharField(_("name"), max_length=20)
    kana = models.CharField(_("kana"), max_length=60)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    population = models.PositiveIntegerField(_("population (2020 census)"))
    # Normalised name + prefecture + kana (katakana and hiragana) + code, for one indexed substring search.
    search_text = models.CharField(max_length=255, editable=False, db_index=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("municipality")
        verbose_name_plural = _("municipalities")

    def __str__(self) -> str:
        return f"{self.prefecture.name}{self.name}" if self.prefecture_id else self.name

    @property
    def full_name(self) -> str:
        return str(self)


class AuditChainHead(models.Model):
    """The newest record of each audit stream.

    A writer locks its stream's head row, so concurrent writers queue instead of forking the chain; the
    unique (stream, seq) constraint on AuditRecord is the backstop. The head also lets `audit verify` notice
    records removed from the end of a stream.
    """

    stream = models.CharField(max_length=16, unique=True)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="")

    def __str__(self) -> str:
        return f"{self.stream}#{self.seq}"


class AuditRecord(models.Model):
    """One append-only, hash-chained audit record. The database refuses UPDATE and DELETE on this table.

    Streams: one per municipality (its code) plus "platform", so that the busy municipalities do not all
    queue on one lock. Within a stream, hash = SHA-256 over the canonical JSON of the record's content
    and the previous record's hash (see core/audit.py).
    """

    stream = models.CharField(max_length=16)
    seq = models.PositiveBigIntegerField()
    created_at = models.DateTimeField()
    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=True
    )
    actor_type = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["stream", "seq"]
        constraints = [models.UniqueConstraint(fields=["stream", "seq"], name="audit_stream_seq_unique")]
        indexes = [
            models.Index(fields=["municipality", "-created_at"], name="audit_muni_time_idx"),
            # "My sign-in history" and "what did this clerk do": records by actor, newest first.
            models.Index(fields=["actor_type", "actor_id", "-created_at"], name="audit_actor_time_idx"),
        ]
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")

    def __str__(self) -> str:
        return f"{self.stream}#{self.seq} {self.action}"

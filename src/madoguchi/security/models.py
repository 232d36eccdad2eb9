"""Quarantine: files that 無害化 refused, kept with their reasons for staff to see.

The bytes are stored once per content (content-addressed by SHA-256) under VAR_DIR/quarantine/, outside
every served directory; a row per refusal says who uploaded what, for which municipality, and why.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from madoguchi.core.models import Municipality


class QuarantinedFile(models.Model):
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

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("quarantined file")
        verbose_name_plural = _("quarantined files")

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"

    @property
    def reasons_ja(self) -> str:
        return " / ".join(r.get("ja", "") for r in self.reasons)

"""Residents: people who sign in with a My Number Card (JPKI). Keyed by certificates, never by My Number."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from madoguchi.core.models import Municipality
from madoguchi.identity.models.staff import User


class Resident(models.Model):
    """A card holder. Created at the first sign-in with an unknown user-authentication certificate.

    `holder_key` is a keyed hash of the holder's name, date of birth and sex, read from the SIGNING
    certificate when the resident first signs something (e.g. to set up a MyKey ID). It is how a renewed
    card whose old→new linkage has not arrived yet is recognised as a person we already know (DOMAIN.md: 506
    duplicate applications came from missing linkage). It is not unique: two people can share all three.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        PENDING_LINK = "pending_link", _("waiting for certificate linkage")
        MERGED = "merged", _("merged into another resident")

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="resident")
    mykey_id = models.CharField(_("MyKey ID"), max_length=8, unique=True, null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    merged_into = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    holder_key = models.CharField(max_length=64, blank=True, db_index=True)
    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, null=True, blank=True, related_name="residents",
        verbose_name=_("municipality of residence"),
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")

    def __str__(self) -> str:
        return f"resident {self.pk}" + (f" ({self.mykey_id})" if self.mykey_id else "")


class ResidentCertificate(models.Model):
    """A JPKI certificate seen for a resident, identified by issuer + serial (the auth cert has no name)."""

    class Kind(models.TextChoices):
        AUTH = "auth", _("user-authentication certificate (利用者証明用)")
        SIGN = "sign", _("signing certificate (署名用)")

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="certificates")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    issuer = models.CharField(max_length=255)
    serial = models.CharField(max_length=64)  # hexadecimal, lower case, no leading zeros
    fingerprint = models.CharField(max_length=64)  # SHA-256 of the DER
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    superseded_by = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "serial"], name="resident_cert_issuer_serial")
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.serial}"


class IssuedMyKeyId(models.Model):
    """Every MyKey ID ever issued, never deleted: an ID is never given out twice, even after a merge."""

    mykey_id = models.CharField(max_length=8, primary_key=True)
    issued_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.mykey_id


class CertificateRenewal(models.Model):
    """J-LIS style linkage: the certificate with `old_serial` was replaced by the one with `new_serial`."""

    kind = models.CharField(max_length=4, choices=ResidentCertificate.Kind.choices)
    issuer = models.CharField(max_length=255)
    old_serial = models.CharField(max_length=64)
    new_serial = models.CharField(max_length=64)
    new_issuer = models.CharField(max_length=255)
    imported_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "old_serial"], name="renewal_old_unique"),
            models.UniqueConstraint(fields=["new_issuer", "new_serial"], name="renewal_new_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.old_serial}→{self.new_serial}"


class DuplicateHolderReport(models.Model):
    """A new certificate whose holder looks like a resident we already know, with no linkage yet.

    Opened instead of treating the holder as a new eligible person; closed when linkage arrives (resolved
    automatically) or by staff (dismissed: really two people).
    """

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        LINKED = "linked", _("resolved by linkage")
        DISMISSED = "dismissed", _("dismissed: different people")

    new_resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    existing_resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    certificate = models.ForeignKey(ResidentCertificate, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["new_resident", "existing_resident"], condition=Q(status="open"),
                                    name="dup_report_one_open"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"report {self.pk}: resident {self.new_resident_id} ~ {self.existing_resident_id}"


class JpkiChallenge(models.Model):
    """A one-time nonce for challenge–response sign-in. Used once; expires after a short time."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    nonce = models.CharField(max_length=64)  # hex of 32 random bytes
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return str(self.id)


class ApiToken(models.Model):
    """A bearer token for API clients (e.g. a smartphone app after JPKI sign-in). Only its hash is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token {self.pk} of user {self.user_id}"

"""Desk mode: a clerk serves one resident at a time on a shared municipal terminal."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from madoguchi.core.models import Municipality
from madoguchi.identity.models.resident import Resident
from madoguchi.identity.models.staff import User


class DeskSession(models.Model):
    """One resident served by one clerk. Ends on "next resident", sign-out, or after DESK_IDLE_SECONDS.

    136 of the 172 wrong-person point grants came from a terminal left signed in between residents: an ended
    session can never be used again, and the database allows one open session per clerk.
    """

    class EndReason(models.TextChoices):
        NEXT = "next", _("next resident")
        IDLE = "idle", _("idle timeout")
        SIGN_OUT = "sign_out", _("clerk signed out")
        REPLACED = "replaced", _("clerk started another session")

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="desk_sessions")
    clerk = models.ForeignKey(User, on_delete=models.PROTECT, related_name="desk_sessions")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    identified_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clerk"], condition=Q(ended_at__isnull=True), name="desk_one_open_per_clerk"
            ),
        ]

    def __str__(self) -> str:
        return f"desk {self.pk} ({self.municipality.code})"

"""The sandbox gateway's own payments: one row per payment its API created, with how it ended."""

import secrets

from django.db import models
from django.db.models import Q

MAX_AMOUNT = 10_000_000  # yen; the gateway refuses anything larger


def new_payment_id() -> str:
    return "pay_" + secrets.token_hex(12)


class SandboxPayment(models.Model):
    class Status(models.TextChoices):
        CREATED = "created", "created"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"
        CANCELLED = "cancelled", "cancelled"

    id = models.CharField(primary_key=True, max_length=40, default=new_payment_id, editable=False)
    # Which API key created it: the SHA-256 of the key (never the key itself). Payments are visible only to it,
    # and its idempotency keys are its own.
    api_key_id = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=255)
    reference = models.CharField(max_length=255)
    amount = models.PositiveIntegerField()  # whole yen
    currency = models.CharField(max_length=3, default="JPY")
    description = models.CharField(max_length=255)
    return_url = models.CharField(max_length=2000)
    callback_url = models.CharField(max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATED)
    card_last4 = models.CharField(max_length=4, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)  # set once, when (and only when) it succeeds
    finished_at = models.DateTimeField(null=True, blank=True)  # succeeded, failed or cancelled
    # The callback to the platform: how many times it was sent, and when a 2xx answer came back.
    callback_attempts = models.PositiveSmallIntegerField(default=0)
    callback_delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["api_key_id", "idempotency_key"], name="sandboxgateway_idempotency_key_unique"
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=1, amount__lte=MAX_AMOUNT), name="sandboxgateway_amount_range"
            ),
            models.CheckConstraint(
                condition=(Q(status="succeeded") & Q(paid_at__isnull=False))
                | (~Q(status="succeeded") & Q(paid_at__isnull=True)),
                name="sandboxgateway_paid_at_iff_succeeded",
            ),
            models.CheckConstraint(
                condition=Q(status="created", finished_at__isnull=True)
                | (~Q(status="created") & Q(finished_at__isnull=False)),
                name="sandboxgateway_finished_at_iff_finished",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.reference}, {self.amount} {self.currency}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status != self.Status.CREATED

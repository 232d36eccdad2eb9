"""The sandbox provider's own customers: payment-service accounts with their security codes."""

from django.db import models


class SandboxAccount(models.Model):
    provider_code = models.SlugField(max_length=40)
    account = models.CharField(max_length=64)
    security_code = models.CharField(max_length=16)
    holder = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider_code", "account"], name="sandbox_account_unique")
        ]

    def __str__(self) -> str:
        return f"{self.provider_code}:{self.account}"

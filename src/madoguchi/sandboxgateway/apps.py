from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SandboxGatewayConfig(AppConfig):
    """A sandbox fee-payment gateway for the embedded default and tests (never in production)."""

    name = "madoguchi.sandboxgateway"
    label = "sandboxgateway"
    verbose_name = _("Sandbox fee-payment gateway")
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class SandboxPayConfig(AppConfig):
    """A sandbox payment provider for the embedded default and tests (never in production)."""

    name = "madoguchi.sandboxpay"
    label = "sandboxpay"
    verbose_name = "Sandbox payment provider"

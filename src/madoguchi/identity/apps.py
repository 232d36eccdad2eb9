from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "madoguchi.identity"
    label = "identity"
    verbose_name = _("Identity: users and staff roles")

    def ready(self) -> None:
        from madoguchi.identity import desk, signals  # noqa: F401  (connect their signal receivers)

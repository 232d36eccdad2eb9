from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "madoguchi.core"
    label = "core"
    verbose_name = _("Core: public bodies and audit")

    def ready(self) -> None:
        from madoguchi.core import checks  # noqa: F401  (registers the zone checks)

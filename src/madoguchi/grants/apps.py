from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GrantsConfig(AppConfig):
    name = "madoguchi.grants"
    label = "grants"
    verbose_name = _("Subsidies (補助金)")

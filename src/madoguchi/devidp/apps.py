from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DevIdpConfig(AppConfig):
    name = "madoguchi.devidp"
    label = "devidp"
    verbose_name = _("Development OpenID provider (GビズID stand-in)")
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "madoguchi.privacy"
    label = "privacy"
    verbose_name = _("Anonymized and pseudonymized information")

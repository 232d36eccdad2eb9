from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VaultConfig(AppConfig):
    name = "madoguchi.vault"
    label = "vault"
    verbose_name = _("My Number vault (個人番号利用事務系)")

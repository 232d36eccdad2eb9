from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CloudConfig(AppConfig):
    name = "madoguchi.cloud"
    label = "cloud"
    verbose_name = _("Shared municipal cloud (自治体クラウド)")

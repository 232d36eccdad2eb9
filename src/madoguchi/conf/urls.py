"""Root URLs. Which sets are served depends on MADOGUCHI_ZONE (三層の対策): see core/zones.py."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, register_converter

from madoguchi.conf.api import api
from madoguchi.core.converters import LocalGovernmentCodeConverter
from madoguchi.web.views import system

register_converter(LocalGovernmentCodeConverter, "lgcode")

zone = settings.MADOGUCHI_ZONE

urlpatterns = [
    path("healthz", system.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
]
if zone.serves_staff:
    urlpatterns += [path("admin/", admin.site.urls)]
urlpatterns += [path("", include("madoguchi.web.urls"))]

handler400 = "madoguchi.web.views.system.bad_request"
handler403 = "madoguchi.web.views.system.permission_denied"
handler404 = "madoguchi.web.views.system.page_not_found"
handler500 = "madoguchi.web.views.system.server_error"

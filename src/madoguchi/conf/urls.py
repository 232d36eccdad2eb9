"""Root URLs. Which of them a process answers depends on MADOGUCHI_ZONE: see core.middleware.ZoneMiddleware."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from madoguchi.conf.api import api
from madoguchi.grants import urls as grants_urls
from madoguchi.points import ops_urls as points_ops_urls
from madoguchi.points import urls as points_urls
from madoguchi.procedures import staff_urls as procedures_staff_urls
from madoguchi.security import urls as security_urls
from madoguchi.web.views import system

urlpatterns = [
    path("healthz", system.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("business/", include("madoguchi.identity.business_urls")),
    path("points/", include("madoguchi.points.urls")),
    path("grants/", include("madoguchi.grants.urls")),
    path("staff/grants/", include((grants_urls.staff_urlpatterns, "grants_national"))),
    # Back office under a "staff/" segment, so that ZoneMiddleware keeps it out of the Internet zone.
    path("staff/points/", include("madoguchi.points.ops_urls")),
    path("staff/cloud/", include("madoguchi.cloud.urls")),
    path("staff/security/", include("madoguchi.security.urls")),
    path("exp/", include("madoguchi.grants.jgrants_api")),  # Jグランツ互換 公開API (its own NinjaAPI)
    path("", include("madoguchi.web.urls")),
    # After web.urls: importing it registers the `lgcode` converter this route uses.
    path(
        "<lgcode:municipality_code>/staff/desk/points/",
        include((points_urls.desk_urlpatterns, points_urls.DESK_APP_NAME)),
    ),
    path(
        "<lgcode:municipality_code>/staff/points/",
        include((points_ops_urls.municipal_urlpatterns, points_ops_urls.MUNICIPAL_APP_NAME)),
    ),
    path("", include("madoguchi.procedures.urls")),
    path("", include("madoguchi.privacy.urls")),
    path("<lgcode:municipality_code>/staff/privacy/", include("madoguchi.privacy.staff_urls")),
    path(
        "<lgcode:municipality_code>/staff/procedures/",
        include((procedures_staff_urls.municipal_urlpatterns, procedures_staff_urls.MUNICIPAL_APP_NAME)),
    ),
    path("staff/procedures/", include("madoguchi.procedures.staff_urls")),
    path(
        "<lgcode:municipality_code>/staff/grants/apply/",
        include((grants_urls.applicant_urlpatterns, "grants_applicant")),
    ),
    path(
        "<lgcode:municipality_code>/staff/grants/", include((grants_urls.staff_urlpatterns, "grants_staff"))
    ),
    path(
        "<lgcode:municipality_code>/staff/security/",
        include((security_urls.municipal_urlpatterns, security_urls.MUNICIPAL_APP_NAME)),
    ),
]

handler400 = "madoguchi.web.views.system.bad_request"
handler403 = "madoguchi.web.views.system.permission_denied"
handler404 = "madoguchi.web.views.system.page_not_found"
handler500 = "madoguchi.web.views.system.server_error"

if settings.DEV_IDP_ENABLED:
    # The development OpenID provider that plays GビズID (never in production).
    urlpatterns.insert(0, path("dev-idp/", include("madoguchi.devidp.urls")))

if settings.SANDBOX_PAY_ENABLED:
    # The sandbox payment provider's callback (never in production).
    urlpatterns.insert(0, path("sandbox-pay/", include("madoguchi.sandboxpay.urls")))

if settings.SANDBOX_GATEWAY_ENABLED:
    # The sandbox fee-payment gateway: its API and hosted payment page (never in production).
    urlpatterns.insert(0, path("sandbox-gateway/", include("madoguchi.sandboxgateway.urls")))

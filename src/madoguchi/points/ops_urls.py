"""マイナポイント back-office URLs.

`urlpatterns` (app "points_ops"): the national dashboard, settlement, and campaigns and payment providers
(catalog/), for platform operators.
`municipal_urlpatterns` (app "points_municipal"): a municipality's dashboard, mounted under
/<lgcode:municipality_code>/staff/points/ so that its views get `municipality_code` from the prefix.
"""

from django.urls import path

from madoguchi.points import ops_catalog_views as catalog_views
from madoguchi.points import ops_views as views

app_name = "points_ops"

urlpatterns = [
    path("", views.national, name="national"),
    path("csv/<slug:table>.csv", views.national_csv, name="national_csv"),
    path("statements/", views.statements, name="statements"),
    path("statements/generate/", views.statement_generate, name="statement_generate"),
    path("statements/export.<slug:fmt>", views.statements_export, name="statements_export"),
    path("statements/<int:pk>/", views.statement_detail, name="statement"),
    path("statements/<int:pk>/statement.<slug:fmt>", views.statement_export, name="statement_export"),
    path("statements/<int:pk>/<slug:action>/", views.statement_action, name="statement_action"),
    # Campaigns and payment providers (points.ops_catalog_views).
    path("catalog/campaigns/", catalog_views.campaigns, name="catalog_campaigns"),
    path("catalog/campaigns/new/", catalog_views.campaign_new, name="catalog_campaign_new"),
    path("catalog/campaigns/<slug:code>/edit/", catalog_views.campaign_edit, name="catalog_campaign_edit"),
    path("catalog/providers/", catalog_views.providers, name="catalog_providers"),
    path("catalog/providers/new/", catalog_views.provider_new, name="catalog_provider_new"),
    path("catalog/providers/<slug:code>/", catalog_views.provider_detail, name="catalog_provider"),
    path("catalog/providers/<slug:code>/edit/", catalog_views.provider_edit, name="catalog_provider_edit"),
    path(
        "catalog/providers/<slug:code>/secret/",
        catalog_views.provider_secret_rotate,
        name="catalog_provider_secret",
    ),
    path(
        "catalog/providers/<slug:code>/keys/new/", catalog_views.provider_key_issue, name="catalog_key_issue"
    ),
    path(
        "catalog/providers/<slug:code>/keys/<int:pk>/rotate/",
        catalog_views.provider_key_rotate,
        name="catalog_key_rotate",
    ),
    path(
        "catalog/providers/<slug:code>/keys/<int:pk>/revoke/",
        catalog_views.provider_key_revoke,
        name="catalog_key_revoke",
    ),
]

MUNICIPAL_APP_NAME = "points_municipal"

municipal_urlpatterns = [
    path("", views.municipal, name="dashboard"),
    path("csv/<slug:table>.csv", views.municipal_csv, name="csv"),
]

"""Security back-office URLs (自治体情報セキュリティクラウド).

`urlpatterns` (app "security_ops"): the prefecture-wide view and STIX 2.1 import, for platform operators;
mounted at staff/security/.
`municipal_urlpatterns` (app "security_municipal"): a municipality's quarantine, alerts and incidents,
mounted under /<lgcode:municipality_code>/staff/security/ so that its views get `municipality_code`.
"""

from django.urls import path

from madoguchi.security import views

app_name = "security_ops"

urlpatterns = [
    path("", views.prefecture_choose, name="choose"),
    path("<int:number>/", views.prefecture, name="prefecture"),
    path("<int:number>/import/", views.prefecture_import, name="import"),
]

MUNICIPAL_APP_NAME = "security_municipal"

municipal_urlpatterns = [
    path("", views.alert_list, name="alerts"),
    path("alerts/incident/", views.alert_open_incident, name="alerts_open_incident"),
    path("quarantine/", views.quarantine_list, name="quarantine"),
    path("quarantine/<int:pk>/", views.quarantine_detail, name="quarantine_detail"),
    path(
        "quarantine/<int:pk>/request-release/",
        views.quarantine_decide,
        {"action": "request"},
        name="quarantine_request_release",
    ),
    path(
        "quarantine/<int:pk>/release/",
        views.quarantine_decide,
        {"action": "release"},
        name="quarantine_release",
    ),
    path(
        "quarantine/<int:pk>/delete/", views.quarantine_decide, {"action": "delete"}, name="quarantine_delete"
    ),
    path("quarantine/<int:pk>/download/", views.quarantine_download, name="quarantine_download"),
    path("incidents/", views.incident_list, name="incidents"),
    path("incidents/stix.json", views.incidents_export, name="incidents_export"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident"),
]

"""マイナポイント back-office URLs.

`urlpatterns` (app "points_ops"): the national dashboard and settlement, for platform operators.
`municipal_urlpatterns` (app "points_municipal"): a municipality's dashboard, mounted under
/<lgcode:municipality_code>/staff/points/ so that its views get `municipality_code` from the prefix.
"""

from django.urls import path

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
]

MUNICIPAL_APP_NAME = "points_municipal"

municipal_urlpatterns = [
    path("", views.municipal, name="dashboard"),
    path("csv/<slug:table>.csv", views.municipal_csv, name="csv"),
]

"""マイナポイント page URLs.

`urlpatterns` (app "points") is mounted at /points/; `desk_urlpatterns` (app "points_desk") under
/<lgcode:municipality_code>/staff/desk/points/, so that ZoneMiddleware keeps the desk pages off the Internet zone.
"""

from django.urls import path

from madoguchi.points import views

app_name = "points"

urlpatterns = [
    path("", views.index, name="index"),
    path("mine/", views.mine, name="mine"),
    path("mine/<int:application_id>/history.csv", views.mine_csv, name="mine_csv"),
    path("provider/upload/", views.provider_upload, name="provider_upload"),
    path("<slug:code>/reserve/", views.reserve, name="reserve"),
    path("<slug:code>/apply/", views.apply, name="apply"),
    path("<slug:code>/applied/", views.applied, name="applied"),
    path("<slug:code>/apply-for-child/", views.apply_for_child, name="apply_for_child"),
]

DESK_APP_NAME = "points_desk"

# Each view takes `municipality_code` from the prefix these are included under.
desk_urlpatterns = [
    path("", views.desk_index, name="index"),
    path("mine/", views.desk_mine, name="mine"),  # the resident being served: never an identifier in the URL
    path("<slug:code>/reserve/", views.desk_reserve, name="reserve"),
    path("<slug:code>/apply/", views.desk_apply, name="apply"),
    path("<slug:code>/apply/confirm/", views.desk_confirm, name="confirm"),
    path("<slug:code>/applied/", views.desk_applied, name="applied"),
    path("<slug:code>/child/", views.desk_child, name="child"),
]

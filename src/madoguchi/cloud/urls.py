"""自治体クラウド staff pages (app "cloud"). Mount under a path with a "staff/" segment: staff/cloud/."""

from django.urls import path

from madoguchi.cloud import views

app_name = "cloud"

urlpatterns = [
    path("", views.index, name="index"),
    path("savings/", views.savings, name="savings"),
    path("groups/<int:pk>/", views.group_detail, name="group"),
    path("groups/<int:pk>/members/", views.member_onboard, name="member_onboard"),
    path("groups/<int:pk>/statements/", views.statement_issue, name="statement_issue"),
    path("groups/<int:pk>/usage/", views.usage_meter, name="usage_meter"),
    path("statements/<int:pk>/", views.statement_detail, name="statement"),
    path("statements/<int:pk>/<str:code>.csv", views.statement_csv, name="statement_csv"),
]

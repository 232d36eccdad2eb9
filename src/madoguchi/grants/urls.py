"""Subsidy pages. `urlpatterns` (app "grants") at /grants/ (applicants, Internet zone);
`staff_urlpatterns` under /<lgcode>/staff/grants/ (app "grants_staff") and /staff/grants/ (app "grants_national");
`applicant_urlpatterns` under /<lgcode>/staff/grants/apply/ (app "grants_applicant": a municipality applying)."""

from django.urls import path

from madoguchi.grants import staff_views, views

app_name = "grants"

urlpatterns = [
    path("", views.calls, name="calls"),
    path("calls/<str:public_id>/", views.call_detail, name="call"),
    path("calls/<str:public_id>/apply/", views.apply, name="apply"),
    path("mine/", views.mine, name="mine"),
    path("mine/<str:reference>/", views.mine_detail, name="mine_detail"),
    path("mine/<str:reference>/resubmit/", views.resubmit, name="resubmit"),
    path("mine/<str:reference>/decision.pdf", views.notice, name="notice"),
    path("profile/", views.profile, name="profile"),
]

staff_urlpatterns = [
    path("", staff_views.index, name="index"),
    path("dashboard/", staff_views.dashboard, name="dashboard"),
    path("calls/new/", staff_views.call_new, name="call_new"),
    path("programmes/<slug:code>/bodies/", staff_views.base_table, name="base_table"),
    path("applications/<str:reference>/", staff_views.application, name="application"),
    path("applications/<str:reference>/decision.pdf", staff_views.notice, name="notice"),
]

applicant_urlpatterns = [
    path("", views.municipal_calls, name="calls"),
    path("calls/<str:public_id>/", views.municipal_apply, name="apply"),
    path("applications/<str:reference>/", views.municipal_application, name="application"),
]

"""Staff pages of the online procedures. `municipal_urlpatterns` (app "procedures_staff") are mounted under
/<lgcode:municipality_code>/staff/procedures/; `urlpatterns` (app "procedures_national") under /staff/procedures/."""

from django.urls import path

from madoguchi.procedures import staff_views as v

app_name = "procedures_national"

urlpatterns = [
    path("stats/", v.national_stats, name="stats"),
]

MUNICIPAL_APP_NAME = "procedures_staff"

municipal_urlpatterns = [
    path("", v.index, name="index"),
    path("templates/", v.templates, name="templates"),
    path("new/", v.new, name="new"),
    path("bundles/", v.bundles, name="bundles"),
    path("inbox/", v.inbox, name="inbox"),
    path("stats/", v.stats, name="stats"),
    path("cases/<str:reference>/", v.case, name="case"),
    path("cases/<str:reference>/notice.pdf", v.case_notice, name="case_notice"),
    path("cases/<str:reference>/receipt.pdf", v.case_receipt, name="case_receipt"),
    path("cases/<str:reference>/verify/", v.case_verify, name="case_verify"),
    path("cases/<str:reference>/attachments/<int:pk>/", v.case_attachment, name="case_attachment"),
    path("p/<slug:code>/", v.procedure, name="procedure"),
    path("p/<slug:code>/builder/", v.form_builder, name="builder"),
    path("p/<slug:code>/builder/export.json", v.form_export, name="export"),
    path("p/<slug:code>/builder/import/", v.form_import, name="import"),
    path("p/<slug:code>/preview/", v.preview, name="preview"),
]

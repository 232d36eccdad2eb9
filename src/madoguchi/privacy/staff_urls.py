"""Staff pages of the privacy workflow (app "privacy_staff"), mounted under /<lgcode:municipality_code>/staff/privacy/
(a "staff/" segment: ZoneMiddleware keeps them out of the Internet zone)."""

from django.urls import path

from madoguchi.privacy import staff_views as v

app_name = "privacy_staff"

urlpatterns = [
    path("", v.index, name="index"),
    path("files/", v.files, name="files"),
    path("files/new/", v.file_new, name="file_new"),
    path("files/<int:pk>/", v.file, name="file"),
    path("calls/", v.calls, name="calls"),
    path("calls/new/", v.call_new, name="call_new"),
    path("proposals/", v.proposals, name="proposals"),
    path("proposals.csv", v.proposals_csv, name="proposals_csv"),
    path("proposals/<str:reference>/", v.proposal, name="proposal"),
    path("proposals/<str:reference>/notice.pdf", v.notice, name="notice"),
    path("jobs/<int:pk>/", v.job, name="job"),
    path("jobs/<int:pk>/progress.json", v.job_progress, name="job_progress"),
    path("register.csv", v.register_csv, name="register_csv"),
    # Excel exports (a second path argument: binary, so not in the page walk of the isolation test, which
    # decodes every page as text; tenant-checked by the same decorator and tested in test_workflow_existing).
    path("export/<slug:what>.xlsx", v.export_xlsx, name="export_xlsx"),
    path("leaks/", v.leaks, name="leaks"),
    path("leaks/new/", v.leak_new, name="leak_new"),
    path("leaks/<str:reference>/", v.leak, name="leak"),
    path("requests/", v.requests, name="requests"),
    path("requests/new/", v.request_new, name="request_new"),
    path("requests/<str:reference>/", v.request_detail, name="request"),
]

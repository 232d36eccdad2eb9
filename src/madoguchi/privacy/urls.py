"""Privacy pages. `urlpatterns` (app "privacy") at the site root: the public pages of a municipality
(/<lgcode>/privacy/…) and a business's own pages (/privacy/…). The staff pages are in
`staff_urls` (app "privacy_staff"), mounted under /<lgcode:municipality_code>/staff/privacy/."""

from django.urls import path

from madoguchi.privacy import views

app_name = "privacy"

urlpatterns = [
    path("privacy/mine/", views.mine, name="mine"),
    path("privacy/mine/<str:reference>/", views.mine_detail, name="mine_detail"),
    path("privacy/mine/<str:reference>/notice.pdf", views.notice, name="notice"),
    path("privacy/download/<str:token>/", views.download, name="download"),
    path("<lgcode:municipality_code>/privacy/", views.calls, name="calls"),
    path("<lgcode:municipality_code>/privacy/register/", views.register, name="register"),
    path("<lgcode:municipality_code>/privacy/calls/<int:pk>/", views.propose, name="propose"),
    path(
        "<lgcode:municipality_code>/privacy/register/<int:pk>/propose/",
        views.propose_existing,
        name="propose_existing",
    ),
]

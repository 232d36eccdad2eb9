"""Online procedures, the applicant's side (Internet zone). Mounted at the site root after web.urls, so that both
`/procedures/…` and `/<lgcode>/procedures/…` live in one namespace ("procedures").

The municipal desk's pages (desk_*) live here too, under /<lgcode>/staff/desk/procedures/: the "staff/" segment
keeps them off the Internet zone (ZoneMiddleware)."""

from django.urls import path

from madoguchi.procedures import bundle_views, desk_views, views

app_name = "procedures"

urlpatterns = [
    path("procedures/", views.search, name="search"),
    path("procedures/status/", views.status, name="status"),
    path("procedures/mine/", views.mine, name="mine"),
    path("procedures/mine/<str:reference>/", views.mine_detail, name="mine_detail"),
    path("procedures/done/<str:reference>/", views.done, name="done"),
    path("procedures/done/<str:reference>/receipt.pdf", views.receipt, name="receipt"),
    path("procedures/pay/<str:reference>/", views.pay, name="pay"),
    path("procedures/pay/<str:reference>/return/", views.pay_return, name="pay_return"),
    path("procedures/payments/callback", views.payment_callback, name="payment_callback"),
    path("<lgcode:municipality_code>/procedures/", views.catalogue, name="catalogue"),
    path("<lgcode:municipality_code>/procedures/<slug:code>/", views.detail, name="detail"),
    path("<lgcode:municipality_code>/procedures/<slug:code>/apply/", views.start, name="start"),
    path(
        "<lgcode:municipality_code>/procedures/<slug:code>/apply/card/",
        views.prefill_from_card,
        name="prefill",
    ),
    path("<lgcode:municipality_code>/procedures/<slug:code>/apply/check/", views.check, name="check"),
    path("<lgcode:municipality_code>/procedures/<slug:code>/apply/send/", views.sign_and_send, name="send"),
    path("<lgcode:municipality_code>/procedures/<slug:code>/apply/<str:step>/", views.step, name="step"),
    path("<lgcode:municipality_code>/staff/desk/procedures/", desk_views.index, name="desk_index"),
    path(
        "<lgcode:municipality_code>/staff/desk/procedures/done/<str:reference>/",
        desk_views.done,
        name="desk_done",
    ),
    path(
        "<lgcode:municipality_code>/staff/desk/procedures/<slug:code>/card/",
        desk_views.read_card,
        name="desk_card",
    ),
    path(
        "<lgcode:municipality_code>/staff/desk/procedures/<slug:code>/check/",
        desk_views.check,
        name="desk_check",
    ),
    path(
        "<lgcode:municipality_code>/staff/desk/procedures/<slug:code>/send/",
        desk_views.send,
        name="desk_send",
    ),
    path(
        "<lgcode:municipality_code>/staff/desk/procedures/<slug:code>/form/<str:step>/",
        desk_views.form,
        name="desk_form",
    ),
    path("<lgcode:municipality_code>/life-events/<slug:bundle>/", bundle_views.bundle, name="bundle"),
    path(
        "<lgcode:municipality_code>/life-events/<slug:bundle>/send/",
        bundle_views.bundle_send,
        name="bundle_send",
    ),
]

"""Mounted at /dev-idp/ only when settings.DEV_IDP_ENABLED (never in production)."""

from django.urls import path

from madoguchi.devidp import views

app_name = "devidp"

urlpatterns = [
    path(".well-known/openid-configuration", views.discovery, name="discovery"),
    path("jwks", views.jwks, name="jwks"),
    path("oauth/authorize", views.authorize, name="authorize"),
    path("oauth/token", views.token, name="token"),
    path("oauth/userinfo", views.userinfo, name="userinfo"),
]

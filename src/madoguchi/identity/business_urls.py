"""Business pages (Internet zone): mounted at /business/ by conf/urls.py."""

from django.urls import path

from madoguchi.identity import business_views

app_name = "business"

urlpatterns = [
    path("", business_views.business_home, name="home"),
    path("sign-in/", business_views.business_sign_in, name="sign_in"),
    path("callback/", business_views.business_callback, name="callback"),
]

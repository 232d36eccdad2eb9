"""Mounted at /sandbox-gateway/ only when settings.SANDBOX_GATEWAY_ENABLED (never in production)."""

from django.urls import path

from madoguchi.sandboxgateway import views

app_name = "sandboxgateway"

urlpatterns = [
    path("v1/payments", views.payments, name="payments"),
    path("v1/payments/<slug:payment_id>", views.payment_detail, name="payment_detail"),
    path("pay/<slug:payment_id>/", views.pay, name="pay"),
]

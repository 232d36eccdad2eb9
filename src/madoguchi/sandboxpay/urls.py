from django.urls import path

from madoguchi.sandboxpay import views

app_name = "sandboxpay"
urlpatterns = [path("<slug:provider_code>/confirm", views.confirm, name="confirm")]

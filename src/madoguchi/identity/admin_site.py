"""The Django admin site, open to platform operators only. Kept free of model imports: settings name
MadoguchiAdminConfig in INSTALLED_APPS, and it is imported before the models are ready."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class MadoguchiAdminSite(admin.AdminSite):
    site_header = "Madoguchi 窓口 — platform administration"
    site_title = "Madoguchi admin"

    def has_permission(self, request):
        # Not every is_staff user: only platform operators (and superusers) who passed the TOTP step.
        from madoguchi.identity.selectors import is_platform_operator

        return is_platform_operator(request.user) and request.user.is_verified()

    def login(self, request, extra_context=None):
        # One sign-in for all staff: the admin's own form would skip the MFA step.
        from django.shortcuts import redirect
        from django.urls import reverse

        return redirect(f"{reverse('web:staff_login')}?next={request.get_full_path()}")


class MadoguchiAdminConfig(AdminConfig):
    default_site = "madoguchi.identity.admin_site.MadoguchiAdminSite"

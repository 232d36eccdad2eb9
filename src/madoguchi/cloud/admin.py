"""Operators edit the national figures of the savings report and correct usage records in the admin (audited)."""

from django.contrib import admin

from madoguchi.cloud.models import NationalCloudFigures, UsageRecord
from madoguchi.core.admin_audit import AuditedAdminMixin


@admin.register(NationalCloudFigures)
class NationalCloudFiguresAdmin(AuditedAdminMixin, admin.ModelAdmin):
    pass


@admin.register(UsageRecord)
class UsageRecordAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("membership", "month", "submissions", "storage_bytes", "api_calls", "users")
    list_filter = ("membership__group",)
    search_fields = ("membership__municipality__name", "membership__municipality__code")

from django.contrib import admin

from madoguchi.core.admin_audit import AuditedAdminMixin
from madoguchi.core.models import AuditRecord, Municipality, Prefecture


@admin.register(Prefecture)
class PrefectureAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "number", "name", "kana", "name_en"]
    search_fields = ["name", "kana", "code", "name_en"]


@admin.register(Municipality)
class MunicipalityAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "prefecture", "kind", "population"]
    list_filter = ["prefecture", "kind"]
    search_fields = ["code", "name", "kana", "search_text"]
    list_select_related = ["prefecture"]


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    """Read-only: the table is append-only in the database as well."""

    list_display = ["stream", "seq", "created_at", "actor_label", "action", "target_type", "target_id"]
    list_filter = ["action"]
    search_fields = ["stream", "action", "actor_label", "target_id"]
    ordering = ["-id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

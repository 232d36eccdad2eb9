from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from madoguchi.security.models import QuarantinedFile


@admin.register(QuarantinedFile)
class QuarantinedFileAdmin(admin.ModelAdmin):
    """Read-only: a quarantine record is evidence; releasing a file is a later, audited workflow."""

    list_display = ["created_at", "municipality", "original_name", "detected_type", "size", "short_reasons"]
    list_filter = ["detected_type", "municipality"]
    search_fields = ["original_name", "sha256"]
    list_select_related = ["municipality__prefecture"]
    readonly_fields = [f.name for f in QuarantinedFile._meta.fields]

    @admin.display(description=_("reasons"))
    def short_reasons(self, obj: QuarantinedFile) -> str:
        return obj.reasons_ja[:200]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

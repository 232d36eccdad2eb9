"""Django admin changes are state changes too: this mixin writes them to the audit log."""

from django.db import transaction
from django.forms.models import model_to_dict

from madoguchi.core import audit


class AuditedAdminMixin:
    """Records admin saves and deletes (field names only: values may be personal data)."""

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit.record(
                actor=request.user,
                action="admin.change" if change else "admin.add",
                target=obj,
                municipality=self._municipality_of(obj),
                details={"fields": sorted(form.changed_data)},
            )

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit.record(
                actor=request.user,
                action="admin.delete",
                target=obj,
                municipality=self._municipality_of(obj),
                details={"fields": sorted(model_to_dict(obj))},
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)

    @staticmethod
    def _municipality_of(obj):
        from madoguchi.core.models import Municipality

        value = getattr(obj, "municipality", None)
        return value if isinstance(value, Municipality) else None

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from madoguchi.core.admin_audit import AuditedAdminMixin
from madoguchi.identity.models import StaffRole, User


class StaffRoleInline(admin.TabularInline):
    model = StaffRole
    extra = 0
    autocomplete_fields = ["municipality"]


@admin.register(User)
class UserAdmin(AuditedAdminMixin, DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Madoguchi", {"fields": ["display_name"]}))
    inlines = [StaffRoleInline]

    def save_formset(self, request, form, formset, change):
        from django.db import transaction

        from madoguchi.core import audit

        with transaction.atomic():
            instances = formset.save()
            for role in instances:
                audit.record(
                    actor=request.user,
                    action="admin.staff_role_save",
                    target=form.instance,
                    municipality=role.municipality,
                    details={"role": role.role},
                )
            for role in formset.deleted_objects:
                audit.record(
                    actor=request.user,
                    action="admin.staff_role_delete",
                    target=form.instance,
                    municipality=role.municipality,
                    details={"role": role.role},
                )


@admin.register(StaffRole)
class StaffRoleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["user", "role", "municipality", "granted_at"]
    list_filter = ["role"]
    autocomplete_fields = ["user", "municipality"]
    list_select_related = ["user", "municipality"]

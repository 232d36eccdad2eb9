"""Operators keep the national cloud figures and usage records in the admin; every change is audited."""

import pytest
from django.urls import reverse

from madoguchi.core.models import AuditRecord
from madoguchi.identity.models import StaffRole
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff

pytestmark = pytest.mark.django_db


def test_operator_edits_national_figures_in_the_admin_and_it_is_audited(client):
    user = StaffRoleFactory(role=StaffRole.Role.PLATFORM_OPERATOR, municipality=None).user
    user.is_staff = True
    user.is_superuser = True
    user.save()
    sign_in_staff(client, user)
    assert client.get(reverse("admin:cloud_nationalcloudfigures_changelist")).status_code == 200
    assert client.get(reverse("admin:cloud_usagerecord_changelist")).status_code == 200
    add = client.get(reverse("admin:cloud_nationalcloudfigures_add"))
    assert add.status_code == 200
    before = AuditRecord.objects.filter(action="admin.add").count()
    form = add.context["adminform"].form
    data = {name: "" for name in form.fields}
    data.update({name: "1" for name, field in form.fields.items() if field.required})
    data.update(as_of="2026-04-01", bodies_on_cloud="1500", source="総務省（テスト）")
    response = client.post(reverse("admin:cloud_nationalcloudfigures_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert AuditRecord.objects.filter(action="admin.add").count() == before + 1

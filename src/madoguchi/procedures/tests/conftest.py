"""Fixtures of the procedures tests: the national catalogue, a municipality's adopted procedures, residents."""

import pytest
from django.urls import reverse

from madoguchi.core.tests.factories import MunicipalityFactory
from madoguchi.identity.models import StaffRole
from madoguchi.identity.tests.conftest import _session_ca, jpki  # noqa: F401 (fixtures)
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.procedures import services
from madoguchi.procedures.models import ProcedureTemplate


@pytest.fixture
def catalogue(db):
    services.catalogue_load()
    return ProcedureTemplate.objects.all()


@pytest.fixture
def town(db):
    return MunicipalityFactory(name="窓口町", kana="マドグチマチ")


@pytest.fixture
def other_town(db):
    return MunicipalityFactory(name="別の町", kana="ベツノマチ")


@pytest.fixture
def adopt(catalogue, town):
    def adopt(code: str, municipality=None, **local):
        template = ProcedureTemplate.objects.get(code=code)
        return services.procedure_adopt(
            municipality=municipality or town, template=template, actor=None, **local
        )

    return adopt


@pytest.fixture
def admin(town):
    return StaffRoleFactory(municipality=town, role=StaffRole.Role.MUNICIPAL_ADMIN).user


@pytest.fixture
def staff_client(client, admin):
    sign_in_staff(client, admin)
    return client


@pytest.fixture
def resident_client(client, jpki):  # noqa: F811 (the jpki fixture imported above)
    """A browser signed in with the demo card "yamada" (山田 太郎) through the card simulator."""
    response = client.post(reverse("web:resident_sign_in"), {"card": "yamada", "pin": "1234"})
    assert response.status_code == 302, response.content
    return client

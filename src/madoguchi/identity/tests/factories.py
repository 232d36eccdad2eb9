import factory

from madoguchi.core.tests.factories import MunicipalityFactory
from madoguchi.identity.models import StaffRole, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    display_name = factory.Sequence(lambda n: f"職員{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffRole

    user = factory.SubFactory(UserFactory)
    municipality = factory.SubFactory(MunicipalityFactory)
    role = StaffRole.Role.MUNICIPAL_ADMIN

    class Params:
        operator = factory.Trait(role=StaffRole.Role.PLATFORM_OPERATOR, municipality=None)
        clerk = factory.Trait(role=StaffRole.Role.DESK_CLERK)
        auditor = factory.Trait(role=StaffRole.Role.AUDITOR)

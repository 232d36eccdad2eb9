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


def verified(user):
    """The user as OTPMiddleware leaves it after the TOTP step (what the vault and staff pages require)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="test", confirmed=True
    )
    user.otp_device = device
    user.is_verified = lambda: True
    return user


def sign_in_staff(client, user):
    """force_login plus a passed TOTP step in the test client's session."""
    from django_otp import DEVICE_ID_SESSION_KEY

    device = verified(user).otp_device
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return user

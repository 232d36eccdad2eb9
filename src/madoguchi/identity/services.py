"""Writes about users and staff roles. Each function is one transaction with its audit record."""

from django.db import transaction

from madoguchi.core import audit
from madoguchi.core.models import Municipality
from madoguchi.identity.models import StaffRole, User


@transaction.atomic
def staff_user_create(
    *, username: str, password: str | None, display_name: str = "", email: str = "", actor=None
) -> User:
    """Create a staff user (no roles yet). `password=None` makes an account that cannot sign in by password."""
    user = User(username=username, display_name=display_name, email=email)
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    audit.record(
        actor=actor, action="identity.staff_user_create", target=user, details={"username": username}
    )
    return user


@transaction.atomic
def staff_role_grant(*, user: User, role: str, municipality: Municipality | None, actor=None) -> StaffRole:
    """Give `user` a role (idempotent). Platform operators get Django admin access (is_staff) with it."""
    staff_role, created = StaffRole.objects.get_or_create(user=user, role=role, municipality=municipality)
    if role == StaffRole.Role.PLATFORM_OPERATOR and not user.is_staff:
        User.objects.filter(pk=user.pk).update(is_staff=True)
        user.is_staff = True
    if created:
        audit.record(
            actor=actor,
            action="identity.staff_role_grant",
            target=user,
            municipality=municipality,
            details={"role": role, "username": user.get_username()},
        )
    return staff_role


@transaction.atomic
def staff_role_revoke(*, user: User, role: str, municipality: Municipality | None, actor=None) -> bool:
    """Remove a role; True when there was one. An operator who loses the role loses admin access too."""
    deleted, _ = StaffRole.objects.filter(user=user, role=role, municipality=municipality).delete()
    if role == StaffRole.Role.PLATFORM_OPERATOR and not user.is_superuser:
        User.objects.filter(pk=user.pk).update(is_staff=False)
        user.is_staff = False
    if deleted:
        audit.record(
            actor=actor,
            action="identity.staff_role_revoke",
            target=user,
            municipality=municipality,
            details={"role": role, "username": user.get_username()},
        )
    return bool(deleted)

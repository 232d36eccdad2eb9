"""Reads about staff: which municipalities a user may act for, and in which roles.

Every staff page and API resolves its municipality through `staff_access`, so a staff member of one
municipality can never read another's data by changing the code in the URL.
"""

from collections.abc import Iterable

from django.db.models import QuerySet

from madoguchi.core.models import Municipality
from madoguchi.identity.models import StaffRole, User

Role = StaffRole.Role
ALL_MUNICIPAL_ROLES = frozenset(r for r in Role if r is not Role.PLATFORM_OPERATOR)


def is_platform_operator(user: User) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.staff_roles.filter(role=Role.PLATFORM_OPERATOR).exists()


def staff_roles_in(user: User, municipality: Municipality) -> set[str]:
    """The user's roles in this municipality (empty for anyone else, including platform operators: an
    operator runs the platform but does not act inside a municipality's back office)."""
    if not user.is_authenticated or not user.is_active:
        return set()
    return set(user.staff_roles.filter(municipality=municipality).values_list("role", flat=True))


def staff_access(user: User, municipality: Municipality, roles: Iterable[str] = ALL_MUNICIPAL_ROLES) -> bool:
    """True when the user holds one of `roles` in `municipality`."""
    return bool(staff_roles_in(user, municipality) & set(roles))


def staff_municipalities(user: User) -> QuerySet[Municipality]:
    """Municipalities in which the user holds any role, in code order."""
    if not user.is_authenticated or not user.is_active:
        return Municipality.objects.none()
    return (
        Municipality.objects.filter(staff_roles__user=user)
        .select_related("prefecture")
        .distinct()
        .order_by("code")
    )


def staff_role_list(user: User) -> QuerySet[StaffRole]:
    return user.staff_roles.select_related("municipality__prefecture").order_by("municipality__code", "role")

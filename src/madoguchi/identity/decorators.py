"""Access rules for staff views, shared by every app's back-office pages."""

from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from madoguchi.identity import selectors
from madoguchi.identity.models import StaffRole

DESK_ROLES = frozenset({StaffRole.Role.DESK_CLERK, StaffRole.Role.MUNICIPAL_ADMIN})


def verified_staff_required(view):
    """Signed in with password AND the TOTP code; otherwise to sign-in, then to the MFA step."""

    @wraps(view)
    @login_required
    @never_cache
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not request.user.is_verified():
            return redirect(f"{reverse('web:staff_mfa')}?{urlencode({'next': request.get_full_path()})}")
        return view(request, *args, **kwargs)

    return wrapped


def municipality_staff_required(roles=selectors.ALL_MUNICIPAL_ROLES):
    """Require a verified staff member holding one of `roles` in the URL's municipality; 403 otherwise."""

    def decorator(view):
        @wraps(view)
        @verified_staff_required
        def wrapped(request: HttpRequest, *args, **kwargs):
            if not selectors.staff_access(request.user, request.municipality, roles):
                raise PermissionDenied(
                    _("You do not hold a staff role in %(name)s that allows this.")
                    % {"name": request.municipality.full_name}
                )
            return view(request, *args, **kwargs)

        return wrapped

    return decorator

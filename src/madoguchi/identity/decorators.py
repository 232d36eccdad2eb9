"""Access rules for staff views, shared by every app's back-office pages."""

from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import redirect, render
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


def desk_resident_required(refused_template: str):
    """A view of the municipal desk (窓口モード): a desk clerk (or municipal admin) of the URL's municipality,
    with an open desk session of THIS municipality in which a resident has identified with their card, and a
    POST only from a page shown during this same desk session. Anything else is refused with its reason on
    `refused_template` (given `municipality` and `message`): 403, or 409 for a page of another session."""

    def refuse(request: HttpRequest, message: str, status: int = 403):
        context = {"municipality": request.municipality, "message": message}
        return render(request, refused_template, context, status=status)

    def decorator(view):
        @wraps(view)
        @municipality_staff_required(DESK_ROLES)
        def wrapped(request: HttpRequest, municipality_code: str, *args, **kwargs):
            desk = request.desk
            if desk is None:
                return refuse(request, _("No desk session is open. Start one on the desk page, then ask the "
                                         "resident to identify with their My Number Card."))  # fmt: skip
            if desk.municipality_id != request.municipality.pk:
                return refuse(
                    request,
                    _("Your open desk session belongs to %(name)s, not to this municipality. Finish it there "
                      "(“Next resident”) and start a desk session here.") % {"name": desk.municipality.full_name},
                )  # fmt: skip
            if desk.resident_id is None:
                return refuse(request, _("No resident is identified at this desk. Ask the resident to identify "
                                         "with their My Number Card first."))  # fmt: skip
            if request.method == "POST" and request.POST.get("desk_session") != str(desk.pk):
                # The page was shown for another desk session (another resident): never act on it.
                return refuse(
                    request,
                    _("This page was shown during another desk session, so nothing was done. Check who is "
                      "being served now and start again."),
                    status=409,
                )  # fmt: skip
            return view(request, municipality_code, *args, **kwargs)

        return wrapped

    return decorator

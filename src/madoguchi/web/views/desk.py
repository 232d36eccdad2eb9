"""Desk mode pages: /<code>/staff/desk/ — one resident at a time on a shared terminal."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from madoguchi.identity import card_simulator, desk
from madoguchi.identity.decorators import DESK_ROLES, municipality_staff_required
from madoguchi.identity.resident_services import SignInRefused


def _current(request: HttpRequest):
    """The clerk's desk session, only if it belongs to the municipality in the URL."""
    current = request.desk
    if current is not None and current.municipality_id != request.municipality.pk:
        return None
    return current


@municipality_staff_required(DESK_ROLES)
def desk_home(request: HttpRequest, municipality_code: str) -> HttpResponse:
    current = _current(request)
    context = {"municipality": request.municipality, "desk": current}
    if card_simulator.enabled():
        context["demo_cards"] = card_simulator.demo_cards()
    return render(request, "web/staff/desk.html", context)


@require_POST
@municipality_staff_required(DESK_ROLES)
def desk_start(request: HttpRequest, municipality_code: str) -> HttpResponse:
    desk.desk_start(request=request, clerk=request.user, municipality=request.municipality)
    return redirect("web:staff_desk", request.municipality.code)


@require_POST
@municipality_staff_required(DESK_ROLES)
def desk_next(request: HttpRequest, municipality_code: str) -> HttpResponse:
    desk.desk_next(request=request)
    messages.success(request, _("The session has ended. Nothing more can be done for the previous resident."))
    return redirect("web:staff_desk", request.municipality.code)


@require_POST
@municipality_staff_required(DESK_ROLES)
def desk_identify_with_simulator(request: HttpRequest, municipality_code: str) -> HttpResponse:
    """The resident types the PIN of their (demo) card; the same challenge–response as a real card."""
    current = _current(request)
    if current is None:
        messages.error(request, _("Start a desk session first."))
        return redirect("web:staff_desk", request.municipality.code)
    try:
        result = card_simulator.sign_in(card=request.POST.get("card", ""), pin=request.POST.get("pin", ""))
        desk.desk_identify(desk=current, resident=result.resident, clerk=request.user)
    except (SignInRefused, card_simulator.SimulatorError, desk.DeskError) as exc:
        messages.error(request, exc.message)
    return redirect("web:staff_desk", request.municipality.code)


@require_POST
@municipality_staff_required(DESK_ROLES)
def desk_card_reset(request: HttpRequest, municipality_code: str) -> HttpResponse:
    """Reset a locked card's PIN or signing password (the resident is at the desk with the card)."""
    try:
        card_simulator.reset_secret(
            card=request.POST.get("card", ""),
            which=request.POST.get("which", ""),
            new_secret=request.POST.get("new_secret", ""),
            clerk=request.user,
            municipality=request.municipality,
        )
    except card_simulator.SimulatorError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The card has been reset and unlocked."))
    return redirect("web:staff_desk", request.municipality.code)

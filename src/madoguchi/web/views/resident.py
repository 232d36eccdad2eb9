"""Resident pages: sign-in with the My Number Card, my page (MyKey ID, certificates, sign-in history)."""

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from madoguchi.core.selectors import audit_records_by_actor
from madoguchi.identity import card_simulator, resident_services
from madoguchi.identity.resident_services import MyKeyIdPending, SignInRefused

SIGN_IN_ACTIONS = ["identity.resident_sign_in", "identity.resident_create", "identity.mykey_id_issue",
                   "identity.document_signed", "identity.duplicate_holder_reported"]  # fmt: skip
AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _resident(request: HttpRequest):
    resident = getattr(request.user, "resident", None) if request.user.is_authenticated else None
    if resident is None:
        raise PermissionDenied(_("This page is for residents signed in with their My Number Card."))
    return resident


@never_cache
def resident_sign_in(request: HttpRequest) -> HttpResponse:
    """Sign-in with the card. Real cards use a card reader or smartphone client against the JPKI API; the
    development simulator runs the same challenge–response in the server."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.method == "POST":
        try:
            result = card_simulator.sign_in(
                card=request.POST.get("card", ""), pin=request.POST.get("pin", "")
            )
        except (SignInRefused, card_simulator.SimulatorError) as exc:
            messages.error(request, exc.message)
        else:
            # A shared browser must never carry someone else's session into this one.
            if request.user.is_authenticated:
                logout(request)
            login(request, result.resident.user, backend=AUTH_BACKEND)
            if _safe_next(request, next_url):
                return redirect(next_url)
            return redirect("web:resident_home")
    return render(
        request,
        "web/resident/sign_in.html",
        {
            "simulator": card_simulator.enabled(),
            "demo_cards": card_simulator.demo_cards(),
            "next": next_url if _safe_next(request, next_url) else "",
        },
    )


def _safe_next(request: HttpRequest, url: str) -> bool:
    """Only a path on this site (an application the resident was in the middle of), never another host."""
    return bool(url) and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=False
    )


@login_required(login_url="web:resident_sign_in")
@never_cache
def resident_home(request: HttpRequest) -> HttpResponse:
    resident = _resident(request)
    history = audit_records_by_actor(request.user).filter(action__in=SIGN_IN_ACTIONS)[:20]
    return render(
        request,
        "web/resident/home.html",
        {
            "resident": resident,
            "certificates": resident.certificates.order_by("-first_seen_at"),
            "history": history,
            "simulator": card_simulator.enabled(),
            "demo_cards": card_simulator.demo_cards(),
        },
    )


@require_POST
@login_required(login_url="web:resident_sign_in")
def resident_mykey_setup(request: HttpRequest) -> HttpResponse:
    """Set up the MyKey ID: the resident signs a statement with the card's signing certificate."""
    resident = _resident(request)
    try:
        signature = card_simulator.sign_document(
            card=request.POST.get("card", ""),
            password=request.POST.get("password", ""),
            content=resident_services.mykey_statement(resident),
        )
        mykey_id = resident_services.mykey_id_issue(resident=resident, signature=signature)
    except (SignInRefused, card_simulator.SimulatorError) as exc:
        messages.error(request, exc.message)
    except MyKeyIdPending as exc:
        messages.warning(request, str(exc))
    else:
        messages.success(request, _("Your MyKey ID is %(id)s.") % {"id": mykey_id})
    return redirect("web:resident_home")


@require_POST
def resident_sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.success(request, _("You have signed out."))
    return redirect("web:home")

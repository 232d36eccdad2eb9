"""Business sign-in with GビズID: the sign-in page, the OpenID Connect callback and the business's home page."""

import logging

from django.contrib.auth import login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from madoguchi.identity import oidc
from madoguchi.identity.business_services import business_sign_in as business_sign_in_record
from madoguchi.identity.models import BusinessAccount
from madoguchi.identity.oidc import SignInError

logger = logging.getLogger(__name__)


def _safe_next(request: HttpRequest, value: str | None) -> str:
    """A page of this site to return to after sign-in; never another site, nor the sign-in pages themselves."""
    if not value or not url_has_allowed_host_and_scheme(value, {request.get_host()}, request.is_secure()):
        return ""
    if value.startswith((reverse("business:sign_in"), reverse("business:callback"))):
        return ""
    return value


def _sign_in_error(request: HttpRequest, error: SignInError) -> HttpResponse:
    # The code and the provider's error code only: never a token, a claim or the query string.
    logger.warning("GビズID sign-in refused: %s %s", error.code, error.provider_error)
    return render(
        request,
        "identity/business/error.html",
        {"error": error, "error_code": error.code, "status": error.status},
        status=error.status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def business_sign_in(request: HttpRequest) -> HttpResponse:
    """GET: the page with the "Sign in with GビズID" button. POST (the button): go to GビズID."""
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.method == "POST":
        redirect_uri = request.build_absolute_uri(reverse("business:callback"))
        try:
            url = oidc.sign_in_begin(request, redirect_uri=redirect_uri, next_url=next_url)
        except SignInError as error:
            return _sign_in_error(request, error)
        return HttpResponseRedirect(url)
    return render(request, "identity/business/sign_in.html", {"next": next_url})


@never_cache
@require_GET
def business_callback(request: HttpRequest) -> HttpResponse:
    """GビズID sends the browser back here with `code` and `state` (or `error`)."""
    try:
        result = oidc.sign_in_complete(request)
        account = business_sign_in_record(issuer=result.issuer, claims=result.claims)
    except SignInError as error:
        return _sign_in_error(request, error)
    except ValidationError:
        return _sign_in_error(request, SignInError("invalid_claims"))
    except PermissionDenied:
        return _sign_in_error(request, SignInError("account_suspended", status=403))
    login(request, account.user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect(_safe_next(request, result.next_url) or "business:home")


@never_cache
@require_GET
def business_home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect(reverse("business:sign_in") + "?next=" + reverse("business:home"))
    account = BusinessAccount.objects.select_related("business").filter(user=request.user).first()
    if account is None:
        raise PermissionDenied(_("This page is for businesses signed in with GビズID."))
    return render(request, "identity/business/home.html", {"account": account, "business": account.business})

"""Endpoints of the development OpenID provider, shaped like GビズID's.

/.well-known/openid-configuration and /jwks describe it; /oauth/authorize shows the consent page (pick a demo
account) and redirects back with a code; /oauth/token (client_secret_basic) turns the code into an access token
and an RS256 ID token; /oauth/userinfo releases claims by scope. The issuer is this app's URL on the host the
request came to, so it works on whatever host and port the developer runs.
"""

import base64
import binascii
import re
from dataclasses import asdict, dataclass
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from madoguchi.devidp import services
from madoguchi.devidp.models import DemoAccount, RegisteredClient
from madoguchi.devidp.services import OAuthError

DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
# RFC 7636 §4.2: an S256 challenge is 43 base64url characters.
S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
SCOPE_DESCRIPTIONS = {
    "openid": _("That you signed in with GビズID (an identifier only)"),
    "profile": _(
        "Your business: account type, corporate number, name, prefecture, address and representative"
    ),
    "user": _("You: your name, department and phone number"),
    "email": _("Your email address"),
}
AUTHORIZATION_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
)


def issuer_of(request: HttpRequest) -> str:
    """This provider's issuer as seen by the request: scheme, host and the prefix the app is mounted at."""
    return request.build_absolute_uri(reverse("devidp:discovery")).removesuffix(DISCOVERY_SUFFIX)


def _oauth_json(payload: dict, status: int = 200, **headers: str) -> JsonResponse:
    response = JsonResponse(payload, status=status, json_dumps_params={"ensure_ascii": False})
    # RFC 6749 §5.1: token responses (and their errors) must not be cached.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _oauth_error(error: OAuthError, **headers: str) -> JsonResponse:
    return _oauth_json(
        {"error": error.error, "error_description": error.description}, error.status, **headers
    )


# --- Metadata ----------------------------------------------------------------------------------------------
@require_GET
def discovery(request: HttpRequest) -> JsonResponse:
    issuer = issuer_of(request)
    return JsonResponse(
        {
            "issuer": issuer,
            "authorization_endpoint": issuer + "/oauth/authorize",
            "token_endpoint": issuer + "/oauth/token",
            "userinfo_endpoint": issuer + "/oauth/userinfo",
            "jwks_uri": issuer + "/jwks",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [services.SIGNING_ALG],
            "scopes_supported": list(services.SUPPORTED_SCOPES),
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "jti",
                "account_type",
                "corp_type",
                "corporate_number",
                "name",
                "prefecture",
                "address",
                "representative_name",
                "user_name",
                "user_department",
                "user_phone",
                "email",
            ],  # fmt: skip
            "authorization_response_iss_parameter_supported": True,
        }
    )


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(services.public_jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


# --- Authorization endpoint --------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str
    nonce: str
    code_challenge: str
    code_challenge_method: str
    response_type: str = "code"


class FatalAuthorizationError(Exception):
    """The client or its redirect URI cannot be trusted: show an error page, never redirect (RFC 6749 §4.1.2.1)."""


class RedirectableError(Exception):
    def __init__(self, error: str, description: str, *, redirect_uri: str, state: str):
        super().__init__(error)
        self.error, self.description, self.redirect_uri, self.state = error, description, redirect_uri, state


def _single(params: QueryDict, name: str) -> str:
    values = params.getlist(name)
    if len(values) > 1:
        raise ValueError(name)
    return values[0] if values else ""


def parse_authorization_request(params: QueryDict) -> tuple[AuthorizationRequest, RegisteredClient]:
    """Validate an authorization request. Order matters: the client and its redirect URI first (their errors
    are shown here), everything else after (its errors go back to the client's redirect URI)."""
    try:
        client_id = _single(params, "client_id")
        redirect_uri = _single(params, "redirect_uri")
    except ValueError:
        raise FatalAuthorizationError(_("The request repeats client_id or redirect_uri.")) from None
    client = services.client_by_id(client_id) if client_id else None
    if client is None:
        raise FatalAuthorizationError(_("The application that sent you here is not registered (client_id)."))
    if not redirect_uri or redirect_uri not in client.redirect_uris:
        raise FatalAuthorizationError(
            _("The return address (redirect_uri) is not registered for this application.")
        )

    def fail(error: str, description: str):
        return RedirectableError(error, description, redirect_uri=redirect_uri, state=state)

    state = params.get("state", "")
    try:
        values = {name: _single(params, name) for name in AUTHORIZATION_PARAMS}
    except ValueError as exc:
        raise fail("invalid_request", f"The parameter {exc} is repeated.") from None
    if not values["response_type"]:
        raise fail("invalid_request", "response_type is required.")
    if values["response_type"] != "code":
        raise fail(
            "unsupported_response_type", "Only the authorization code flow (response_type=code) is supported."
        )
    scopes = values["scope"].split()
    if "openid" not in scopes:
        raise fail("invalid_scope", "The openid scope is required.")
    unknown = sorted(set(scopes) - set(services.SUPPORTED_SCOPES))
    if unknown:
        raise fail("invalid_scope", "Unsupported scope: " + " ".join(unknown))
    challenge, method = values["code_challenge"], values["code_challenge_method"]
    if challenge or method:
        if method != "S256":
            raise fail("invalid_request", "Only code_challenge_method=S256 is supported.")
        if not S256_CHALLENGE.match(challenge):
            raise fail("invalid_request", "code_challenge must be 43 base64url characters (S256).")
    if len(values["nonce"]) > 255:
        raise fail("invalid_request", "nonce is too long.")
    if "none" in values["prompt"].split():
        # The stand-in keeps no sign-in session, so it can never authenticate without showing its page.
        raise fail("login_required", "The user must pick an account.")
    scope = " ".join(s for s in services.SUPPORTED_SCOPES if s in scopes)
    request = AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        state=values["state"],
        nonce=values["nonce"],
        code_challenge=challenge,
        code_challenge_method=method,
    )
    return request, client


def _redirect(uri: str, params: dict[str, str]) -> HttpResponseRedirect:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v]
    return HttpResponseRedirect(urlunsplit(parts._replace(query=urlencode(query))))


class AccountRadioSelect(forms.RadioSelect):
    def id_for_label(self, id_, index="0"):
        # A radio group has no single label target; the error summary's link goes to its first choice.
        return super().id_for_label(id_, index)


class ConsentForm(forms.Form):
    account = forms.ModelChoiceField(
        label=_("GビズID account to sign in with"),
        queryset=DemoAccount.objects.all(),
        widget=AccountRadioSelect,
        empty_label=None,
        error_messages={"required": _("Choose an account."), "invalid_choice": _("Choose an account.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].label_from_instance = lambda a: (
            f"{a.user_name}（{a.corporate_name}）— {a.get_account_type_display()}"
        )


@never_cache
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    params = request.POST if request.method == "POST" else request.GET
    try:
        auth_request, client = parse_authorization_request(params)
    except FatalAuthorizationError as exc:
        return render(request, "devidp/error.html", {"message": exc.args[0]}, status=400)
    except RedirectableError as exc:
        return _redirect(
            exc.redirect_uri,
            {
                "error": exc.error,
                "error_description": exc.description,
                "state": exc.state,
                "iss": issuer_of(request),
            },
        )

    form = ConsentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        back = {"state": auth_request.state, "iss": issuer_of(request)}
        if request.POST.get("decision") == "deny":
            return _redirect(
                auth_request.redirect_uri,
                {"error": "access_denied", "error_description": "The user declined.", **back},
            )
        if form.is_valid():
            code = services.authorization_code_issue(
                client=client,
                account=form.cleaned_data["account"],
                redirect_uri=auth_request.redirect_uri,
                scope=auth_request.scope,
                nonce=auth_request.nonce,
                code_challenge=auth_request.code_challenge,
            )
            return _redirect(auth_request.redirect_uri, {"code": code, **back})
    return render(
        request,
        "devidp/authorize.html",
        {
            "form": form,
            "client": client,
            "hidden": {k: v for k, v in asdict(auth_request).items() if v},
            "scopes": [SCOPE_DESCRIPTIONS[s] for s in auth_request.scope.split()],
        },
        status=400 if form.is_bound else 200,
    )


# --- Token endpoint ----------------------------------------------------------------------------------------
def _basic_credentials(request: HttpRequest) -> tuple[str, str]:
    """client_secret_basic (RFC 6749 §2.3.1): both parts form-urlencoded, then Base64 in the Basic header."""
    scheme, _sep, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "Authenticate with HTTP Basic (client_secret_basic).", status=401)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "The Basic credentials are malformed.", status=401) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "The Basic credentials are malformed.", status=401)
    return unquote_plus(client_id), unquote_plus(secret)


@csrf_exempt  # a back-channel call authenticated by the client's own credentials, not a browser form
@require_POST
def token(request: HttpRequest) -> JsonResponse:
    try:
        client_id, secret = _basic_credentials(request)
        client = services.client_authenticate(client_id=client_id, secret=secret)
        body = request.POST
        if body.get("client_id") and body["client_id"] != client.client_id:
            raise OAuthError(
                "invalid_request", "client_id in the body differs from the authenticated client."
            )
        for name in ("grant_type", "code", "redirect_uri", "code_verifier"):
            if len(body.getlist(name)) > 1:
                raise OAuthError("invalid_request", f"The parameter {name} is repeated.")
        grant_type = body.get("grant_type", "")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required.")
        if grant_type != "authorization_code":
            raise OAuthError("unsupported_grant_type", "Only grant_type=authorization_code is supported.")
        if not body.get("code"):
            raise OAuthError("invalid_request", "code is required.")
        if not body.get("redirect_uri"):
            raise OAuthError("invalid_request", "redirect_uri is required.")
        result = services.token_exchange(
            client=client,
            code=body["code"],
            redirect_uri=body["redirect_uri"],
            code_verifier=body.get("code_verifier", ""),
            issuer=issuer_of(request),
        )
    except OAuthError as exc:
        if exc.status == 401:
            return _oauth_error(exc, WWW_Authenticate='Basic realm="dev-idp"')
        return _oauth_error(exc)
    return _oauth_json(result.as_dict())


# --- Userinfo endpoint -------------------------------------------------------------------------------------
@csrf_exempt
@require_http_methods(["GET", "POST"])
def userinfo(request: HttpRequest) -> JsonResponse:
    scheme, _sep, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        # RFC 6750 §3.1: no credentials at all → a challenge without an error code.
        error = OAuthError("invalid_request", "A Bearer access token is required.", status=401)
        return _oauth_error(error, WWW_Authenticate='Bearer realm="dev-idp"')
    try:
        claims = services.userinfo(access_token=value.strip())
    except OAuthError as exc:
        return _oauth_error(exc, WWW_Authenticate=f'Bearer realm="dev-idp", error="{exc.error}"')
    return _oauth_json(claims)

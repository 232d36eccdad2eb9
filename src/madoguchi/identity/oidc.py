"""GビズID relying party: OpenID Connect authorization code flow with PKCE S256, state and nonce.

The flow (OpenID Connect Core 1.0 §3.1, RFC 7636):
1. `sign_in_begin` makes state, nonce and a PKCE verifier, keeps them in the session and returns the provider's
   authorization URL.
2. `sign_in_complete` (the callback) takes them out of the session again (one use), checks `state` (and `iss`,
   RFC 9207, when the provider sends it), exchanges the code at the token endpoint with client_secret_basic,
   validates the ID token (RS256 signature against the provider's JWKS, iss, aud, exp, iat, nonce), and fetches
   userinfo, whose `sub` must be the ID token's.

The provider is `settings.GBIZID_ISSUER` (metadata by discovery at ISSUER/.well-known/openid-configuration) or,
when that is empty and the development provider is enabled, the built-in one at this host's /dev-idp. Discovery
documents and JWKS are cached in the Django cache; an ID token signed with a key the cache does not know makes
one fresh JWKS fetch (the provider rotated its key).

Back-channel HTTP goes through a `Transport`: `requests` in production; tests swap `default_transport` for one
that calls the development provider through Django's test client. Every failure is a `SignInError` with a stable
code; nothing personal and no token is ever logged.
"""

import base64
import hashlib
import json
import logging
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol
from urllib.parse import quote_plus, urlencode

import requests
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

logger = logging.getLogger(__name__)

SESSION_KEY = "gbizid_sign_in"
FLOW_SECONDS = 10 * 60  # a sign-in not completed within this time must start again
CLOCK_LEEWAY_SECONDS = 60
METADATA_CACHE_SECONDS = 60 * 60
ID_TOKEN_ALGORITHMS = ["RS256"]
DISCOVERY_PATH = "/.well-known/openid-configuration"
PROVIDER_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")


# --- Back-channel HTTP -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HttpResult:
    status: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class Transport(Protocol):
    def get(self, url: str, *, headers: dict[str, str]) -> HttpResult: ...

    def post(self, url: str, *, data: dict[str, str], headers: dict[str, str]) -> HttpResult: ...


class RequestsTransport:
    """HTTP with `requests`: connect and read timeouts, no redirects followed (an endpoint must answer itself)."""

    def __init__(self, timeout: tuple[float, float] = (5.0, 10.0)):
        self.timeout = timeout

    def get(self, url: str, *, headers: dict[str, str]) -> HttpResult:
        response = requests.get(url, headers=headers, timeout=self.timeout, allow_redirects=False)
        return HttpResult(response.status_code, response.content)

    def post(self, url: str, *, data: dict[str, str], headers: dict[str, str]) -> HttpResult:
        response = requests.post(url, data=data, headers=headers, timeout=self.timeout, allow_redirects=False)
        return HttpResult(response.status_code, response.content)


def default_transport() -> Transport:
    return RequestsTransport()


# --- Errors ------------------------------------------------------------------------------------------------
class SignInError(Exception):
    """A sign-in that must not go on. `code` is stable (logs, tests, help desks); `message` is for the user."""

    MESSAGES = {
        "not_configured": _("Sign-in with GビズID is not set up on this platform."),
        "provider_unavailable": _("GビズID could not be reached or answered unexpectedly. Please try again in a few minutes."),
        "no_sign_in": _("No GビズID sign-in was in progress here, or it took too long. Please start again."),
        "state_mismatch": _("The answer from GビズID does not belong to the sign-in you started here. Please start again."),
        "access_denied": _("The sign-in was cancelled at GビズID."),
        "provider_error": _("GビズID did not complete the sign-in. Please start again."),
        "token_refused": _("GビズID did not accept the sign-in code; it may have expired or been used already. Please start again."),
        "id_token_invalid": _("The identity token from GビズID is not valid."),
        "id_token_signature": _("The signature of the identity token from GビズID could not be verified."),
        "id_token_expired": _("The identity token from GビズID has expired. Please start again."),
        "issuer_mismatch": _("The identity token was not issued by the expected GビズID provider."),
        "audience_mismatch": _("The identity token was issued for another service."),
        "nonce_mismatch": _("The identity token does not belong to the sign-in you started here."),
        "userinfo_failed": _("GビズID did not provide the account information."),
        "subject_mismatch": _("The account information from GビズID does not match the identity token."),
        "invalid_claims": _("The account information from GビズID is incomplete or not valid."),
        "account_suspended": _("This business account has been suspended on this platform."),
    }  # fmt: skip

    def __init__(self, code: str, *, status: int = 400, provider_error: str = ""):
        if code not in self.MESSAGES:
            raise ValueError(f"unknown sign-in error code {code!r}")
        super().__init__(code)
        self.code = code
        self.status = status
        # Only an RFC 6749 style code is kept: the callback's query string is attacker-controlled text.
        self.provider_error = provider_error if PROVIDER_ERROR_CODE.match(provider_error or "") else ""

    @property
    def message(self) -> str:
        return self.MESSAGES[self.code]


# --- Protocol ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class PendingSignIn:
    """What the session keeps between the redirect to GビズID and the callback."""

    issuer: str
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    next_url: str = ""
    started_at: int = field(default_factory=lambda: int(time.time()))


@dataclass(frozen=True)
class SignInResult:
    issuer: str
    id_token_claims: dict
    userinfo: dict
    next_url: str = ""

    @property
    def claims(self) -> dict:
        """Userinfo claims with the ID token's `sub` (which userinfo's was checked to equal)."""
        return {**self.userinfo, "sub": self.id_token_claims["sub"]}


def s256(code_verifier: str) -> str:
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _cache_key(kind: str, url: str) -> str:
    return f"gbizid:{kind}:{hashlib.sha256(url.encode()).hexdigest()}"


class GBizIdClient:
    def __init__(
        self, *, issuer: str, client_id: str, client_secret: str, scopes: list[str], transport: Transport
    ):
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self.transport = transport

    # Metadata and keys
    def _get_json(self, url: str, *, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        try:
            result = self.transport.get(url, headers={"Accept": "application/json", **(headers or {})})
            return result.status, result.json()
        except (requests.RequestException, ValueError):
            raise SignInError("provider_unavailable", status=502) from None

    def metadata(self) -> ProviderMetadata:
        key = _cache_key("discovery", self.issuer)
        document = cache.get(key)
        if document is None:
            status, document = self._get_json(self.issuer + DISCOVERY_PATH)
            if status != 200 or not isinstance(document, dict):
                raise SignInError("provider_unavailable", status=502)
            # OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
            if document.get("issuer") != self.issuer:
                raise SignInError("issuer_mismatch", status=502)
            cache.set(key, document, METADATA_CACHE_SECONDS)
        try:
            return ProviderMetadata(
                **{name: str(document[name]) for name in ProviderMetadata.__dataclass_fields__}
            )
        except KeyError:
            raise SignInError("provider_unavailable", status=502) from None

    def _jwks(self, *, refresh: bool) -> KeySet:
        uri = self.metadata().jwks_uri
        key = _cache_key("jwks", uri)
        document = None if refresh else cache.get(key)
        if document is None:
            status, document = self._get_json(uri)
            if status != 200 or not isinstance(document, dict):
                raise SignInError("provider_unavailable", status=502)
            cache.set(key, document, METADATA_CACHE_SECONDS)
        try:
            return KeySet.import_key_set(document)
        except (JoseError, ValueError, TypeError, KeyError):
            raise SignInError("provider_unavailable", status=502) from None

    # Step 1
    def begin(self, *, redirect_uri: str, next_url: str = "") -> tuple[str, PendingSignIn]:
        pending = PendingSignIn(
            issuer=self.issuer,
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(64),  # 86 characters, inside RFC 7636's 43–128
            redirect_uri=redirect_uri,
            next_url=next_url,
        )
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.scopes),
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": s256(pending.code_verifier),
            "code_challenge_method": "S256",
        }
        endpoint = self.metadata().authorization_endpoint
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(query), pending

    # Step 2
    def complete(self, pending: PendingSignIn, params) -> SignInResult:
        """Validate the callback `params` (request.GET) against `pending`, then finish the flow."""
        if not secrets.compare_digest(params.get("state", "").encode(), pending.state.encode()):
            raise SignInError("state_mismatch")
        if params.get("iss") and params["iss"] != self.issuer:
            raise SignInError("issuer_mismatch")
        if params.get("error"):
            error = params["error"]
            raise SignInError(
                "access_denied" if error == "access_denied" else "provider_error", provider_error=error
            )
        code = params.get("code", "")
        if not code:
            raise SignInError("provider_error")
        tokens = self.exchange_code(code=code, pending=pending)
        id_claims = self.validate_id_token(tokens["id_token"], nonce=pending.nonce)
        info = self.fetch_userinfo(tokens["access_token"])
        if info.get("sub") != id_claims["sub"]:
            # OpenID Connect Core §5.3.4: otherwise the userinfo must not be used.
            raise SignInError("subject_mismatch")
        return SignInResult(
            issuer=self.issuer, id_token_claims=id_claims, userinfo=info, next_url=pending.next_url
        )

    def exchange_code(self, *, code: str, pending: PendingSignIn) -> dict:
        # RFC 6749 §2.3.1: client_secret_basic form-urlencodes both parts before Base64.
        credentials = f"{quote_plus(self.client_id)}:{quote_plus(self.client_secret)}"
        headers = {
            "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode("ascii"),
            "Accept": "application/json",
        }
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "code_verifier": pending.code_verifier,
        }
        try:
            result = self.transport.post(self.metadata().token_endpoint, data=data, headers=headers)
            body = result.json()
        except (requests.RequestException, ValueError):
            raise SignInError("provider_unavailable", status=502) from None
        if not isinstance(body, dict):
            raise SignInError("provider_unavailable", status=502)
        if result.status != 200:
            raise SignInError("token_refused", provider_error=str(body.get("error", "")))
        if str(body.get("token_type", "")).lower() != "bearer" or not all(
            isinstance(body.get(name), str) and body[name] for name in ("access_token", "id_token")
        ):
            raise SignInError("provider_unavailable", status=502)
        return body

    def validate_id_token(self, id_token: str, *, nonce: str) -> dict:
        """Signature (RS256, key by `kid` from the JWKS), then iss, aud, exp, iat, nonce (Core §3.1.3.7)."""

        def key_for(token) -> KeySet:
            keys = self._jwks(refresh=False)
            kid = token.headers().get("kid")
            if kid and not any(key.kid == kid for key in keys):
                keys = self._jwks(refresh=True)
            return keys

        try:
            token = jwt.decode(id_token, key_for, algorithms=ID_TOKEN_ALGORITHMS)
        except (BadSignatureError, InvalidKeyIdError):
            raise SignInError("id_token_signature") from None
        except (JoseError, ValueError, TypeError, KeyError):
            raise SignInError("id_token_invalid") from None
        claims = token.claims
        registry = jwt.JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY_SECONDS,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise SignInError("id_token_expired") from None
        except (InvalidClaimError, MissingClaimError) as exc:
            by_claim = {"iss": "issuer_mismatch", "aud": "audience_mismatch", "nonce": "nonce_mismatch"}
            raise SignInError(by_claim.get(exc.claim, "id_token_invalid")) from None
        # Core §3.1.3.7 (4–5): with several audiences, the token must name us as the authorized party.
        if isinstance(claims["aud"], list) and len(claims["aud"]) > 1 and claims.get("azp") != self.client_id:
            raise SignInError("audience_mismatch")
        return claims

    def fetch_userinfo(self, access_token: str) -> dict:
        status, body = self._get_json(
            self.metadata().userinfo_endpoint, headers={"Authorization": f"Bearer {access_token}"}
        )
        if status != 200 or not isinstance(body, dict):
            raise SignInError("userinfo_failed", status=502)
        return body


# --- Request level -----------------------------------------------------------------------------------------
def provider_issuer(request: HttpRequest) -> str:
    """settings.GBIZID_ISSUER, or the development provider on this request's own host."""
    if settings.GBIZID_ISSUER:
        return settings.GBIZID_ISSUER.rstrip("/")
    if getattr(settings, "DEV_IDP_ENABLED", False):
        try:
            discovery = reverse("devidp:discovery")
        except NoReverseMatch:
            raise SignInError("not_configured", status=503) from None
        return request.build_absolute_uri(discovery).removesuffix(DISCOVERY_PATH)
    raise SignInError("not_configured", status=503)


def client_for(request: HttpRequest, transport: Transport | None = None) -> GBizIdClient:
    if not settings.GBIZID_CLIENT_ID or not settings.GBIZID_CLIENT_SECRET:
        raise SignInError("not_configured", status=503)
    return GBizIdClient(
        issuer=provider_issuer(request),
        client_id=settings.GBIZID_CLIENT_ID,
        client_secret=settings.GBIZID_CLIENT_SECRET,
        scopes=list(settings.GBIZID_SCOPES),
        transport=transport or default_transport(),
    )


def sign_in_begin(request: HttpRequest, *, redirect_uri: str, next_url: str = "") -> str:
    """Start a sign-in: remember it in the session (replacing any unfinished one) and return the URL to go to."""
    url, pending = client_for(request).begin(redirect_uri=redirect_uri, next_url=next_url)
    request.session[SESSION_KEY] = asdict(pending)
    return url


def sign_in_complete(request: HttpRequest) -> SignInResult:
    """Finish the sign-in the session remembers with the callback's query. The pending sign-in is removed
    first, so that a callback can be used once, whether it succeeds or not."""
    stored = request.session.pop(SESSION_KEY, None)
    try:
        pending = PendingSignIn(**stored)
    except TypeError:
        raise SignInError("no_sign_in") from None
    if time.time() - pending.started_at > FLOW_SECONDS:
        raise SignInError("no_sign_in")
    client = client_for(request)
    if client.issuer != pending.issuer:
        raise SignInError("no_sign_in")
    return client.complete(pending, request.GET)

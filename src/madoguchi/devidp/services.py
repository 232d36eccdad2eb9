"""The provider's protocol logic: clients, the signing key, codes, tokens and the claims each scope releases.

Errors are `OAuthError` with the RFC 6749 error code; the views turn them into JSON or redirects. Codes and
tokens are random 256-bit values handed out once; only their SHA-256 hashes are stored.
"""

import base64
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone
from joserfc import jwt
from joserfc.jwk import RSAKey

from madoguchi.devidp.models import AccessToken, AuthorizationCode, DemoAccount, RegisteredClient, SigningKey

CODE_SECONDS = 5 * 60  # GビズID: an authorization code lives 5 minutes
ACCESS_TOKEN_SECONDS = 3600  # GビズID: an access token lives one hour
ID_TOKEN_SECONDS = 10 * 60
SUPPORTED_SCOPES = ("openid", "profile", "user", "email")
SIGNING_ALG = "RS256"
# RFC 7636 §4.1: code_verifier = 43*128unreserved
CODE_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


class OAuthError(Exception):
    """An RFC 6749 error: `error` is the code a client acts on, `description` is for its developer."""

    def __init__(self, error: str, description: str, *, status: int = 400):
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("ascii", "replace")).hexdigest()


def s256(code_verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))) without padding."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# --- Clients -----------------------------------------------------------------------------------------------
@transaction.atomic
def client_register(*, client_id: str, secret: str, name: str, redirect_uris: list[str]) -> RegisteredClient:
    """Create the client, or bring an existing one up to date (new secret; redirect URIs added). Idempotent."""
    client = RegisteredClient.objects.select_for_update().filter(client_id=client_id).first()
    if client is None:
        return RegisteredClient.objects.create(
            client_id=client_id,
            secret_hash=make_password(secret),
            name=name,
            redirect_uris=list(redirect_uris),
        )
    changed = []
    if not check_password(secret, client.secret_hash):
        client.secret_hash = make_password(secret)
        changed.append("secret_hash")
    missing = [uri for uri in redirect_uris if uri not in client.redirect_uris]
    if missing:
        client.redirect_uris = [*client.redirect_uris, *missing]
        changed.append("redirect_uris")
    if client.name != name:
        client.name = name
        changed.append("name")
    if changed:
        client.save(update_fields=changed)
    return client


def client_by_id(client_id: str) -> RegisteredClient | None:
    return RegisteredClient.objects.filter(client_id=client_id).first()


def client_authenticate(*, client_id: str, secret: str) -> RegisteredClient:
    client = client_by_id(client_id)
    if client is None:
        make_password(secret)  # spend a hash's time anyway: timing must not tell which client IDs exist
        raise OAuthError("invalid_client", "Client authentication failed.", status=401)
    if not check_password(secret, client.secret_hash):
        raise OAuthError("invalid_client", "Client authentication failed.", status=401)
    return client


# --- Signing key -------------------------------------------------------------------------------------------
def signing_key() -> RSAKey:
    """The newest signing key, generated (RSA 2048) and stored the first time it is needed."""
    row = SigningKey.objects.first()
    if row is None:
        key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": SIGNING_ALG}, auto_kid=True)
        row = SigningKey.objects.create(kid=key.kid, private_jwk=key.as_dict(private=True))
    return RSAKey.import_key(row.private_jwk)


def public_jwks() -> dict:
    if not SigningKey.objects.exists():
        signing_key()
    return {
        "keys": [
            RSAKey.import_key(row.private_jwk).as_dict(private=False) for row in SigningKey.objects.all()
        ]
    }


# --- Authorization codes -----------------------------------------------------------------------------------
def authorization_code_issue(
    *,
    client: RegisteredClient,
    account: DemoAccount,
    redirect_uri: str,
    scope: str,
    nonce: str,
    code_challenge: str,
) -> str:
    """Record a code for the account the user picked and return the raw code (shown only in the redirect)."""
    now = timezone.now()
    code = secrets.token_urlsafe(32)
    AuthorizationCode.objects.create(
        code_hash=_hash(code),
        client=client,
        account=account,
        redirect_uri=redirect_uri,
        scope=scope,
        nonce=nonce,
        code_challenge=code_challenge,
        auth_time=now,
        expires_at=now + timedelta(seconds=CODE_SECONDS),
    )
    return code


@dataclass(frozen=True)
class TokenResponse:
    access_token: str
    id_token: str
    scope: str

    def as_dict(self) -> dict:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "id_token": self.id_token,
            "scope": self.scope,
        }


def token_exchange(
    *, client: RegisteredClient, code: str, redirect_uri: str, code_verifier: str, issuer: str
) -> TokenResponse:
    """grant_type=authorization_code. Raises OAuthError("invalid_grant") for any code that may not be used.

    The code is claimed by a conditional UPDATE before anything else is checked, so that of two requests with
    the same code only one can win, and so that a failed attempt (wrong verifier, wrong redirect URI) also
    burns the code. Presenting a used code again revokes the tokens it produced (RFC 6749 §4.1.2).
    """
    now = timezone.now()
    row = AuthorizationCode.objects.select_related("account").filter(code_hash=_hash(code)).first()
    if row is None or row.client_id != client.pk:
        raise OAuthError("invalid_grant", "The authorization code is not valid for this client.")
    claimed = AuthorizationCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now)
    if not claimed:
        AccessToken.objects.filter(code=row, revoked_at__isnull=True).update(revoked_at=now)
        raise OAuthError("invalid_grant", "The authorization code has already been used.")
    if row.expires_at <= now:
        raise OAuthError("invalid_grant", "The authorization code has expired.")
    if redirect_uri != row.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request.")
    if row.code_challenge:
        if not code_verifier:
            raise OAuthError("invalid_grant", "code_verifier is required (PKCE).")
        if not CODE_VERIFIER.match(code_verifier):
            raise OAuthError("invalid_grant", "code_verifier must be 43–128 unreserved characters (PKCE).")
        if not secrets.compare_digest(s256(code_verifier), row.code_challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge (PKCE).")
    elif code_verifier:
        raise OAuthError("invalid_grant", "code_verifier was sent but the authorization request had no PKCE.")

    access_token = secrets.token_urlsafe(32)
    AccessToken.objects.create(
        token_hash=_hash(access_token),
        client=client,
        account=row.account,
        code=row,
        scope=row.scope,
        expires_at=now + timedelta(seconds=ACCESS_TOKEN_SECONDS),
    )
    return TokenResponse(
        access_token=access_token,
        id_token=id_token_sign(
            issuer=issuer,
            client_id=client.client_id,
            account=row.account,
            nonce=row.nonce,
            auth_time=row.auth_time,
        ),
        scope=row.scope,
    )


def id_token_sign(*, issuer: str, client_id: str, account: DemoAccount, nonce: str, auth_time) -> str:
    """The ID token carries no personal data, as GビズID's: sub, aud, iss, exp, iat, auth_time, nonce, jti."""
    key = signing_key()
    now = int(timezone.now().timestamp())
    claims = {
        "iss": issuer,
        "sub": account.subject,
        "aud": client_id,
        "exp": now + ID_TOKEN_SECONDS,
        "iat": now,
        "auth_time": int(auth_time.timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if nonce:
        claims["nonce"] = nonce
    return jwt.encode({"alg": SIGNING_ALG, "kid": key.kid}, claims, key, algorithms=[SIGNING_ALG])


# --- Userinfo ----------------------------------------------------------------------------------------------
def userinfo(*, access_token: str) -> dict:
    """The claims the token's scopes release. Raises OAuthError("invalid_token", status=401)."""
    now = timezone.now()
    token = (
        AccessToken.objects.select_related("account")
        .filter(token_hash=_hash(access_token), revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if token is None:
        raise OAuthError("invalid_token", "The access token is unknown, expired or revoked.", status=401)
    return account_claims(token.account, token.scope.split())


def account_claims(account: DemoAccount, scopes: list[str]) -> dict:
    """Claim names follow the GビズID scopes: `profile` (the business), `user` (the person), `email`."""
    claims: dict = {"sub": account.subject}
    if "profile" in scopes:
        claims.update(
            {
                "account_type": str(account.account_type),
                "corp_type": str(account.corp_type),
                "name": account.corporate_name,
                "prefecture": account.prefecture,
                "address": account.address,
                "representative_name": account.representative_name,
            }
        )
        if account.corporate_number:
            claims["corporate_number"] = account.corporate_number
    if "user" in scopes:
        claims.update(
            {
                "user_name": account.user_name,
                "user_department": account.user_department,
                "user_phone": account.user_phone,
            }
        )
    if "email" in scopes and account.email:
        claims["email"] = account.email
    return claims

"""The development provider's endpoints, driven with Django's test client: each protocol rule and refusal."""

import base64
import io
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from madoguchi.core.codes import is_valid_corporate_number
from madoguchi.devidp import demo, services
from madoguchi.devidp.models import AccessToken, AuthorizationCode, DemoAccount, RegisteredClient

ISSUER = "http://testserver/dev-idp"
ID_TOKEN_CLAIMS = {"sub", "aud", "iss", "exp", "iat", "auth_time", "nonce", "jti"}


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def authorization_params(dev_idp, **overrides) -> dict:
    verifier = overrides.pop("verifier", "v" * 50)
    params = {
        "response_type": "code",
        "client_id": dev_idp.client_id,
        "redirect_uri": dev_idp.redirect_uri,
        "scope": "openid profile user email",
        "state": "state-123",
        "nonce": "nonce-456",
        "code_challenge": services.s256(verifier),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def authorize_url(params: dict) -> str:
    return reverse("devidp:authorize") + "?" + urlencode(params)


def get_code(client: Client, dev_idp, account_key: str = "tech-prime", **overrides) -> str:
    params = authorization_params(dev_idp, **overrides)
    response = client.post(
        reverse("devidp:authorize"),
        {**params, "account": dev_idp.account(account_key).pk, "decision": "allow"},
    )
    assert response.status_code == 302, response.content
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["state"] == [params["state"]]
    assert query["iss"] == [ISSUER]
    return query["code"][0]


def exchange(
    client: Client, dev_idp, code: str, *, verifier: str = "v" * 50, secret: str | None = None, **extra
):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": dev_idp.redirect_uri}
    if verifier:
        data["code_verifier"] = verifier
    data.update(extra)
    return client.post(
        reverse("devidp:token"),
        urlencode(data),
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": basic(dev_idp.client_id, secret or dev_idp.client_secret)},
    )


# --- Metadata ----------------------------------------------------------------------------------------------
def test_discovery_names_every_endpoint_on_the_requests_host(client, db):
    doc = client.get("/dev-idp/.well-known/openid-configuration").json()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == ISSUER + "/oauth/authorize"
    assert doc["token_endpoint"] == ISSUER + "/oauth/token"
    assert doc["userinfo_endpoint"] == ISSUER + "/oauth/userinfo"
    assert doc["jwks_uri"] == ISSUER + "/jwks"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["token_endpoint_auth_methods_supported"] == ["client_secret_basic"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]


def test_jwks_publishes_the_public_key_only(client, db):
    keys = client.get("/dev-idp/jwks").json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & keys[0].keys()
    # Generated once: the same key is served again.
    assert client.get("/dev-idp/jwks").json()["keys"] == keys


# --- Authorization endpoint --------------------------------------------------------------------------------
def test_consent_page_lists_the_demo_accounts_in_an_accessible_form(client, dev_idp):
    response = client.get(authorize_url(authorization_params(dev_idp)))
    assert response.status_code == 200
    html = response.content.decode()
    assert "csrfmiddlewaretoken" in html
    assert "<fieldset" in html and "<legend" in html
    for account in dev_idp.accounts.values():
        assert f'value="{account.pk}"' in html
        assert account.corporate_name in html
    assert 'name="decision" value="allow"' in html and 'name="decision" value="deny"' in html


def test_consent_form_needs_the_csrf_token(dev_idp):
    browser = Client(enforce_csrf_checks=True)
    params = authorization_params(dev_idp)
    response = browser.post(
        reverse("devidp:authorize"),
        {**params, "account": dev_idp.account("tech-prime").pk, "decision": "allow"},
    )
    assert response.status_code == 403
    assert not AuthorizationCode.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "unknown-client"},
        {"client_id": None},
        {"redirect_uri": "http://evil.example/callback"},
        {"redirect_uri": None},
    ],
    ids=["unknown client", "no client", "unregistered redirect_uri", "no redirect_uri"],
)
def test_untrusted_client_or_redirect_uri_gets_an_error_page_never_a_redirect(client, dev_idp, overrides):
    response = client.get(authorize_url(authorization_params(dev_idp, **overrides)))
    assert response.status_code == 400
    assert "Location" not in response
    assert "devidp/error.html" in [t.name for t in response.templates]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"scope": "openid mandate-all"}, "invalid_scope"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"prompt": "none"}, "login_required"),
    ],
)
def test_other_errors_go_back_to_the_client_with_error_and_state(client, dev_idp, overrides, error):
    response = client.get(authorize_url(authorization_params(dev_idp, **overrides)))
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == dev_idp.redirect_uri
    query = parse_qs(location.query)
    assert query["error"] == [error]
    assert query["state"] == ["state-123"]
    assert "code" not in query


def test_repeated_parameter_is_refused(client, dev_idp):
    url = authorize_url(authorization_params(dev_idp)) + "&scope=openid"
    response = client.get(url)
    assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["invalid_request"]


def test_cancel_redirects_with_access_denied(client, dev_idp):
    params = authorization_params(dev_idp)
    response = client.post(reverse("devidp:authorize"), {**params, "decision": "deny"})
    assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["access_denied"]
    assert not AuthorizationCode.objects.exists()


def test_allow_without_an_account_shows_the_form_again(client, dev_idp):
    params = authorization_params(dev_idp)
    response = client.post(reverse("devidp:authorize"), {**params, "decision": "allow"})
    assert response.status_code == 400
    assert response.context["form"].errors["account"]


def test_code_is_stored_only_as_a_hash(client, dev_idp):
    code = get_code(client, dev_idp)
    row = AuthorizationCode.objects.get()
    assert code not in row.code_hash
    assert row.expires_at - row.created_at <= timedelta(minutes=5, seconds=1)


# --- Token endpoint ----------------------------------------------------------------------------------------
def test_token_response_and_id_token(client, dev_idp):
    code = get_code(client, dev_idp)
    response = exchange(client, dev_idp, code)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"] not in AccessToken.objects.get().token_hash

    keys = KeySet.import_key_set(client.get("/dev-idp/jwks").json())
    token = jwt.decode(body["id_token"], keys, algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    assert token.header["kid"] == keys.keys[0].kid
    # The ID token carries no personal data: exactly GビズID's claims.
    assert set(token.claims) == ID_TOKEN_CLAIMS
    assert token.claims["iss"] == ISSUER
    assert token.claims["aud"] == dev_idp.client_id
    assert token.claims["sub"] == dev_idp.account("tech-prime").subject
    assert token.claims["nonce"] == "nonce-456"
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER}, aud={"essential": True, "value": dev_idp.client_id}
    ).validate(token.claims)


def test_wrong_client_secret_is_invalid_client(client, dev_idp):
    code = get_code(client, dev_idp)
    response = exchange(client, dev_idp, code, secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")


def test_no_client_authentication_is_invalid_client(client, dev_idp):
    code = get_code(client, dev_idp)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": dev_idp.redirect_uri}
    response = client.post(reverse("devidp:token"), data)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_unsupported_grant_type(client, dev_idp):
    response = exchange(client, dev_idp, "x", grant_type="client_credentials")
    assert response.json()["error"] == "unsupported_grant_type"


def test_replayed_code_is_refused_and_revokes_the_tokens_it_gave(client, dev_idp):
    code = get_code(client, dev_idp)
    first = exchange(client, dev_idp, code).json()
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    assert client.get(reverse("devidp:userinfo"), headers=bearer).status_code == 200

    replay = exchange(client, dev_idp, code)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert client.get(reverse("devidp:userinfo"), headers=bearer).status_code == 401


def test_code_expires_after_five_minutes(client, dev_idp):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        code = get_code(client, dev_idp)
        traveller.shift(timedelta(minutes=5, seconds=1))
        response = exchange(client, dev_idp, code)
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "The authorization code has expired.",
    }


def test_code_is_good_just_before_five_minutes(client, dev_idp):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        code = get_code(client, dev_idp)
        traveller.shift(timedelta(minutes=4, seconds=59))
        assert exchange(client, dev_idp, code).status_code == 200


@pytest.mark.parametrize(
    "verifier", ["w" * 50, "", "short", "ｖ" * 50], ids=["wrong", "none", "too short", "not ASCII"]
)
def test_pkce_verifier_must_match_the_challenge(client, dev_idp, verifier):
    code = get_code(client, dev_idp)
    response = exchange(client, dev_idp, code, verifier=verifier)
    assert response.json()["error"] == "invalid_grant"
    assert "PKCE" in response.json()["error_description"]
    # A failed attempt burns the code: the right verifier no longer helps.
    assert exchange(client, dev_idp, code).json()["error"] == "invalid_grant"


def test_without_pkce_the_code_works_without_a_verifier(client, dev_idp):
    code = get_code(client, dev_idp, code_challenge=None, code_challenge_method=None)
    assert exchange(client, dev_idp, code, verifier="").status_code == 200


def test_redirect_uri_must_match_the_authorization_request(client, dev_idp):
    code = get_code(client, dev_idp)
    response = exchange(client, dev_idp, code, redirect_uri="http://testserver/elsewhere/")
    assert response.json()["error"] == "invalid_grant"


def test_code_of_another_client_is_refused(client, dev_idp):
    services.client_register(
        client_id="other", secret="other-secret", name="Other", redirect_uris=[dev_idp.redirect_uri]
    )
    code = get_code(client, dev_idp)
    response = client.post(
        reverse("devidp:token"),
        urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": dev_idp.redirect_uri,
                   "code_verifier": "v" * 50}),
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": basic("other", "other-secret")},
    )  # fmt: skip
    assert response.json()["error"] == "invalid_grant"
    # …and the code is still good for its own client.
    assert exchange(client, dev_idp, code).status_code == 200


def test_token_endpoint_takes_no_get(client, dev_idp):
    assert client.get(reverse("devidp:token")).status_code == 405


# --- Userinfo ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("openid", {"sub"}),
        ("openid profile", {"sub", "account_type", "corp_type", "corporate_number", "name", "prefecture",
                            "address", "representative_name"}),
        ("openid user", {"sub", "user_name", "user_department", "user_phone"}),
        ("openid email", {"sub", "email"}),
    ],
)  # fmt: skip
def test_userinfo_releases_claims_by_scope(client, dev_idp, scope, expected):
    code = get_code(client, dev_idp, scope=scope)
    access_token = exchange(client, dev_idp, code).json()["access_token"]
    response = client.get(reverse("devidp:userinfo"), headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code == 200
    assert set(response.json()) == expected


def test_userinfo_of_the_prime_account(client, dev_idp):
    code = get_code(client, dev_idp)
    access_token = exchange(client, dev_idp, code).json()["access_token"]
    info = client.get(reverse("devidp:userinfo"), headers={"Authorization": f"Bearer {access_token}"}).json()
    assert info["account_type"] == "2"
    assert info["corp_type"] == "1"
    assert info["name"] == "株式会社窓口テック"
    assert is_valid_corporate_number(info["corporate_number"])


def test_userinfo_needs_a_bearer_token(client, dev_idp):
    response = client.get(reverse("devidp:userinfo"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    response = client.get(
        reverse("devidp:userinfo"), headers={"Authorization": "Bearer " + secrets.token_urlsafe()}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_access_token_expires_after_an_hour(client, dev_idp):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        access_token = exchange(client, dev_idp, get_code(client, dev_idp)).json()["access_token"]
        bearer = {"Authorization": f"Bearer {access_token}"}
        traveller.shift(timedelta(seconds=3599))
        assert client.get(reverse("devidp:userinfo"), headers=bearer).status_code == 200
        traveller.shift(timedelta(seconds=2))
        response = client.get(reverse("devidp:userinfo"), headers=bearer)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


# --- Keys and demo data ------------------------------------------------------------------------------------
def test_every_stored_key_is_published_and_the_newest_signs(client, db):
    old = services.signing_key()
    new = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    from madoguchi.devidp.models import SigningKey

    SigningKey.objects.create(kid=new.kid, private_jwk=new.as_dict(private=True))
    kids = {k["kid"] for k in client.get("/dev-idp/jwks").json()["keys"]}
    assert kids == {old.kid, new.kid}
    assert services.signing_key().kid == new.kid


def test_load_demo_is_idempotent(db, settings):
    first = demo.load_demo(stdout=io.StringIO())
    second = demo.load_demo(stdout=io.StringIO())
    assert len(first) == len(second) == 4
    assert RegisteredClient.objects.count() == 1
    client = RegisteredClient.objects.get()
    assert client.client_id == settings.GBIZID_CLIENT_ID
    assert "http://localhost:8000/business/callback/" in client.redirect_uris
    assert "http://127.0.0.1:8000/business/callback/" in client.redirect_uris
    accounts = {a.key: a for a in DemoAccount.objects.all()}
    assert len(accounts) == 4
    prime, member = accounts["tech-prime"], accounts["tech-member"]
    assert prime.account_type == DemoAccount.AccountType.PRIME
    assert member.account_type == DemoAccount.AccountType.MEMBER
    assert prime.corporate_number == member.corporate_number
    assert is_valid_corporate_number(prime.corporate_number)
    assert accounts["minato-entry"].account_type == DemoAccount.AccountType.ENTRY
    assert is_valid_corporate_number(accounts["minato-entry"].corporate_number)
    assert accounts["minato-entry"].corporate_number != prime.corporate_number
    sole = accounts["yamada-prime"]
    assert sole.corp_type == DemoAccount.CorpType.SOLE_PROPRIETOR and sole.corporate_number == ""
    assert len({a.subject for a in accounts.values()}) == 4
